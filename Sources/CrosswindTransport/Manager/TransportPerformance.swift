import NIOCore

/// Per-transport performance figures kept by ``RealtimeManagerStateMachine`` (the seed's
/// `enablePerformanceMonitoring`). Read them with
/// ``RealtimeManagerStateMachine/performance(of:now:)``.
public struct TransportPerformance: Sendable, Equatable {
    /// Connection attempts started (`.open` actions), probes included.
    public internal(set) var attempts = 0
    /// Times the transport became the open, active transport (its welcome arrived, or a probe
    /// of it was switched to).
    public internal(set) var opens = 0
    /// Attempts that ended before their welcome: connect errors, rejected upgrades, attempts
    /// abandoned at the give-up deadline, probes that closed early.
    public internal(set) var connectFailures = 0
    /// Attempts whose connection came up but whose welcome (or, for a probe, catch-up) did not
    /// arrive in time.
    public internal(set) var confirmTimeouts = 0
    /// Open connections closed by the manager because nothing arrived for the heartbeat timeout.
    public internal(set) var heartbeatLosses = 0
    /// Open connections closed by the manager because heartbeats kept arriving late.
    public internal(set) var bufferingDetections = 0
    /// Open connections ended because their messages stayed far behind (see
    /// ``RealtimeManagerConfiguration/behindLatency``).
    public internal(set) var streamsBehind = 0
    /// Open connections that ended on their own (closed by the server or lost).
    public internal(set) var closedAfterOpen = 0
    /// Upgrade and latency probes started on this transport, and those the manager switched to.
    public internal(set) var probes = 0
    public internal(set) var probesSucceeded = 0
    /// Messages this transport delivered first (duplicates it brought are counted apart).
    public internal(set) var messagesDelivered = 0
    /// Messages this transport brought that had already been delivered.
    public internal(set) var duplicatesSuppressed = 0
    /// Message latencies reported for this transport (`.latencySample`).
    public internal(set) var latency = LatencySummary()
    /// Total time this transport was the open, active one (see
    /// ``RealtimeManagerStateMachine/performance(of:now:)``, which adds the
    /// running span of the current connection).
    public internal(set) var timeOpen: TimeAmount = .zero

    public init() {}

    /// Everything that went wrong with the transport, in one number.
    public var failures: Int {
        self.connectFailures + self.confirmTimeouts + self.heartbeatLosses + self.bufferingDetections + self.streamsBehind
            + self.closedAfterOpen
    }
}

/// Count, minimum, maximum and mean of latency samples.
public struct LatencySummary: Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var minimum: TimeAmount?
    public private(set) var maximum: TimeAmount?
    public private(set) var total: TimeAmount = .zero

    public init() {}

    public var mean: TimeAmount? {
        self.count == 0 ? nil : .nanoseconds(self.total.nanoseconds / Int64(self.count))
    }

    mutating func record(_ sample: TimeAmount) {
        self.count += 1
        self.minimum = min(self.minimum ?? sample, sample)
        self.maximum = max(self.maximum ?? sample, sample)
        let (sum, overflow) = self.total.nanoseconds.addingReportingOverflow(sample.nanoseconds)
        self.total = overflow ? .nanoseconds(Int64.max) : .nanoseconds(sum)
    }
}

/// Manager-wide counters: what happened to the message stream across every attempt and
/// transport, and to the client → server outbox.
public struct RealtimeManagerCounters: Sendable, Equatable {
    /// Messages handed to the application (`.deliver` actions).
    public internal(set) var delivered = 0
    /// Messages suppressed because they had been delivered already.
    public internal(set) var duplicatesSuppressed = 0
    /// Offsets skipped over by gaps (`.gap` actions), summed.
    public internal(set) var missing: UInt64 = 0
    /// `.recoveryIncomplete` actions: resumes the server could not complete, history resets.
    public internal(set) var recoveriesIncomplete = 0
    /// Inputs that belonged to an abandoned attempt (or a timer no longer armed) and were
    /// ignored, as designed.
    public internal(set) var staleInputsIgnored = 0
    /// Client → server messages dropped from the outbox unacknowledged (it was full).
    public internal(set) var sendsDropped = 0
    /// Client → server messages the server acknowledged.
    public internal(set) var sendsAcknowledged = 0
    /// `.methodChanged` actions, the initial choice included.
    public internal(set) var methodChanges = 0

    public init() {}
}

/// The last `capacity` latency samples of the open connection, for the threshold's median.
struct LatencyWindow: Sendable {
    private(set) var capacity: Int
    private var samples: [Int64] = []
    private var nextSlot = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.samples.reserveCapacity(self.capacity)
    }

    var isFull: Bool { self.samples.count == self.capacity }

    mutating func record(_ sample: TimeAmount) {
        if self.samples.count < self.capacity {
            self.samples.append(sample.nanoseconds)
        } else {
            self.samples[self.nextSlot] = sample.nanoseconds
        }
        self.nextSlot = (self.nextSlot + 1) % self.capacity
    }

    mutating func reset() {
        self.samples.removeAll(keepingCapacity: true)
        self.nextSlot = 0
    }

    /// The median (the upper one of the two middle samples for an even count); nil when empty.
    var median: TimeAmount? {
        guard !self.samples.isEmpty else { return nil }
        let sorted = self.samples.sorted()
        return .nanoseconds(sorted[sorted.count / 2])
    }
}
