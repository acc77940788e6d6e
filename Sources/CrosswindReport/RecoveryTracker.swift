/// Recovery as both worlds measure it, for one client.
///
/// An outage ends at a moment (a timeline `heal`; live, the moment the client's open
/// transport ended). The client has *recovered* once it has caught up: it holds every message
/// published before that moment and one published after it. A client that receives again but
/// trickles behind (a slow link draining the backlog, a gap it never fills) has not. The time
/// to the first delivery after the moment is kept beside it (`firstDeliveries`): it is what
/// the first sign of life costs, not what catching up costs.
///
/// Which messages were published before the moment: the simulator knows the last offset
/// published by then and says so (`lastBefore`); the live load generator does not, and
/// learns it from the first delivery whose publish time is after the moment (everything
/// before that offset counts as published before). A message without a publish time counts
/// as published after.
///
/// Calling contract: times on one clock in any unit (nanoseconds simulated, microseconds
/// live); durations come out in that unit. Call ``delivered(_:published:at:first:highest:holds:)``
/// after the client recorded each delivery, only while ``isWaiting`` (it costs nothing
/// otherwise).
public struct RecoveryTracker: Sendable {
    @usableFromInline
    struct Outage: Sendable {
        var endedAt: Int64
        /// The first offset published after `endedAt`, once known.
        var firstAfter: UInt64?
        var delivered: Bool
    }

    @usableFromInline
    private(set) var outages: [Outage] = []
    /// The first offset, from the first the client answers for, not known to be held.
    private var contiguousUntil: UInt64 = 0
    /// Per outage recovered from, in order of recovery: its recovery time.
    public private(set) var recoveries: [Int64] = []
    /// Per outage followed by a delivery, in order: the time to that first delivery.
    public private(set) var firstDeliveries: [Int64] = []

    public init() {}

    /// Whether an outage is still waiting for the client to catch up (inlined: the agents
    /// ask on every delivery).
    @inlinable
    public var isWaiting: Bool { !self.outages.isEmpty }

    /// Outages the client has not caught up from.
    public var unrecovered: Int { self.outages.count }

    /// An outage ended at `time`; `lastBefore` is the last offset published before it (0 when
    /// none was), nil when it is to be learnt from publish times.
    public mutating func outageEnded(at time: Int64, lastBefore: UInt64?) {
        self.outages.append(Outage(endedAt: time, firstAfter: lastBefore.map { $0 + 1 }, delivered: false))
    }

    /// The stream's offsets started again (a live server restarted with a new epoch): what
    /// the client held no longer says what it holds of the new stream, and a pending outage's
    /// first offset after its end is learnt again from publish times.
    public mutating func offsetsRestarted() {
        self.contiguousUntil = 0
        for index in self.outages.indices { self.outages[index].firstAfter = nil }
    }

    /// The client received `offset` (published at `published`, nil when unknown) at `time`,
    /// and now holds the offsets `holds` says, from `first` (the first it answers for) up to
    /// `highest` (the newest it holds).
    public mutating func delivered(_ offset: UInt64, published: Int64?, at time: Int64, first: UInt64, highest: UInt64, holds: (UInt64) -> Bool) {
        for index in self.outages.indices {
            if !self.outages[index].delivered {
                self.outages[index].delivered = true
                self.firstDeliveries.append(time - self.outages[index].endedAt)
            }
            if self.outages[index].firstAfter == nil, published.map({ $0 > self.outages[index].endedAt }) ?? true {
                // The first message known to be published after the moment: everything
                // published before it has a smaller offset.
                self.outages[index].firstAfter = offset
            }
        }
        self.contiguousUntil = max(self.contiguousUntil, first)
        while self.contiguousUntil <= highest && holds(self.contiguousUntil) { self.contiguousUntil += 1 }
        let contiguous = self.contiguousUntil
        self.outages.removeAll { outage in
            // Caught up: it holds everything before the first offset published after the
            // moment, and that offset or a later one.
            guard let firstAfter = outage.firstAfter, contiguous >= firstAfter, highest >= firstAfter else { return false }
            self.recoveries.append(time - outage.endedAt)
            return true
        }
    }
}
