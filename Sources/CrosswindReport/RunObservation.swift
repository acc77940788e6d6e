import CrosswindTransport
import NIOCore

/// What a run measured, in terms both worlds can fill: a simulated run from its client agents
/// and virtual time, a live run (`crosswind load`) from its managers' callbacks and the wall
/// clock. Expectations are evaluated against it (``evaluate(_:)``), and a ``Report``'s
/// summary blocks (clients, messages, latency, recovery, groups, switches) are derived from
/// it, so both worlds count, round and judge the same way.
///
/// It holds raw figures (histograms, unrounded arrival times); rounding for the report
/// happens once, where the report is built.
public struct RunObservation: Sendable, Equatable {
    /// One client: where it ended, how it got there, and what it received.
    ///
    /// The message and recovery figures are this client's share of the run's (the producer
    /// fills both); they say which clients broke an invariant (``failingClients(_:)``) and make
    /// the per-group blocks. A hand-made client without them counts as having been offered
    /// nothing.
    public struct Client: Sendable, Equatable {
        /// Its name in `switches[]` and `endedOn[]`, e.g. `office-3` or `load-12`.
        public var name: String
        /// The name of its group (one of ``RunObservation/groups``).
        public var group: String
        /// Whether it reached open (its welcome arrived) at some point in the run.
        public var connected: Bool
        /// The transport open at the end of the run; nil when none was.
        public var transport: TransportMethod?
        /// With nothing open at the end: the transport its manager was reconnecting after a
        /// routine end (a cut, a recycled stream), within the window it gives a transport to
        /// come back (``RealtimeManagerStateMachine/reconnecting(now:)``); nil otherwise. It
        /// counts as the transport it ends on.
        public var reconnecting: TransportMethod?
        /// Where it ends: the open transport, or the one it was reconnecting.
        public var endedOn: TransportMethod? { self.transport ?? self.reconnecting }
        /// From its start to its arrival on `transport` (the open that followed its last
        /// transport change), in milliseconds, unrounded; nil when nothing is open at the end
        /// or the times are unknown.
        public var arrivalMs: Double?
        /// Its transport changes in time order, the first its initial choice.
        public var switches: [Report.Switch]
        /// Messages offered to it, and the distinct ones it received.
        public var offered = 0
        public var delivered = 0
        /// Deliveries of a message it already had, and of one older than one it had.
        public var duplicated = 0
        public var reordered = 0
        /// The offsets offered to it that it never received, as ranges in offset order: the
        /// first ``RunObservation/missingRangesKept`` of them, and how many there are in all.
        public var missing: [ClosedRange<UInt64>] = []
        public var missingRangeCount = 0
        /// Per outage it recovered from, in order: the recovery time (see ``Report/Recovery``),
        /// in microseconds.
        public var recoveriesMicros: [UInt64] = []
        /// Per outage followed by a delivery, in order: from the outage's end (a heal; live,
        /// the end of an open transport) to the first delivery after it, in microseconds.
        public var firstDeliveriesMicros: [UInt64] = []
        /// Outages it had not recovered from at the end.
        public var unrecovered = 0
        /// Resumes it was told were incomplete (`recovered: false`).
        public var incompleteRecoveries = 0

        public init(name: String, group: String, connected: Bool, transport: TransportMethod?, arrivalMs: Double?, switches: [Report.Switch]) {
            self.name = name
            self.group = group
            self.connected = connected
            self.transport = transport
            self.arrivalMs = arrivalMs
            self.switches = switches
        }

        /// Sets the message figures from the offsets offered to it (`first...last`, none when
        /// `last < first`) and whether it holds each: delivered, and the missing ranges.
        public mutating func account(offered first: UInt64, through last: UInt64, duplicated: Int, reordered: Int, holds: (UInt64) -> Bool) {
            self.duplicated = duplicated
            self.reordered = reordered
            self.offered = 0
            self.delivered = 0
            self.missing = []
            self.missingRangeCount = 0
            self.accountMore(offered: first, through: last, holds: holds)
        }

        /// Adds the offsets `first...last` of another stretch of the stream (a live client's
        /// earlier epoch, before the server restarted) to the message figures ``account``
        /// set: offered, delivered and missing ranges accumulate.
        public mutating func accountMore(offered first: UInt64, through last: UInt64, holds: (UInt64) -> Bool) {
            guard last >= first else { return }
            self.offered += Int(last - first + 1)
            var gapStart: UInt64?
            for offset in first...last {
                if holds(offset) {
                    self.delivered += 1
                    if let start = gapStart { self.addMissing(start...(offset - 1)) }
                    gapStart = nil
                } else if gapStart == nil {
                    gapStart = offset
                }
            }
            if let start = gapStart { self.addMissing(start...last) }
        }

        private mutating func addMissing(_ range: ClosedRange<UInt64>) {
            self.missingRangeCount += 1
            if self.missing.count < RunObservation.missingRangesKept { self.missing.append(range) }
        }
    }

    /// How many missing ranges a client keeps (and the report lists); the rest are counted.
    public static let missingRangesKept = 20

    /// The client groups, in the order the report lists them (a live run has one).
    public var groups: [String]
    /// Every client, in the order the report lists their switches.
    public var clients: [Client]
    /// Messages each client should have received, summed over clients.
    public var offered: Int
    /// Distinct messages the clients' applications received (counted among the offered ones).
    public var delivered: Int
    /// Deliveries of a message the client already had.
    public var duplicated: Int
    /// Deliveries of a message older than one already delivered.
    public var reordered: Int
    /// Publish-to-delivery latency of every delivery, in microseconds.
    public var latency: LatencyHistogram
    /// Recovery time of every recovered outage (see ``Report/Recovery``), in microseconds.
    public var recoveries: LatencyHistogram
    /// From each outage's end to the first delivery after it, in microseconds.
    public var firstDeliveries = LatencyHistogram()
    /// Outages no delivery followed before the end.
    public var unrecovered: Int
    /// Resumes the managers reported as incomplete.
    public var incompleteRecoveries: Int
    /// Client → server messages; nil when the run sends none it can account for, in which
    /// case an expectation about them fails and says so.
    public var clientMessages: Report.ClientMessages?

    public init(
        groups: [String],
        clients: [Client],
        offered: Int,
        delivered: Int,
        duplicated: Int,
        reordered: Int,
        latency: LatencyHistogram,
        recoveries: LatencyHistogram,
        unrecovered: Int,
        incompleteRecoveries: Int,
        clientMessages: Report.ClientMessages?
    ) {
        self.groups = groups
        self.clients = clients
        self.offered = offered
        self.delivered = delivered
        self.duplicated = duplicated
        self.reordered = reordered
        self.latency = latency
        self.recoveries = recoveries
        self.unrecovered = unrecovered
        self.incompleteRecoveries = incompleteRecoveries
        self.clientMessages = clientMessages
    }
}

extension RunObservation.Client {
    /// A client from its own timeline, all on one clock: when it started connecting, when it
    /// arrived on `transport` (the transport open at the end, nil if none; or `reconnecting`,
    /// the one its manager was reconnecting then), and its transport changes, timed in the
    /// report from `runStart`.
    public init(
        name: String,
        group: String,
        connected: Bool,
        transport: TransportMethod?,
        reconnecting: TransportMethod? = nil,
        startedAt: NIODeadline?,
        arrivedAt: NIODeadline?,
        switches: [(at: NIODeadline, from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason)],
        runStart: NIODeadline
    ) {
        var arrivalMs: Double?
        if transport ?? reconnecting != nil, let arrivedAt, let startedAt {
            arrivalMs = Double((arrivedAt - startedAt).nanoseconds) / 1e6
        }
        self.init(
            name: name, group: group, connected: connected, transport: transport, arrivalMs: arrivalMs,
            switches: switches.map { change in
                Report.Switch(
                    client: name, atMs: round3(Double((change.at - runStart).nanoseconds) / 1e6),
                    from: change.from?.rawValue, to: change.to.rawValue, reason: change.reason.rawValue
                )
            }
        )
        self.reconnecting = transport == nil ? reconnecting : nil
    }
}
