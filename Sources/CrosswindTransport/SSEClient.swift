import NIOCore
import NIOHTTP1

/// Settings of an SSE client connection.
public struct SSEClientConfiguration: Sendable {
    /// Value of the `Host` header.
    public var host: String
    /// Topic to subscribe to.
    public var topic: String
    /// Path of the server's SSE endpoint.
    public var path = "/events"
    /// Resume after this cursor: sent as `Last-Event-ID`, exactly as a browser reconnects.
    public var resumeFrom: StreamCursor?
    /// With no event and no comment for this long, the stream counts as dead (or buffered).
    public var heartbeatTimeout: TimeAmount = .seconds(60)
    /// Parser bounds (a hostile server cannot make the client hold more).
    public var limits = SSEParser.Limits()

    /// A stable client id (see ``WebSocketClientConfiguration/clientID``).
    public var clientID: String?
    /// Path of the server's endpoint for client messages.
    public var sendPath = "/send"

    public init(host: String, topic: String) {
        self.host = host
        self.topic = topic
    }
}

/// An SSE client for one topic over NIOHTTP1: `GET /events` with `Accept: text/event-stream`
/// (and `Last-Event-ID` when resuming), a WHATWG ``SSEParser`` on the body, the server's
/// `welcome` event as the application round trip, `message` events delivered once and in
/// order, comments as heartbeats, and a watchdog that closes a silent stream.
///
/// A server that recycles the stream ends the response. On a connection that stays open
/// (HTTP/1.1 keep-alive) the client asks again on it after the advised `retry`, with its last
/// cursor as `Last-Event-ID`, as a browser's EventSource does from its connection pool; the
/// new response's welcome must resume where the stream left off (`recovered`, same epoch),
/// and the owner sees no interruption. When the connection ends with the response, or the
/// resumed stream cannot pick up where it stopped, the client reports `.connectionLost` with
/// its last cursor in ``lastCursor``; whoever owns it reconnects.
///
/// Calling contract: as ``WebSocketClient``.
public final class SSEClient: RealtimeTransportClient, @unchecked Sendable {
    private enum State {
        case idle
        /// Configured on a channel whose response has not begun.
        case connecting(any Channel)
        case streaming(any Channel)
        case open(any Channel)
        /// Open, between two responses of a recycled stream on the same connection: the next
        /// request is due (or sent) and its welcome has not arrived yet.
        case resuming(any Channel)
        case closed
    }

    public var method: TransportMethod { .sse }
    public var sideConnector: ((@escaping (any Channel) throws -> Void) -> Void)?
    /// Client messages, posted beside the stream or the polls.
    private let outgoing = SideSender()
    public let configuration: SSEClientConfiguration
    public weak var delegate: (any RealtimeClientDelegate)?
    // The client lives on its channel's event loop, so the properties touched per event opt
    // out of dynamic exclusivity checks (`@exclusivity(unchecked)`), which cost more than the
    // work they guard.
    /// Delivery bookkeeping within this connection.
    @exclusivity(unchecked) public private(set) var tracker: DeliveryTracker
    /// The `retry` the server advised, if any.
    public private(set) var advisedRetry: TimeAmount?
    @exclusivity(unchecked) private var parser: SSEParser
    @exclusivity(unchecked) private var state: State = .idle
    @exclusivity(unchecked) private var lastHeard: NIODeadline = .uptimeNanoseconds(0)
    private var watchdog: Scheduled<Void>?
    /// The next request of a recycled stream, due after the advised retry.
    private var resumption: Scheduled<Void>?
    /// The current response leaves the connection open for another request (HTTP/1.1 without
    /// `Connection: close`).
    private var responseKeepsConnection = false

    public init(configuration: SSEClientConfiguration, delegate: any RealtimeClientDelegate) {
        self.configuration = configuration
        self.delegate = delegate
        self.tracker = DeliveryTracker(last: configuration.resumeFrom)
        self.parser = SSEParser(limits: configuration.limits)
    }

    /// Posts a client message on a connection of its own (the session comes from the welcome).
    public func send(sequence: UInt64, data: ByteBuffer) {
        guard let connector = self.sideConnector else { return }
        self.outgoing.send(sequence: sequence, data: data, host: self.configuration.host, path: self.configuration.sendPath, connect: connector) { [weak self] sequence, time in
            guard let self else { return }
            self.delegate?.realtimeClient(self, acknowledged: sequence, at: time)
        }
    }

    public var isOpen: Bool {
        switch self.state {
        case .open, .resuming: return true
        case .idle, .connecting, .streaming, .closed: return false
        }
    }

    /// The cursor of the last message delivered (what a reconnect sends as Last-Event-ID).
    public var lastCursor: StreamCursor? { self.tracker.last }

    public func configure(_ channel: any Channel) throws {
        self.state = .connecting(channel)
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(SSEClientHandler(client: self))
    }

    public func close() {
        switch self.state {
        case .connecting(let channel), .streaming(let channel), .open(let channel), .resuming(let channel):
            self.fail(.closedByApplication, channel: channel)
        case .idle, .closed:
            self.state = .closed
        }
    }

    // MARK: Events from the handler

    func requestHead() -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.configuration.host)
        headers.add(name: "Accept", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache")
        // The tracker starts at `resumeFrom` and follows every delivered message, so a resumed
        // request on the same connection names the last one.
        if let cursor = self.tracker.last { headers.add(name: "Last-Event-ID", value: cursor.description) }
        var uri = "\(self.configuration.path)?topic=\(self.configuration.topic)"
        if let id = self.configuration.clientID { uri += "&client=\(id)" }
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
    }

    func responseHead(_ head: HTTPResponseHead, channel: any Channel) {
        let contentType = head.headers.first(name: "Content-Type") ?? ""
        let isStream = head.status == .ok && contentType.lowercased().hasPrefix("text/event-stream")
        self.responseKeepsConnection = head.version == .http1_1
            && !head.headers[canonicalForm: "Connection"].contains { $0.lowercased() == "close" }
        switch self.state {
        case .connecting:
            guard isStream else {
                self.fail(.upgradeRejected, channel: channel)
                return
            }
            self.state = .streaming(channel)
            self.heard(channel)
            self.scheduleWatchdog(channel)
        case .resuming:
            // The path carried this transport a moment ago: a refusal now is a lost stream.
            guard isStream else {
                self.fail(.connectionLost, channel: channel)
                return
            }
            self.heard(channel)
        case .idle, .streaming, .open, .closed:
            break
        }
    }

    func body(_ bytes: ByteBuffer, channel: any Channel) {
        switch self.state {
        case .streaming, .open, .resuming: break
        case .idle, .connecting, .closed: return
        }
        var bytes = bytes
        let outputs: [SSEParser.Output]
        do {
            outputs = try self.parser.feed(&bytes)
        } catch {
            self.fail(.protocolViolation("\(error)"), channel: channel)
            return
        }
        self.heard(channel)
        for output in outputs {
            guard !self.isClosed else { return }
            switch output {
            case .comment:
                if self.isOpen { self.delegate?.realtimeClient(self, heartbeatAt: channel.eventLoop.now) }
            case .retry(let milliseconds):
                self.advisedRetry = .milliseconds(Int64(min(milliseconds, 86_400_000)))
            case .event(let event):
                self.handle(event, channel: channel)
            }
        }
    }

    private func handle(_ event: ServerSentEvent, channel: any Channel) {
        guard let frame = WireFrame.decode(event.dataBytes) else {
            self.fail(.protocolViolation("undecodable \(event.type) event"), channel: channel)
            return
        }
        let now = channel.eventLoop.now
        switch (frame, self.state) {
        case (.welcome(let welcome), .streaming):
            guard event.type == "welcome", welcome.topic == self.configuration.topic else {
                self.fail(.protocolViolation("bad welcome"), channel: channel)
                return
            }
            self.tracker.expect(epoch: welcome.epoch, next: welcome.next)
            self.state = .open(channel)
            self.outgoing.eventLoop = channel.eventLoop
            self.outgoing.session = welcome.session
            self.delegate?.realtimeClient(self, opened: welcome, at: now)
        case (.welcome(let welcome), .resuming(let channel)):
            // The same stream, continued: it must pick up right after the last message. If
            // the server cannot (another epoch, a replay window passed), the owner reconnects
            // and hears that welcome itself.
            guard event.type == "welcome", welcome.topic == self.configuration.topic, welcome.recovered,
                let last = self.tracker.last, last.epoch == welcome.epoch, welcome.next == last.offset &+ 1
            else {
                self.fail(.connectionLost, channel: channel)
                return
            }
            self.state = .open(channel)
            // The server closed the ended stream's session: client messages (and any that
            // failed meanwhile, flushed now) go under the new one.
            self.outgoing.session = welcome.session
        case (.message(let message), .open):
            if self.tracker.accept(epoch: message.epoch, offset: message.offset) != .duplicate {
                self.delegate?.realtimeClient(self, received: message, at: now)
            }
        case (.error(let reason), _):
            self.fail(.protocolViolation("server error: \(reason)"), channel: channel)
        case (.send, _), (.ack, _):
            self.fail(.protocolViolation("unexpected \(event.type) event"), channel: channel)
        case (.message, _):
            self.fail(.protocolViolation("message before welcome"), channel: channel)
        case (.welcome, _):
            self.fail(.protocolViolation("unexpected second welcome"), channel: channel)
        }
    }

    func responseEnd(channel: any Channel) {
        // The server recycled (or ended) the stream. On a connection that stays open, ask
        // again on it after the advised retry; otherwise the owner reconnects from lastCursor.
        self.parser.endOfStream()
        switch self.state {
        case .open(let channel) where self.responseKeepsConnection:
            self.state = .resuming(channel)
            self.resumption = channel.eventLoop.scheduleTask(in: self.advisedRetry ?? .seconds(1)) { [self] in
                guard case .resuming = self.state else { return }
                channel.write(HTTPClientRequestPart.head(self.requestHead()), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        case .streaming, .open, .resuming:
            self.fail(.connectionLost, channel: channel)
        case .idle, .connecting, .closed:
            break
        }
    }

    func failed(_ error: any Error, channel: any Channel) {
        if case .connecting = self.state, isConnectionRefused(error) {
            self.finish(.connectionRefused, channel: channel)
            return
        }
        switch self.state {
        case .connecting, .streaming, .open, .resuming:
            self.finish(.connectionFailed(String(describing: error)), channel: channel)
        case .idle, .closed:
            break
        }
    }

    func inactive(channel: any Channel) {
        switch self.state {
        case .connecting:
            self.finish(.connectionFailed("closed before the response"), channel: channel)
        case .streaming, .open, .resuming:
            self.finish(.connectionLost, channel: channel)
        case .idle, .closed:
            break
        }
    }

    private var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    private func fail(_ reason: ClientCloseReason, channel: any Channel) {
        self.finish(reason, channel: channel)
        channel.close(promise: nil)
    }

    private func finish(_ reason: ClientCloseReason, channel: any Channel) {
        if case .closed = self.state { return }
        self.state = .closed
        self.watchdog?.cancel()
        self.watchdog = nil
        self.resumption?.cancel()
        self.resumption = nil
        self.delegate?.realtimeClient(self, closed: reason, at: channel.eventLoop.now)
    }

    // MARK: Watchdog

    private func heard(_ channel: any Channel) {
        self.lastHeard = channel.eventLoop.now
    }

    private func scheduleWatchdog(_ channel: any Channel) {
        let due = self.lastHeard + self.configuration.heartbeatTimeout
        self.watchdog = channel.eventLoop.scheduleTask(deadline: due) { [self] in
            guard !self.isClosed else { return }
            if channel.eventLoop.now - self.lastHeard >= self.configuration.heartbeatTimeout {
                self.fail(.heartbeatTimeout, channel: channel)
            } else {
                self.scheduleWatchdog(channel)
            }
        }
    }
}

/// Sends the SSE request when the connection becomes active and feeds the response to the client.
final class SSEClientHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let client: SSEClient

    init(client: SSEClient) {
        self.client = client
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(self.wrapOutboundOut(.head(self.client.requestHead())), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    /// The channel, kept from `handlerAdded` to `handlerRemoved`: every body part needs it, and
    /// `context.channel` costs a pipeline lookup and reference counting each time.
    private var channel: (any Channel)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.channel = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = self.channel ?? context.channel
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.client.responseHead(head, channel: channel)
        case .body(let bytes): self.client.body(bytes, channel: channel)
        case .end: self.client.responseEnd(channel: channel)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.client.failed(error, channel: context.channel)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.client.inactive(channel: context.channel)
        context.fireChannelInactive()
    }
}
