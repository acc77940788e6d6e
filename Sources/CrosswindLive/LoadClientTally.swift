import CrosswindReport
import CrosswindTransport
import NIOCore

/// What one `crosswind load` client saw, kept by its manager's delegate and by a byte
/// counter at the head of each of its connections.
///
/// Calling contract: confined to the client's event loop (the manager's); the load generator
/// moves it through its phases and reads it there. `@unchecked Sendable` only so the loop's
/// closures can carry it.
final class LoadClientTally: RealtimeManagerDelegate, @unchecked Sendable {
    /// Where the run is, as far as this client's accounting goes.
    enum Phase {
        /// Ramp-up: connections and welcomes; deliveries only move the starting point.
        case warmUp
        /// The measured window: deliveries, latency and outages count.
        case window
        /// After the window: messages still in flight and recoveries still count; new
        /// outages do not (they would have no time to recover).
        case drain
        /// Measuring is over; nothing changes any more.
        case done
    }

    let name: String
    /// The manager this tally listens to (weak on both sides: the load generator holds both).
    weak var manager: RealtimeCommunicationManager?
    var phase = Phase.warmUp

    /// When `start()` was called, on the loop's clock.
    var startedAt: NIODeadline?
    /// Whether the client reached open at some point.
    private var connected = false
    /// When the client first opened the transport it opened last (reconnects on the same
    /// transport do not move it), as a simulated agent counts it.
    private var arrivedOnCurrentAt: NIODeadline?
    private var lastOpenedMethod: TransportMethod?
    private var switches: [(at: NIODeadline, from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason)] = []

    /// The epoch of the stream the offsets below count in (nil before the first delivery).
    private var epoch: UInt64?
    /// Every offset of `epoch` delivered, with the size of its `data`.
    private var seen: [UInt64: Int] = [:]
    /// The newest offset of `epoch` delivered.
    private(set) var highest: UInt64 = 0
    /// The first offset of `epoch` this client is accountable for: the one after the newest
    /// it had before the window, the first it received in the window, or 1 when the server
    /// restarted during the window (an epoch's offsets start at 1, and the restarted
    /// server's messages before the client's snapshot were published while it was away).
    private var firstOffset: UInt64?
    /// Earlier epochs' accounts, closed when a restarted server's new epoch reached this
    /// client in the measured window: what it held of each, from its first accountable offset.
    private var closedEpochs: [(epoch: UInt64, seen: [UInt64: Int], first: UInt64, highest: UInt64)] = []
    private var duplicated = 0
    private var reordered = 0
    private var latency = LatencyHistogram()

    /// Whether the manager was open the last time we looked.
    private var open = false
    /// Recovery from each end of an open transport in the window, in wall-clock µs: until the
    /// client holds every message published before it and one published after it.
    private var recovery = RecoveryTracker()
    private var incompleteRecoveries = 0
    /// TCP payload bytes this client's sockets wrote (handed to the socket) and read, until
    /// measuring ends.
    var bytesUp = 0
    var bytesDown = 0

    init(name: String) {
        self.name = name
    }

    /// Enters the measured window: from here on the client answers for every message after
    /// the newest it already has.
    func startWindow() {
        self.phase = .window
        if !self.seen.isEmpty { self.firstOffset = self.highest + 1 }
    }

    /// One client's share of the report, read on its loop once it is done.
    struct Figures: Sendable {
        var client: RunObservation.Client
        var performance: [TransportMethod: TransportPerformance]
        var offered: Int
        var delivered: Int
        var goodputBytes: Int
        var duplicated: Int
        var reordered: Int
        var latency: LatencyHistogram
        var recoveries: LatencyHistogram
        var firstDeliveries: LatencyHistogram
        var unrecovered: Int
        var incompleteRecoveries: Int
        var bytesUp: Int
        var bytesDown: Int
    }

    /// The newest offset delivered of each epoch this client accounts for (one, unless the
    /// server restarted during the window).
    var highestByEpoch: [UInt64: UInt64] {
        var highest: [UInt64: UInt64] = [:]
        for closed in self.closedEpochs { highest[closed.epoch] = max(highest[closed.epoch] ?? 0, closed.highest) }
        if let epoch = self.epoch { highest[epoch] = max(highest[epoch] ?? 0, self.highest) }
        return highest
    }

    /// What the client measured: messages from its first accountable offset to `newest` of
    /// their epoch (the newest any client had of it when the window closed; the newest any
    /// client got before a restart for an earlier epoch), where its manager ended, and its
    /// switches timed from `runStarted`. A message a server lost when it restarted counts as
    /// offered and missing: the client was told it could not be recovered
    /// (`incompleteRecoveries`), and the report says so rather than pretend it never existed.
    /// Call on the client's loop.
    func figures(group: String, runStarted: NIODeadline, newest: [UInt64: UInt64]) -> Figures {
        let transport = (self.manager?.isOpen ?? false) ? self.manager?.currentMethod : nil
        var performance: [TransportMethod: TransportPerformance] = [:]
        if let manager = self.manager {
            for method in TransportMethod.allCases { performance[method] = manager.state.performance(of: method, now: manager.eventLoop.now) }
        }
        var client = RunObservation.Client(
            name: self.name, group: group, connected: self.connected, transport: transport,
            startedAt: self.startedAt, arrivedAt: self.arrivedOnCurrentAt, switches: self.switches, runStart: runStarted
        )
        var goodput = 0
        let seen = self.seen
        if let first = self.firstOffset, let epoch = self.epoch {
            let last = newest[epoch] ?? self.highest
            client.account(offered: first, through: last, duplicated: self.duplicated, reordered: self.reordered) { seen[$0] != nil }
            for (offset, bytes) in seen where offset >= first && offset <= last { goodput += bytes }
        } else {
            client.account(offered: 1, through: 0, duplicated: self.duplicated, reordered: self.reordered) { _ in false }
        }
        for closed in self.closedEpochs {
            let last = newest[closed.epoch] ?? closed.highest
            client.accountMore(offered: closed.first, through: last) { closed.seen[$0] != nil }
            for (offset, bytes) in closed.seen where offset >= closed.first && offset <= last { goodput += bytes }
        }
        client.recoveriesMicros = self.recovery.recoveries.map { UInt64(max($0, 0)) }
        client.firstDeliveriesMicros = self.recovery.firstDeliveries.map { UInt64(max($0, 0)) }
        client.unrecovered = self.recovery.unrecovered
        client.incompleteRecoveries = self.incompleteRecoveries
        var recoveries = LatencyHistogram()
        for micros in client.recoveriesMicros { recoveries.record(micros: micros) }
        var firstDeliveries = LatencyHistogram()
        for micros in client.firstDeliveriesMicros { firstDeliveries.record(micros: micros) }
        return Figures(
            client: client,
            performance: performance,
            offered: client.offered, delivered: client.delivered, goodputBytes: goodput,
            duplicated: self.duplicated, reordered: self.reordered,
            latency: self.latency, recoveries: recoveries, firstDeliveries: firstDeliveries,
            unrecovered: client.unrecovered, incompleteRecoveries: self.incompleteRecoveries,
            bytesUp: self.bytesUp, bytesDown: self.bytesDown
        )
    }

    // MARK: RealtimeManagerDelegate

    func manager(_ manager: RealtimeCommunicationManager, deliver message: RealtimeMessage, at time: NIODeadline) {
        let published = Self.publishedMicros(message)
        let measuring = self.phase == .window || self.phase == .drain
        if message.epoch != self.epoch, self.phase != .done { self.epochChanged(to: message.epoch, measuring: measuring) }
        if measuring {
            if self.firstOffset == nil { self.firstOffset = message.offset }
            if self.seen[message.offset] != nil {
                self.duplicated += 1
            } else if message.offset < self.highest {
                self.reordered += 1
            }
            if let published {
                // Against the intended schedule: a late publisher or a slow client shows.
                self.latency.record(micros: UInt64(max(wallClockMicros() - published, 0)))
            }
        }
        if self.phase != .done {
            self.seen[message.offset] = message.data.readableBytes
            self.highest = max(self.highest, message.offset)
        }
        if measuring, self.recovery.isWaiting, manager.isOpen, let first = self.firstOffset {
            let seen = self.seen
            self.recovery.delivered(message.offset, published: published, at: wallClockMicros(), first: first, highest: self.highest) { seen[$0] != nil }
        }
    }

    /// A message of another epoch: the server restarted (or a first message). In the window,
    /// the old epoch's account is closed as it stands and the new one starts at offset 1;
    /// before it, the old one is simply forgotten.
    private func epochChanged(to epoch: UInt64, measuring: Bool) {
        if self.epoch != nil {
            if measuring, let first = self.firstOffset, let old = self.epoch {
                self.closedEpochs.append((old, self.seen, first, self.highest))
            }
            self.seen = [:]
            self.highest = 0
            self.firstOffset = measuring ? 1 : nil
            self.recovery.offsetsRestarted()
        }
        self.epoch = epoch
    }

    /// Against the publisher's stamp (wall clock), as the tally measures it.
    func manager(_ manager: RealtimeCommunicationManager, latencyOf message: RealtimeMessage, at time: NIODeadline) -> TimeAmount? {
        Self.publishedMicros(message).map { .microseconds(max(wallClockMicros() - $0, 0)) }
    }

    func manager(_ manager: RealtimeCommunicationManager, methodChangedFrom from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason, at time: NIODeadline) {
        guard self.phase != .done else { return }
        self.switches.append((time, from, to, reason))
    }

    func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline) {
        guard self.phase != .done else { return }
        self.connected = true
        self.open = true
        if method != self.lastOpenedMethod {
            self.arrivedOnCurrentAt = time
            self.lastOpenedMethod = method
        }
    }

    func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteAfter last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline) {
        guard self.phase != .done else { return }
        self.incompleteRecoveries += 1
    }

    // MARK: Outages

    /// One of the client's connections closed: if the manager was open and is not any more,
    /// its open transport just ended. (A probe or a failed attempt closing leaves it open.)
    /// The client recovers once it is open again and holds every message published before
    /// this moment and one published after it (``RecoveryTracker``, learning which came
    /// before from the publish stamps).
    func connectionClosed() {
        guard self.phase != .done, self.open, let manager = self.manager, !manager.isOpen else { return }
        self.open = false
        if self.phase == .window { self.recovery.outageEnded(at: wallClockMicros(), lastBefore: nil) }
    }

    /// The time the message was due to be published, in µs since 1970: `data.due` (µs) when
    /// the publisher states its schedule, else `data.ts` (ms); nil when it states neither.
    static func publishedMicros(_ message: RealtimeMessage) -> Int64? {
        guard let fields = JSONObjectScanner.scan(message.data) else { return nil }
        if let due = fields.unsigned("due") { return Int64(clamping: due) }
        if let stamp = fields.unsigned("ts") { return Int64(clamping: stamp) &* 1000 }
        return nil
    }
}

/// Counts the TCP payload a client's socket reads and writes, at the head of its pipeline,
/// and tells the tally when the connection closes.
final class SocketByteCounter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let tally: LoadClientTally

    init(tally: LoadClientTally) {
        self.tally = tally
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.tally.phase != .done { self.tally.bytesDown += self.unwrapInboundIn(data).readableBytes }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if self.tally.phase != .done {
            switch self.unwrapOutboundIn(data) {
            case .byteBuffer(let buffer): self.tally.bytesUp += buffer.readableBytes
            case .fileRegion(let region): self.tally.bytesUp += region.readableBytes
            }
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The transport's handlers behind this one tell the manager first.
        context.fireChannelInactive()
        self.tally.connectionClosed()
    }
}
