import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The former name of the server's settings.
public typealias WebSocketServerConfiguration = RealtimeServerConfiguration

/// Sets up a server channel: HTTP/1.1 (NIOHTTP1) with the WebSocket upgrader (NIOWebSocket)
/// for `/ws?topic=T[&cursor=C]`, and the plain HTTP endpoints (``HTTPRouter``): `/negotiate`,
/// SSE at `/events`, Custom Sync at `/sync`, errors for everything else.
///
/// The same function configures a simulated channel and a NIOPosix one.
public enum WebSocketServer {
    static let httpHandlerName = "crosswind.http"
    static let headGuardName = "crosswind.head-guard"
    static let headWatcherName = "crosswind.head-watcher"

    public static func configure(
        _ channel: any Channel,
        hub: TopicHub,
        configuration: WebSocketServerConfiguration = WebSocketServerConfiguration()
    ) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: configuration.maxFrameBytes,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                let (path, parameters) = queryParameters(of: head.uri)
                if let echo = configuration.echoPath, path == echo {
                    return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                }
                let cursor = parameters.first(where: { $0.0 == "cursor" })?.1
                // From a foreign origin or without a valid token the upgrade is declined, and the
                // router answers 403 or 401.
                if !configuration.allowsOrigin(head.headers) {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                if let authentication = configuration.authentication, case .failure = authentication.check(head, parameters) {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                guard path == configuration.webSocketPath else { return channel.eventLoop.makeSucceededFuture(nil) }
                // Several topics (`topics=`): refused here, the router says why.
                if parameters.contains(where: { $0.0 == "topics" }) {
                    guard case .success = MultiplexedSubscription.parse(parameters, cursorText: cursor, configuration: configuration) else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                }
                guard let topic = parameters.first(where: { $0.0 == "topic" })?.1,
                    configuration.serves(topic: topic[...]),
                    cursor.map({ StreamCursor(parsing: $0[...]) != nil }) ?? true
                else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, head in
                let (path, parameters) = queryParameters(of: head.uri)
                if let echo = configuration.echoPath, path == echo {
                    return channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: configuration.maxFrameBytes))
                        try sync.addHandler(WebSocketEchoHandler())
                    }
                }
                let cursorText = parameters.first(where: { $0.0 == "cursor" })?.1
                let topics: [String]
                var cursors = TopicCursors()
                let multiplexed = parameters.contains { $0.0 == "topics" }
                if multiplexed, case .success(let subscription) = MultiplexedSubscription.parse(parameters, cursorText: cursorText, configuration: configuration) {
                    (topics, cursors) = (subscription.topics, subscription.cursors)
                } else {
                    let topic = parameters.first(where: { $0.0 == "topic" })?.1 ?? ""
                    topics = [topic]
                    cursors[topic] = cursorText.flatMap { StreamCursor(parsing: $0[...]) }
                }
                let client = parameters.first(where: { $0.0 == "client" })?.1
                // Checked again (the clock has moved): the connection ends when the token does.
                let expiresIn = configuration.authentication.flatMap { authentication in
                    (try? authentication.check(head, parameters).get()).map { authentication.remaining($0) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketServerHandler(
                            topics: topics, cursors: cursors, client: client, hub: hub, log: configuration.log, expiresIn: expiresIn,
                            rateLimit: configuration.clientMessageRateLimit
                        )
                    )
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        let watch = RequestHeadWatch()
        try sync.addHandler(
            RequestHeadGuard(watch: watch, maxHeadBytes: configuration.maxRequestHeadBytes, timeout: configuration.requestHeadTimeout, log: configuration.log),
            name: Self.headGuardName
        )
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = configuration.maxRequestHeadBytes
        decoderLimits.maxHeaderListSize = configuration.maxRequestHeadBytes
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    // NIO removes its own HTTP handlers; ours must go too, or frames reach them.
                    for name in [Self.httpHandlerName, Self.headWatcherName, Self.headGuardName] {
                        if let handler = try? context.pipeline.syncOperations.context(name: name) {
                            _ = context.pipeline.syncOperations.removeHandler(context: handler)
                        }
                    }
                }
            ),
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits
        )
        let decoder = try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try sync.addHandler(RequestHeadWatcher(watch: watch), name: Self.headWatcherName, position: .after(decoder))
        try sync.addHandler(HTTPRouter(hub: hub, configuration: configuration), name: Self.httpHandlerName)
    }
}

/// One upgraded WebSocket connection on the server: sends the welcome (with `recovered`),
/// the replay of what the client missed since its cursor, then every live message of its
/// topic; answers pings; closes cleanly. A multiplexed connection (`topics=a,b`, cursor
/// `a@E:O,…`) sends a welcome per topic in the order asked, each topic's replay, then every
/// live message of any of them (each frame names its topic).
final class WebSocketServerHandler: ChannelInboundHandler, TopicSubscriber {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let topics: [String]
    private let cursors: TopicCursors
    private let hub: TopicHub
    private var context: ChannelHandlerContext?
    private var subscribed = false
    private let session: String
    /// The channel's writability as last announced (`channelWritabilityChanged`): read per
    /// message, where asking the channel costs a pipeline lookup and reference counting.
    private var channelIsWritable = true

    private let log: (@Sendable (String) -> Void)?
    /// How long the client's access token has left (nil without authentication).
    private let expiresIn: TimeAmount?
    private var expiry: Scheduled<Void>?
    /// Client messages this client may send (nil: no limit).
    private let rateLimit: ClientRateLimit?

    init(
        topics: [String], cursors: TopicCursors, client: String?, hub: TopicHub, log: (@Sendable (String) -> Void)?,
        expiresIn: TimeAmount? = nil, rateLimit: ClientRateLimit? = nil
    ) {
        self.log = log
        self.expiresIn = expiresIn
        self.rateLimit = rateLimit
        self.topics = topics
        self.cursors = cursors
        self.hub = hub
        // Client messages arrive on the socket itself; the session names the client for the hub.
        self.session = hub.openSession(client: client, topic: topics[0])
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channelIsWritable = context.channel.isWritable
        self.subscribed = true
        var replays: [[PublishedMessage]] = []
        for topic in self.topics {
            let resumption = self.hub.subscribe(self, to: topic, resumingFrom: self.cursors[topic], now: context.eventLoop.now)
            // The welcome names the first offset that follows it and the live end; the replay
            // (or snapshot) comes between.
            let next = resumption.replay.first?.offset ?? resumption.state.next
            let welcome = Welcome(
                topic: topic, epoch: resumption.state.epoch, next: next, recovered: resumption.recovered, live: resumption.live
            )
            let frame = WireFrame.encodeWelcome(welcome, allocator: context.channel.allocator)
            context.write(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: frame)), promise: nil)
            replays.append(resumption.replay)
        }
        for message in replays.joined() {
            context.write(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: message.json)), promise: nil)
        }
        context.flush()
        if let expiresIn = self.expiresIn {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.expiry = context.eventLoop.scheduleTask(in: expiresIn) { loopBound.value.tokenExpired() }
        }
    }

    /// The client's token has expired: closed with 1008 (policy violation) and a reason; the
    /// client reconnects with a fresh token and its cursor.
    private func tokenExpired() {
        guard let context = self.context, self.subscribed else { return }
        self.closeForPolicy(context, "token expired")
    }

    /// Closes with 1008 (policy violation) and `reason` (at most 123 bytes, as a close frame
    /// allows); unacknowledged client messages are the client's to resend.
    private func closeForPolicy(_ context: ChannelHandlerContext, _ reason: String) {
        guard self.subscribed else { return }
        self.log?("ws \(self.topics.joined(separator: ",")) session \(self.session): \(reason), closed with 1008")
        self.unsubscribe()
        var data = context.channel.allocator.buffer(capacity: 128)
        data.write(webSocketErrorCode: .policyViolation)
        data.writeString(String(decoding: reason.utf8.prefix(123), as: UTF8.self))
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.expiry?.cancel()
        self.unsubscribe()
        self.context = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.channelIsWritable = context.channel.isWritable
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.unsubscribe()
        context.fireChannelInactive()
    }

    private func unsubscribe() {
        guard self.subscribed else { return }
        self.subscribed = false
        for topic in self.topics { self.hub.unsubscribe(self, from: topic) }
        self.hub.closeSession(self.session)
    }

    func deliver(_ message: PublishedMessage) {
        guard let context = self.context, self.subscribed else { return }
        // A client that stopped reading fills its socket and then the channel's buffer (past
        // the high-water mark the channel is not writable): it is dropped with 1013 (try
        // again later) rather than holding memory for ever; it resumes from its cursor.
        guard self.channelIsWritable else {
            self.log?("ws \(self.topics.joined(separator: ",")) session \(self.session): client not reading, closed with 1013")
            self.unsubscribe()
            var data = context.channel.allocator.buffer(capacity: 2)
            data.writeInteger(UInt16(1013))
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: message.json)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(self.wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            self.unsubscribe()
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.write(webSocketErrorCode: code)
            // The handler is the pipeline's last: closing the channel closes from right here.
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .whenComplete { _ in channel.close(promise: nil) }
        case .text:
            if let limit = self.rateLimit, self.hub.throttle(session: self.session, limit: limit, now: context.eventLoop.now) != nil {
                return self.closeForPolicy(context, "rate limit: at most \(limit.ratePerSecond) messages per second (bursts of \(limit.burst))")
            }
            // A client message: handed to the hub once, acknowledged either way.
            guard case .send(let sequence, let data) = WireFrame.decode(frame.unmaskedData) else {
                self.log?("ws \(self.topics.joined(separator: ",")) session \(self.session): undecodable client frame (\(frame.length) bytes)")
                let error = WireFrame.encodeError("undecodable client frame", allocator: context.channel.allocator)
                context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: error)), promise: nil)
                return
            }
            switch self.hub.receive(session: self.session, sequence: sequence, data: data) {
            case .accepted(let acknowledged), .duplicate(let acknowledged):
                let ack = WireFrame.encodeAck(sequence: acknowledged, allocator: context.channel.allocator)
                context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: ack)), promise: nil)
            case .unknownSession:
                break
            }
        case .binary, .continuation, .pong:
            break
        default:
            break
        }
    }
}

