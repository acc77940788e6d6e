import NIOCore

/// Where a transport client connection is in its life. The wire-specific detail (the upgrade,
/// the response head, a continued SSE stream) lives in each client; every client moves through
/// these phases the same way, and the same events end it with the same reasons.
///
/// ```
/// idle ──configure──▶ connecting ──the wire answered──▶ answered ──welcome──▶ open
///   │                     │                                │                   │
///   └─────────────────────┴──────── fail / finish ─────────┴───────────────────┴──▶ closed
/// ```
enum ClientPhase {
    /// Created; no channel yet.
    case idle
    /// Configured on a channel whose connection (or first request) has not been answered.
    case connecting(any Channel)
    /// The wire answered — the WebSocket 101, an SSE `200 text/event-stream` — and the
    /// application welcome has not arrived yet. (Custom Sync has no such step: its first
    /// answer is its welcome.)
    case answered(any Channel)
    /// The welcome arrived: the transport is open.
    case open(any Channel)
    /// Ended; the delegate has heard why. Nothing follows.
    case closed

    /// The connection's channel while there is one.
    var channel: (any Channel)? {
        switch self {
        case .connecting(let channel), .answered(let channel), .open(let channel): return channel
        case .idle, .closed: return nil
        }
    }
}

/// The scheduled tasks of one client connection, by purpose, all cancelled when it ends.
struct ClientTimers {
    /// What a timer is for.
    enum Purpose: Int, CaseIterable {
        /// Liveness: the WebSocket ping and its pong deadline, the SSE silence watchdog.
        case liveness
        /// The next request on the connection: the next Custom Sync poll, the request that
        /// continues a recycled SSE stream.
        case nextRequest
    }

    /// The pending task of each purpose; a task clears its slot when it runs, so only pending
    /// ones are ever cancelled (cancelling costs the event loop a search of its queue).
    private var tasks: [Scheduled<Void>?] = Array(repeating: nil, count: Purpose.allCases.count)

    /// Keeps `task` for `purpose`, cancelling one still pending there.
    mutating func set(_ purpose: Purpose, _ task: Scheduled<Void>) {
        self.tasks[purpose.rawValue]?.cancel()
        self.tasks[purpose.rawValue] = task
    }

    /// The task of `purpose` is running: nothing is pending there any more.
    mutating func ran(_ purpose: Purpose) {
        self.tasks[purpose.rawValue] = nil
    }

    /// Cancels every pending task.
    mutating func cancelAll() {
        for index in self.tasks.indices {
            self.tasks[index]?.cancel()
            self.tasks[index] = nil
        }
    }
}

/// What a client keeps of its lifecycle: the phase, the delivery position within this
/// connection, and its timers.
struct ClientCore {
    var phase = ClientPhase.idle
    /// Delivery bookkeeping within this connection: starts at the resume cursor and follows
    /// every message handed on.
    var tracker: DeliveryTracker
    var timers = ClientTimers()

    init(resumeFrom: StreamCursor?) {
        self.tracker = DeliveryTracker(last: resumeFrom)
    }
}

/// The lifecycle every transport client shares, written once: opening on the welcome,
/// delivering once and in order, heartbeats, the ways a connection ends and the reasons the
/// owner hears. A client conforms, keeps a ``ClientCore``, and implements only its wire.
///
/// Calling contract: as ``RealtimeTransportClient`` — confined to the channel's event loop.
/// Delegate calls happen outside any access to `core`, so a delegate may call back into the
/// client (the manager sends client messages from `opened`).
protocol TransportClientLifecycle: RealtimeTransportClient {
    /// The phase, tracker and timers. Only this protocol's extension changes the phase.
    var core: ClientCore { get set }
    /// Why a connection that ends before its wire answered failed, in reports
    /// ("closed before the upgrade completed").
    static var closedBeforeAnswer: String { get }
    /// A reason for an error before the wire answered that is more specific than
    /// `.connectionRefused` / `.connectionFailed` (the WebSocket client's rejected upgrade); nil
    /// for the general rule.
    func reasonBeforeAnswer(for error: any Error) -> ClientCloseReason?
    /// Says goodbye on the wire before the application closes an answered or open connection
    /// (the WebSocket close frame). Most wires have nothing to say.
    func farewell(on channel: any Channel)
    /// An error reached one of the client's handlers; the handler closes the channel after.
    /// By default the lifecycle's rule (``failed(_:channel:)``); the WebSocket client first
    /// answers RFC 6455 violations with a close code.
    func caught(_ error: any Error, channel: any Channel)
}

extension TransportClientLifecycle {
    func reasonBeforeAnswer(for error: any Error) -> ClientCloseReason? { nil }
    func farewell(on channel: any Channel) {}
    func caught(_ error: any Error, channel: any Channel) { self.failed(error, channel: channel) }

    public var isOpen: Bool {
        if case .open = self.core.phase { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = self.core.phase { return true }
        return false
    }

    /// Installs nothing yet: records the channel the client was configured on.
    func beginConnecting(on channel: any Channel) {
        self.core.phase = .connecting(channel)
    }

    /// The wire answered (connecting → answered); false, and nothing changes, in any other phase.
    @discardableResult
    func answered(on channel: any Channel) -> Bool {
        guard case .connecting = self.core.phase else { return false }
        self.core.phase = .answered(channel)
        return true
    }

    /// The welcome arrived: the transport is open from the welcome's position on.
    func open(_ welcome: Welcome, on channel: any Channel) {
        self.core.tracker.expect(epoch: welcome.epoch, next: welcome.next)
        self.core.phase = .open(channel)
        self.delegate?.realtimeClient(self, opened: welcome, at: channel.eventLoop.now)
    }

    /// Every topic of a multiplexed connection has its welcome: the transport is open, and the
    /// owner hears one `opened` per topic, in the order the topics were asked for.
    func openMultiplexed(_ welcomes: [Welcome], on channel: any Channel) {
        self.core.phase = .open(channel)
        let now = channel.eventLoop.now
        for welcome in welcomes {
            guard !self.isClosed else { return }
            self.delegate?.realtimeClient(self, opened: welcome, at: now)
        }
    }

    /// Hands a message on unless this connection delivered it already.
    @inline(__always)
    func deliver(_ message: RealtimeMessage, at now: NIODeadline) {
        if self.core.tracker.accept(epoch: message.epoch, offset: message.offset) != .duplicate {
            self.delegate?.realtimeClient(self, received: message, at: now)
        }
    }

    /// Hands on a message of a multiplexed connection per its topic tracker's `decision`
    /// (``TopicTrackers/accept(_:)``): a duplicate is dropped, and a topic the connection did
    /// not subscribe to (nil) ends it as a protocol violation.
    func deliver(_ message: RealtimeMessage, decision: DeliveryTracker.Decision?, at now: NIODeadline, channel: any Channel) {
        switch decision {
        case nil:
            self.fail(.protocolViolation("message of topic '\(message.topic)', not subscribed"), channel: channel)
        case .duplicate?:
            break
        case .deliver?, .deliverAfterGap?, .newEpoch?:
            self.delegate?.realtimeClient(self, received: message, at: now)
        }
    }

    /// A sign of life without a message; the owner hears it once the transport is open.
    func heartbeat(at now: NIODeadline) {
        if self.isOpen { self.delegate?.realtimeClient(self, heartbeatAt: now) }
    }

    /// Runs `task` at `deadline` as the client's `purpose` timer (cancelled when it ends).
    func schedule(_ purpose: ClientTimers.Purpose, on loop: any EventLoop, at deadline: NIODeadline, _ task: @escaping @Sendable () -> Void) {
        let scheduled = loop.scheduleTask(deadline: deadline) { [self] in
            self.core.timers.ran(purpose)
            task()
        }
        self.core.timers.set(purpose, scheduled)
    }

    /// Runs `task` after `delay` as the client's `purpose` timer (cancelled when it ends).
    func schedule(_ purpose: ClientTimers.Purpose, on loop: any EventLoop, in delay: TimeAmount, _ task: @escaping @Sendable () -> Void) {
        self.schedule(purpose, on: loop, at: loop.now + delay, task)
    }

    // MARK: Ending

    public func close() {
        switch self.core.phase {
        case .connecting(let channel):
            // The connect (or the first request) is still under way: abandon it, so it cannot
            // open a session nobody reads after all.
            self.fail(.closedByApplication, channel: channel)
        case .answered(let channel), .open(let channel):
            self.farewell(on: channel)
            self.fail(.closedByApplication, channel: channel)
        case .idle, .closed:
            self.core.phase = .closed
        }
    }

    /// Ends with `reason` and closes the channel.
    func fail(_ reason: ClientCloseReason, channel: any Channel) {
        self.finish(reason, channel: channel)
        channel.close(promise: nil)
    }

    /// Ends with `reason` (the channel is closing already, or the caller closes it).
    func finish(_ reason: ClientCloseReason, channel: any Channel) {
        if case .closed = self.core.phase { return }
        self.core.phase = .closed
        self.core.timers.cancelAll()
        self.delegate?.realtimeClient(self, closed: reason, at: channel.eventLoop.now)
    }

    /// An error reached the client's handlers (the handler closes the channel).
    func failed(_ error: any Error, channel: any Channel) {
        switch self.core.phase {
        case .connecting:
            if let reason = self.reasonBeforeAnswer(for: error) {
                self.finish(reason, channel: channel)
            } else if isConnectionRefused(error) {
                self.finish(.connectionRefused, channel: channel)
            } else {
                self.finish(.connectionFailed(String(describing: error)), channel: channel)
            }
        case .answered, .open:
            self.finish(.connectionFailed(String(describing: error)), channel: channel)
        case .idle, .closed:
            break
        }
    }

    /// The channel went inactive.
    func inactive(channel: any Channel) {
        switch self.core.phase {
        case .connecting:
            self.finish(.connectionFailed(Self.closedBeforeAnswer), channel: channel)
        case .answered, .open:
            self.finish(.connectionLost, channel: channel)
        case .idle, .closed:
            break
        }
    }
}

/// A handler of a client's pipeline that reports to its client: errors end the connection
/// (the handler closes the channel), and the channel going inactive ends it too.
protocol TransportClientHandler: ChannelInboundHandler {
    associatedtype Client: TransportClientLifecycle
    var client: Client { get }
}

extension TransportClientHandler {
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.client.caught(error, channel: context.channel)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.client.inactive(channel: context.channel)
        context.fireChannelInactive()
    }
}

/// Why a client connection ended (or never opened).
public enum ClientCloseReason: Sendable, Equatable, CustomStringConvertible {
    /// TCP never connected or broke: reset, timed out (the text names which).
    case connectionFailed(String)
    /// The connect was answered with RST: nothing listens there, or a firewall rejects it.
    case connectionRefused
    /// The server answered the upgrade request with something other than 101, or with a 101
    /// that RFC 6455 §4.1 says to fail: a wrong `Sec-WebSocket-Accept`, no `Upgrade: websocket`
    /// or `Connection: Upgrade`, or an extension or subprotocol the client did not offer. For
    /// SSE: the answer was not a `200 text/event-stream`.
    case upgradeRejected
    /// No frame arrived within the heartbeat timeout after a ping: a half-open or dead path.
    case heartbeatTimeout
    /// The server sent a WebSocket close frame with this code.
    case serverClosed(code: UInt16)
    /// The connection ended without a close frame after it opened.
    case connectionLost
    /// The application closed the client.
    case closedByApplication
    /// The server sent a frame Crosswind could not understand, or one that breaks RFC 6455
    /// (the client then closed with 1002, 1007 or 1009).
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .connectionFailed(let detail): return "connection failed: \(detail)"
        case .connectionRefused: return "connection refused"
        case .upgradeRejected: return "upgrade rejected"
        case .heartbeatTimeout: return "heartbeat timeout"
        case .serverClosed(let code): return "server closed (\(code))"
        case .connectionLost: return "connection lost"
        case .closedByApplication: return "closed by application"
        case .protocolViolation(let detail): return "protocol violation: \(detail)"
        }
    }

    /// The name of its case, which names its ``code`` in traces: `connectionFailed`,
    /// `heartbeatTimeout` …
    public var name: String {
        switch self {
        case .connectionFailed: return "connectionFailed"
        case .connectionRefused: return "connectionRefused"
        case .upgradeRejected: return "upgradeRejected"
        case .heartbeatTimeout: return "heartbeatTimeout"
        case .serverClosed: return "serverClosed"
        case .connectionLost: return "connectionLost"
        case .closedByApplication: return "closedByApplication"
        case .protocolViolation: return "protocolViolation"
        }
    }

    /// A short stable code for traces and reports.
    public var code: Int64 {
        switch self {
        case .connectionFailed: return 1
        case .upgradeRejected: return 2
        case .heartbeatTimeout: return 3
        case .serverClosed: return 4
        case .connectionLost: return 5
        case .closedByApplication: return 6
        case .protocolViolation: return 7
        case .connectionRefused: return 8
        }
    }
}
