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
    let index: Int
    let group: Int
    let name: String
    /// The run owns its agents and outlives them.
    unowned(unsafe) let run: ExperimentRun

    private(set) var openedAt: NIODeadline?
    private(set) var closedAt: NIODeadline?
    private(set) var closeReason: ClientCloseReason?
    /// The first offset this client was offered (from its first welcome).
    private(set) var firstOffset: UInt64?
    @exclusivity(unchecked) private var seen: [Bool] = []
    @exclusivity(unchecked) private(set) var delivered = 0
    @exclusivity(unchecked) private(set) var duplicated = 0
    @exclusivity(unchecked) private(set) var reordered = 0
    @exclusivity(unchecked) private var highest: UInt64 = 0
    var client: (any RealtimeTransportClient)?
    /// Opens a new connection resuming after a cursor (set by the run).
    var reconnect: ((StreamCursor?) -> Void)?
    let traceComponent: UInt32
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
    /// Recovery from each heal: until the client holds every message published before it
    /// and one published after it (in nanoseconds of virtual time).
    @exclusivity(unchecked) private var recovery = RecoveryTracker()
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
        if self.firstOffset == nil { self.firstOffset = welcome.next }
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
        self.run.publishTime(of: message.offset).map { time - $0 }
    }

    func manager(_ manager: RealtimeCommunicationManager, methodChangedFrom from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason, at time: NIODeadline) {
        self.switches.append((time, from, to, reason))
        self.run.simulation.trace.record(time, self.traceComponent, self.run.kindSwitch, Int64(from.map { TransportMethod.allCases.firstIndex(of: $0)! } ?? -1), Int64(TransportMethod.allCases.firstIndex(of: to)!), Int64(MethodChangeReason.allCases.firstIndex(of: reason)!))
    }

    func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline) {
        if self.openedAt == nil { self.openedAt = time }
        if self.firstOffset == nil { self.firstOffset = welcome.next }
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

    private func record(_ message: RealtimeMessage, at time: NIODeadline) {
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
            self.recovery.delivered(
                message.offset, published: nil, at: Int64(time.uptimeNanoseconds), first: self.firstOffset ?? 1, highest: self.highest
            ) { Int($0) < seen.count && seen[Int($0)] }
        }
        let latency = self.run.recordDelivery(offset: message.offset, at: time, client: self)
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

    /// Messages this client should have received: every offset published from its first
    /// welcome on (all of them if it never opened).
    func offered(publishedThrough last: UInt64) -> Int {
        let first = self.firstOffset ?? 1
        return last >= first ? Int(last - first + 1) : 0
    }

    /// Its own figures for the report: messages (the missing offsets among those offered
    /// through `last`), recoveries and outages not recovered from.
    func account(_ client: inout RunObservation.Client, publishedThrough last: UInt64) {
        let seen = self.seen
        client.account(offered: self.firstOffset ?? 1, through: last, duplicated: self.duplicated, reordered: self.reordered) { offset in
            Int(offset) < seen.count && seen[Int(offset)]
        }
        client.recoveriesMicros = self.recovery.recoveries.map { UInt64(max($0 / 1000, 0)) }
        client.firstDeliveriesMicros = self.recovery.firstDeliveries.map { UInt64(max($0 / 1000, 0)) }
        client.unrecovered = self.unrecovered
    }
}
