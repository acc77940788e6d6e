import CrosswindTransport
import NIOCore
import Testing

// Helpers for the RealtimeManagerStateMachine scripts (Manager*Tests.swift). Names are
// distinctive (`.mt`, `.a1`, `.msg`) so they do not collide with other tests' helpers.

typealias ManagerAction = RealtimeManagerStateMachine.Action
typealias ManagerEvent = RealtimeManagerStateMachine.Event

extension NIODeadline {
    /// Script time: `milliseconds` after an arbitrary origin (1000 s of uptime).
    static func mt(_ milliseconds: Int64) -> NIODeadline {
        .uptimeNanoseconds(1_000_000_000_000) + .milliseconds(milliseconds)
    }
}

extension RealtimeManagerStateMachine.AttemptID {
    static let a1 = Self(1)
    static let a2 = Self(2)
    static let a3 = Self(3)
    static let a4 = Self(4)
    static let a5 = Self(5)
}

extension RealtimeMessage {
    /// A message of the test stream: topic `metrics`, epoch 7 unless told, data = the offset.
    static func msg(_ offset: UInt64, epoch: UInt64 = 7) -> RealtimeMessage {
        RealtimeMessage(topic: "metrics", epoch: epoch, offset: offset, data: ByteBuffer(string: "\(offset)"))
    }
}

extension StreamCursor {
    static func at(_ offset: UInt64, epoch: UInt64 = 7) -> StreamCursor {
        StreamCursor(epoch: epoch, offset: offset)
    }
}

/// A machine plus the invariant every script checks on every input: an input produces exactly
/// one `.methodChanged` when the current method changes (from the previous one, to the new
/// one) and none otherwise.
struct ManagerScript {
    var machine: RealtimeManagerStateMachine
    /// Every action so far, in order.
    private(set) var log: [ManagerAction] = []

    init(configuration: RealtimeManagerConfiguration = .init(), seed: UInt64 = 1, memory: TransportMemory = .init()) {
        self.machine = RealtimeManagerStateMachine(configuration: configuration, seed: seed, memory: memory)
    }

    /// Feeds `event` at script time `milliseconds`.
    mutating func callAsFunction(
        _ event: ManagerEvent,
        at milliseconds: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [ManagerAction] {
        self(event, at: NIODeadline.mt(milliseconds), sourceLocation: sourceLocation)
    }

    /// Feeds `event` at `now` (for deadlines drawn at random, to the nanosecond).
    mutating func callAsFunction(
        _ event: ManagerEvent,
        at now: NIODeadline,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [ManagerAction] {
        let before = self.machine.currentMethod
        let actions = self.machine.handle(event, now: now)
        let after = self.machine.currentMethod
        let changes = actions.compactMap { action -> (TransportMethod?, TransportMethod)? in
            if case .methodChanged(let from, let to, _) = action { return (from, to) }
            return nil
        }
        if let after, after != before {
            #expect(changes.count == 1, "one .methodChanged per switch", sourceLocation: sourceLocation)
            #expect(changes.first?.0 == before && changes.first?.1 == after, sourceLocation: sourceLocation)
        } else {
            #expect(changes.isEmpty, "no .methodChanged without a switch", sourceLocation: sourceLocation)
        }
        self.log += actions
        return actions
    }

    /// The reasons of every `.methodChanged` so far.
    var switches: [MethodChangeReason] {
        self.log.compactMap { action in
            if case .methodChanged(_, _, let reason) = action { return reason }
            return nil
        }
    }

    /// Keeps an open transport alive: a heartbeat every 25 s from `firstBeat` through
    /// `lastBeat` (on the transport's cadence; the previous traffic was one interval before
    /// `firstBeat`), with the liveness check fired whenever it is due, which then only moves
    /// itself forward to 35 s after the last heartbeat.
    mutating func keepAlive(
        _ attempt: RealtimeManagerStateMachine.AttemptID,
        firstBeat: Int64,
        lastBeat: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var lastHeard = firstBeat - 25_000
        var beat = firstBeat
        while beat <= lastBeat {
            if let due = self.machine.deadline(of: .heartbeatCheck(attempt)), due <= .mt(beat) {
                #expect(
                    self(.timerFired(.heartbeatCheck(attempt)), at: due)
                        == [.scheduleTimer(.heartbeatCheck(attempt), at: .mt(lastHeard + 35_000))],
                    sourceLocation: sourceLocation
                )
            }
            #expect(self(.heartbeat(attempt), at: beat) == [], sourceLocation: sourceLocation)
            lastHeard = beat
            beat += 25_000
        }
    }
}

/// The deadline of the `.scheduleTimer(id, at:)` among `actions`.
func scheduledDeadline(_ actions: [ManagerAction], _ id: RealtimeManagerStateMachine.TimerID) -> NIODeadline? {
    for case .scheduleTimer(let timer, let deadline) in actions where timer == id {
        return deadline
    }
    return nil
}

/// A memory in which the network "office" worked on `method` at script time 0.
func remembering(_ method: TransportMethod) -> TransportMemory {
    var memory = TransportMemory()
    memory.record(network: "office", method: method, at: .mt(0))
    return memory
}

extension RealtimeManagerConfiguration {
    /// The defaults with a backoff of zero: every retry (the reconnect after a stable
    /// connection ended included) is due the moment it is scheduled, so a script can follow a
    /// reconnect step by step at fixed times. The jitter has tests of its own.
    static var withoutBackoff: Self {
        var configuration = Self()
        configuration.backoff = FullJitterBackoff(base: .zero, cap: .zero)
        return configuration
    }

    /// The defaults on SSE, falling back to Custom Sync: the one transport whose heartbeats
    /// are judged for lateness (buffering).
    static var sseThenSync: Self {
        var configuration = Self()
        configuration.defaultMethod = .sse
        configuration.fallbackMethods = [.sync]
        return configuration
    }
}
