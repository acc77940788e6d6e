import CrosswindKernel
import CrosswindReport
import CrosswindTransport
import NIOCore

/// One simulated dashboard client: it opens its transport at its start time, receives the
/// topic's messages, and keeps its own independent account of what arrived (a bitmap of
/// offsets), so a bug in the transport's deduplication shows up as a duplicate or a
/// reordering in the report instead of being hidden by it.
///
/// Hot stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// the object is confined to the simulation loop and no property is mutated re-entrantly
/// (callbacks run outside any in-place mutation), and the checks cost about a tenth of a
/// 1000-client run.
final class ClientAgent: RealtimeClientDelegate, RealtimeManagerDelegate {
    // What every delivery reads and writes comes first, in two cache lines: in a fan-out to
    // thousands of clients each agent is touched once per message, long after the last time.
    /// The run owns its agents and outlives them.
    unowned(unsafe) let run: ExperimentRun
    @exclusivity(unchecked) private var seen: [Bool] = []
    @exclusivity(unchecked) private(set) var delivered = 0
    @exclusivity(unchecked) private(set) var duplicated = 0
    @exclusivity(unchecked) private(set) var reordered = 0
    @exclusivity(unchecked) private var highest: UInt64 = 0
    /// Recovery from each heal: until the client holds every message published before it
    /// and one published after it (in nanoseconds of virtual time).
    @exclusivity(unchecked) private var recovery = RecoveryTracker()
    /// The epoch the offsets below count in: the first welcome's, then each new one a
    /// restarted server's messages bring (nil before either).
    private var epoch: UInt64?
    /// The first offset of `epoch` this client answers for: from its first welcome, or 1 in
    /// the epoch of a server that restarted without its history (its messages before the
    /// client's snapshot were published while the client was away).
    private(set) var firstOffset: UInt64?
    let traceComponent: UInt32

    let index: Int
    let group: Int
    let name: String

    private(set) var openedAt: NIODeadline?
    private(set) var closedAt: NIODeadline?
    private(set) var closeReason: ClientCloseReason?
    /// Earlier epochs' accounts, closed when a restarted server's new epoch reached this
    /// client: what it held of each, from its first accountable offset.
    private var closedEpochs: [(epoch: UInt64, seen: [Bool], first: UInt64)] = []
    var client: (any RealtimeTransportClient)?
    /// Opens a new connection resuming after a cursor (set by the run).
    var reconnect: ((StreamCursor?) -> Void)?
    /// The manager, for groups that run one.
    var manager: RealtimeCommunicationManager?
    /// Whether this client's sends are on the schedule (once, whatever reconnects).
    var sendsScheduled = false
    /// When the client started connecting.
    var startedAt: NIODeadline?
    /// Every transport change the manager reported.
    private(set) var switches: [(at: NIODeadline, from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason)] = []
    /// When the client first opened the transport it opened last (reconnects on the same
    /// transport do not move it).
    private(set) var arrivedOnCurrentAt: NIODeadline?
    private var lastOpenedMethod: TransportMethod?
    /// Resumes the manager reported as incomplete.
    private(set) var incompleteRecoveries = 0
    /// Heals the client had not caught up from at the end.
    var unrecovered: Int { self.recovery.unrecovered }

    init(index: Int, group: Int, name: String, run: ExperimentRun) {
        self.index = index
        self.group = group
        self.name = name
        self.run = run
        self.traceComponent = run.simulation.trace.component("client:\(name)")
    }

    func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
        if self.openedAt == nil { self.openedAt = time }
        if self.arrivedOnCurrentAt == nil { self.arrivedOnCurrentAt = time }
        self.welcomed(welcome)
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindOpen, Int64(welcome.epoch), Int64(welcome.next))
    }

    func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
        self.record(message, at: time)
    }

    /// A fault was repaired at `time`: the client has recovered once it holds every message
    /// published so far and one published after now.
    func markHeal(at time: NIODeadline) {
        self.recovery.outageEnded(at: Int64(time.uptimeNanoseconds), lastBefore: self.run.lastPublishedOffset)
    }

    /// With nothing open: the transport the client's manager is reconnecting after a routine
    /// end, within the window it gives it (see ``RealtimeManagerStateMachine/reconnecting(now:)``).
    var reconnectingTransport: TransportMethod? {
        self.manager?.state.reconnecting(now: self.run.simulation.now)
    }

    /// The transport the client is open on now, if any.
    var currentTransport: TransportMethod? {
        if let manager = self.manager { return manager.isOpen ? manager.currentMethod : nil }
        if let client = self.client, client.isOpen { return client.method }
        return nil
    }

    // MARK: RealtimeManagerDelegate

    func manager(_ manager: RealtimeCommunicationManager, deliver message: RealtimeMessage, at time: NIODeadline) {
        self.record(message, at: time)
    }

    /// The testbed knows when every offset was published (virtual time).
    func manager(_ manager: RealtimeCommunicationManager, latencyOf message: RealtimeMessage, at time: NIODeadline) -> TimeAmount? {
        self.run.publishTime(epoch: message.epoch, offset: message.offset).map { time - $0 }
    }

    func manager(_ manager: RealtimeCommunicationManager, methodChangedFrom from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason, at time: NIODeadline) {
        self.switches.append((time, from, to, reason))
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindSwitch, Int64(from.map { TransportMethod.allCases.firstIndex(of: $0)! } ?? -1), Int64(TransportMethod.allCases.firstIndex(of: to)!), self.run.switchReasonCode(reason))
    }

    func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline) {
        if self.openedAt == nil { self.openedAt = time }
        self.welcomed(welcome)
        if method != self.lastOpenedMethod {
            self.arrivedOnCurrentAt = time
            self.lastOpenedMethod = method
        }
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindOpen, Int64(welcome.epoch), Int64(welcome.next))
    }

    func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteAfter last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline) {
        self.incompleteRecoveries += 1
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindRecoveryIncomplete, Int64(last.offset), Int64(resumesAt.offset))
    }

    // MARK: Accounting

    /// The first welcome says where the client starts (later ones change nothing: a resume
    /// continues the account, and a new epoch is taken up with its first message).
    private func welcomed(_ welcome: Welcome) {
        guard self.firstOffset == nil else { return }
        self.firstOffset = welcome.next
        if self.epoch == nil { self.epoch = welcome.epoch }
    }

    /// A message of another epoch: the server restarted without its history. The old epoch's
    /// account is closed as it stands and the new one starts at offset 1, so what the crash
    /// lost counts as lost (as `crosswind load` counts a live restart).
    private func epochChanged(to epoch: UInt64) {
        if let old = self.epoch {
            self.closedEpochs.append((old, self.seen, self.firstOffset ?? 1))
            self.seen = []
            self.highest = 0
            self.firstOffset = 1
            self.recovery.offsetsRestarted()
        }
        // (A first message before any welcome leaves the first offset to the welcome.)
        self.epoch = epoch
    }

    private func record(_ message: RealtimeMessage, at time: NIODeadline) {
        if message.epoch != self.epoch { self.epochChanged(to: message.epoch) }
        let offset = Int(message.offset)
        if offset >= self.seen.count {
            self.seen.append(contentsOf: repeatElement(false, count: max(offset + 1 - self.seen.count, 64)))
        }
        if self.seen[offset] {
            self.duplicated += 1
        } else {
            self.seen[offset] = true
            self.delivered += 1
            if message.offset < self.highest { self.reordered += 1 }
        }
        self.highest = max(self.highest, message.offset)
        if self.recovery.isWaiting {
            let seen = self.seen
            // The publish time matters only after a restart, when which offsets came before
            // the moment is learnt again (``RecoveryTracker/offsetsRestarted()``).
            let published = self.run.publishTime(epoch: message.epoch, offset: message.offset).map { Int64($0.uptimeNanoseconds) }
            self.recovery.delivered(
                message.offset, published: published, at: Int64(time.uptimeNanoseconds), first: self.firstOffset ?? 1, highest: self.highest
            ) { Int($0) < seen.count && seen[Int($0)] }
        }
        let latency = self.run.recordDelivery(epoch: message.epoch, offset: message.offset, at: time, client: self)
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindMessage, Int64(message.offset), latency)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, heartbeatAt time: NIODeadline) {
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindHeartbeat)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
        self.closedAt = time
        self.closeReason = reason
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindClose, reason.code)
        // An SSE stream whose connection ended (a recycle that closed it, a dropped connection)
        // is resumed the way EventSource does: after the advised retry, with the last event id,
        // on a new connection. (A recycle on a kept-alive connection never gets here: the
        // client asks again on it.) Other transports wait for the manager.
        if let sse = client as? SSEClient, reason == .connectionLost, let reconnect = self.reconnect {
            let cursor = sse.lastCursor
            self.run.simulation.schedule(at: time + (sse.advisedRetry ?? .seconds(1))) { reconnect(cursor) }
        }
    }

    /// Its own figures for the report: messages (the missing offsets among those offered),
    /// recoveries and outages not recovered from.
    ///
    /// Offered: every offset of its epoch published from its first welcome on (all of them if
    /// it never opened). After a restart without `persist`, each epoch it saw: the old one up
    /// to the last offset its server published before the crash, the new one from offset 1;
    /// and every epoch it never saw after its last one, whole.
    func account(_ client: inout RunObservation.Client) {
        client.account(offered: 1, through: 0, duplicated: self.duplicated, reordered: self.reordered) { _ in false }
        for closed in self.closedEpochs {
            let seen = closed.seen
            client.accountMore(offered: closed.first, through: self.run.lastPublished(in: closed.epoch)) { offset in
                Int(offset) < seen.count && seen[Int(offset)]
            }
        }
        let seen = self.seen
        let epochs = self.run.earlierEpochs.map(\.epoch) + [self.run.hub.epoch]
        // A client that never heard from the server answers for every epoch, the first on.
        let current = self.epoch ?? epochs[0]
        client.accountMore(offered: self.firstOffset ?? 1, through: self.run.lastPublished(in: current)) { offset in
            Int(offset) < seen.count && seen[Int(offset)]
        }
        if let position = epochs.lastIndex(of: current) {
            for later in epochs[(position + 1)...] {
                client.accountMore(offered: 1, through: self.run.lastPublished(in: later)) { _ in false }
            }
        }
        client.recoveriesMicros = self.recovery.recoveries.map { UInt64(max($0 / 1000, 0)) }
        client.firstDeliveriesMicros = self.recovery.firstDeliveries.map { UInt64(max($0 / 1000, 0)) }
        client.unrecovered = self.unrecovered
        client.incompleteRecoveries = self.incompleteRecoveries
    }
}
