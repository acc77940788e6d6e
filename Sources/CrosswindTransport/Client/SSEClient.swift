import NIOCore
import NIOHTTP1

/// Settings of an SSE client connection.
public struct SSEClientConfiguration: TransportClientConfiguration {
    public var subscription: ClientSubscription
    /// Path of the server's SSE endpoint. A resume sends the cursor as `Last-Event-ID`,
    /// exactly as a browser reconnects.
    public var path = "/events"
    /// With no event and no comment for this long, the stream counts as dead (or buffered).
    public var heartbeatTimeout: TimeAmount = .seconds(60)
    /// Parser bounds (a hostile server cannot make the client hold more).
    public var limits = SSEParser.Limits()
    /// Path of the server's endpoint for client messages.
    public var sendPath = "/send"
    /// Multiplexing: when this lists topics, the client follows all of them on this one stream
    /// (`topics=a,b,c`, see ``TopicCursors``) instead of `topic`, resuming each topic from its
    /// entry in `resumeFromEach`. Empty: the classic single-topic stream.
    public var topics: [String] = []
    /// Where each topic of a multiplexed stream resumes (topics without an entry start live).
    public var resumeFromEach = TopicCursors()

    public init(_ subscription: ClientSubscription) {
        self.subscription = subscription
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
/// Multiplexed (``SSEClientConfiguration/topics``), one stream carries several topics: the
/// client is open once every topic's welcome arrived (the delegate hears one `opened` per
/// topic), delivers each topic's messages once and in order with a tracker per topic, and
/// resumes them all with one `Last-Event-ID` naming every topic's position
/// (``lastCursors``).
///
/// Calling contract: as ``WebSocketClient``.
public final class SSEClient: PostsClientMessages, @unchecked Sendable {
    public var method: TransportMethod { .sse }
    public var sideConnector: ((@escaping (any Channel) throws -> Void) -> Void)?
    /// Client messages, posted beside the stream.
    let outgoing: SideSender
    public let configuration: SSEClientConfiguration
    public weak var delegate: (any RealtimeClientDelegate)?
    // The client lives on its channel's event loop, so the properties touched per event opt
    // out of dynamic exclusivity checks (`@exclusivity(unchecked)`), which cost more than the
    // work they guard.
    @exclusivity(unchecked) var core: ClientCore
    /// The `retry` the server advised, if any.
    public private(set) var advisedRetry: TimeAmount?
    @exclusivity(unchecked) private var parser: SSEParser
    @exclusivity(unchecked) private var lastHeard: NIODeadline = .uptimeNanoseconds(0)
    /// Open, between two responses of a recycled stream on the same connection: the next
    /// request is due (or sent) and its welcome has not arrived yet.
    @exclusivity(unchecked) private var continuing = false
    /// The current response leaves the connection open for another request (HTTP/1.1 without
    /// `Connection: close`).
    private var responseKeepsConnection = false
    /// Multiplexed: delivery bookkeeping per topic, and the welcomes that open a response.
    @exclusivity(unchecked) private var topicTrackers: TopicTrackers

    static let closedBeforeAnswer = "closed before the response"

    public init(configuration: SSEClientConfiguration, delegate: any RealtimeClientDelegate) {
        self.configuration = configuration
        self.delegate = delegate
        self.core = ClientCore(resumeFrom: configuration.resumeFrom)
        self.parser = SSEParser(limits: configuration.limits)
        self.topicTrackers = TopicTrackers(topics: configuration.topics, resumeFrom: configuration.resumeFromEach)
        self.outgoing = SideSender(host: configuration.host, path: configuration.sendPath, token: configuration.accessToken)
    }

    /// Delivery bookkeeping within this connection.
    public var tracker: DeliveryTracker { self.core.tracker }

    /// The cursor of the last message delivered (what a reconnect sends as Last-Event-ID).
    public var lastCursor: StreamCursor? { self.core.tracker.last }

    /// Multiplexed: the position of every topic that has one (what a reconnect resumes from).
    public var lastCursors: TopicCursors { self.topicTrackers.cursors }

    private var isMultiplexed: Bool { !self.configuration.topics.isEmpty }

    public func configure(_ channel: any Channel) throws {
        self.beginConnecting(on: channel)
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(SSEClientHandler(client: self))
    }

    // MARK: Events from the handler

    func requestHead() -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.configuration.host)
        headers.add(name: "Accept", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache")
        // The tracker starts at `resumeFrom` and follows every delivered message, so a resumed
        // request on the same connection names the last one.
        guard self.isMultiplexed else {
            if let cursor = self.core.tracker.last { headers.add(name: "Last-Event-ID", value: cursor.description) }
            return HTTPRequestHead(version: .http1_1, method: .GET, uri: self.configuration.target(), headers: headers)
        }
        let cursors = self.lastCursors
        if !cursors.isEmpty { headers.add(name: "Last-Event-ID", value: cursors.description) }
        var uri = "\(self.configuration.path)?topics=\(self.configuration.topics.joined(separator: ","))"
        if let id = self.configuration.clientID { uri += "&client=\(id)" }
        if let token = self.configuration.accessToken { uri += "&token=\(token)" }
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
    }

    func responseHead(_ head: HTTPResponseHead, channel: any Channel) {
        let contentType = head.headers.first(name: "Content-Type") ?? ""
        let isStream = head.status == .ok && contentType.lowercased().hasPrefix("text/event-stream")
        self.responseKeepsConnection = head.version == .http1_1
            && !head.headers[canonicalForm: "Connection"].contains { $0.lowercased() == "close" }
        switch self.core.phase {
        case .connecting:
            guard isStream else {
                self.fail(.upgradeRejected, channel: channel)
                return
            }
            self.answered(on: channel)
            self.heard(channel)
            self.scheduleWatchdog(channel)
            self.delegate?.realtimeClient(self, answeredAt: channel.eventLoop.now)
        case .open where self.continuing:
            // The path carried this transport a moment ago: a refusal now is a lost stream.
            guard isStream else {
                self.fail(.connectionLost, channel: channel)
                return
            }
            self.heard(channel)
        case .idle, .answered, .open, .closed:
            break
        }
    }

    func body(_ bytes: ByteBuffer, channel: any Channel) {
        switch self.core.phase {
        case .answered, .open: break
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
                // Between two responses of a continued stream, a comment is the new response's
                // prelude, not the server's heartbeat: its cadence starts with the welcome.
                if !self.continuing { self.heartbeat(at: channel.eventLoop.now) }
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
        if self.isMultiplexed {
            self.handleMultiplexed(frame, type: event.type, channel: channel)
            return
        }
        switch (frame, self.core.phase) {
        case (.welcome(let welcome), .answered):
            guard event.type == "welcome", welcome.topic == self.configuration.topic else {
                self.fail(.protocolViolation("bad welcome"), channel: channel)
                return
            }
            self.outgoing.opened(session: welcome.session, on: channel)
            self.open(welcome, on: channel)
        case (.welcome(let welcome), .open) where self.continuing:
            // The same stream, continued: it must pick up right after the last message. If
            // the server cannot (another epoch, a replay window passed), the owner reconnects
            // and hears that welcome itself.
            guard event.type == "welcome", welcome.topic == self.configuration.topic, welcome.recovered,
                let last = self.core.tracker.last, last.epoch == welcome.epoch, welcome.next == last.offset &+ 1
            else {
                self.fail(.connectionLost, channel: channel)
                return
            }
            self.continuing = false
            // The server closed the ended stream's session: client messages (and any that
            // failed meanwhile, flushed now) go under the new one.
            self.outgoing.session = welcome.session
            self.delegate?.realtimeClient(self, continuedStreamAt: channel.eventLoop.now)
        case (.message(let message), .open) where !self.continuing:
            self.deliver(message, at: channel.eventLoop.now)
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

    /// A frame of a multiplexed stream: welcomes by topic, messages through their topic's tracker.
    private func handleMultiplexed(_ frame: WireFrame, type: String, channel: any Channel) {
        switch (frame, self.core.phase) {
        case (.welcome(let welcome), .answered), (.welcome(let welcome), .open) where self.continuing:
            guard type == "welcome" else {
                self.fail(.protocolViolation("bad welcome"), channel: channel)
                return
            }
            switch self.topicTrackers.welcome(welcome, continuing: self.continuing) {
            case .waiting:
                break
            case .unexpected:
                self.fail(.protocolViolation("bad welcome"), channel: channel)
            case .discontinuous:
                // The continued stream cannot pick up every topic: the owner reconnects.
                self.fail(.connectionLost, channel: channel)
            case .complete where self.continuing:
                self.continuing = false
                self.outgoing.session = welcome.session
                self.delegate?.realtimeClient(self, continuedStreamAt: channel.eventLoop.now)
            case .complete(let welcomes):
                self.outgoing.opened(session: welcome.session, on: channel)
                self.openMultiplexed(welcomes, on: channel)
            }
        case (.message(let message), .open) where !self.continuing:
            let decision = self.topicTrackers.accept(message)
            self.deliver(message, decision: decision, at: channel.eventLoop.now, channel: channel)
        case (.error(let reason), _):
            self.fail(.protocolViolation("server error: \(reason)"), channel: channel)
        case (.send, _), (.ack, _):
            self.fail(.protocolViolation("unexpected \(type) event"), channel: channel)
        case (.message, _):
            self.fail(.protocolViolation("message before every welcome"), channel: channel)
        case (.welcome, _):
            self.fail(.protocolViolation("unexpected welcome"), channel: channel)
        }
    }

    func responseEnd(channel: any Channel) {
        // The server recycled (or ended) the stream. On a connection that stays open, ask
        // again on it after the advised retry; otherwise the owner reconnects from lastCursor.
        self.parser.endOfStream()
        switch self.core.phase {
        case .open(let channel) where !self.continuing && self.responseKeepsConnection:
            self.continuing = true
            self.schedule(.nextRequest, on: channel.eventLoop, in: self.advisedRetry ?? .seconds(1)) { [self] in
                guard self.continuing, self.isOpen else { return }
                channel.write(HTTPClientRequestPart.head(self.requestHead()), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        case .answered, .open:
            self.fail(.connectionLost, channel: channel)
        case .idle, .connecting, .closed:
            break
        }
    }

    // MARK: Watchdog

    private func heard(_ channel: any Channel) {
        self.lastHeard = channel.eventLoop.now
    }

    private func scheduleWatchdog(_ channel: any Channel) {
        let due = self.lastHeard + self.configuration.heartbeatTimeout
        self.schedule(.liveness, on: channel.eventLoop, at: due) { [self] in
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
final class SSEClientHandler: TransportClientHandler, ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let client: SSEClient

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
}
