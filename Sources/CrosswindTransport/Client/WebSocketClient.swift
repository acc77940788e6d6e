import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Settings of a WebSocket client connection.
public struct WebSocketClientConfiguration: TransportClientConfiguration {
    public var subscription: ClientSubscription
    /// Path of the server's WebSocket endpoint.
    public var path: String = "/ws"
    /// How often the client pings the server.
    public var heartbeatInterval: TimeAmount = .seconds(25)
    /// How long after a ping the client waits for any frame before declaring the connection dead.
    public var heartbeatTimeout: TimeAmount = .seconds(10)
    /// Largest frame accepted from the server.
    public var maxFrameBytes: Int = 1 << 20
    /// Multiplexing: when this lists topics, the client follows all of them on this one
    /// connection (`topics=a,b,c`, see ``TopicCursors``) instead of `topic`, resuming each topic
    /// from its entry in `resumeFromEach`. Empty: the classic single-topic connection.
    public var topics: [String] = []
    /// Where each topic of a multiplexed connection resumes (topics without an entry start live).
    public var resumeFromEach = TopicCursors()

    public init(_ subscription: ClientSubscription) {
        self.subscription = subscription
    }
}

/// A WebSocket client for one topic: the HTTP/1.1 upgrade (NIOHTTP1 + NIOWebSocket), the
/// welcome, in-order exactly-once delivery by offset, and a ping heartbeat. Multiplexed
/// (``WebSocketClientConfiguration/topics``), it opens once every topic is welcomed (one
/// `opened` per topic) and delivers each topic once and in order.
///
/// It holds to RFC 6455 as a client: it fails a 101 that names an extension or subprotocol it
/// did not offer; after the upgrade its pipeline is NIO's frame decoder (lengths, control
/// frames), ``ServerFrameValidator`` (reserved bits and opcodes, masked frames), NIO's frame
/// aggregator (fragments, with pings between them) and the client, which checks UTF-8 and
/// close frames. A violation is answered with a close frame (1002, 1007 or 1009) and the
/// connection is dropped; a valid close is answered with its code.
///
/// Randomness (the `Sec-WebSocket-Key` and every masking key) comes from the generator the
/// owner passes in, so a seeded generator makes the bytes on the wire reproducible. Both are
/// cut from the generator's raw 64-bit outputs (``requestKey(using:)``, ``maskingKey(using:)``)
/// rather than through NIO's or the standard library's random mappings, which may change how
/// they draw between releases and would change every trace with them.
///
/// Calling contract: create, `configure(_:)` a fresh channel before it connects, then leave
/// the rest to the channel's event loop. Confined to that loop; `@unchecked Sendable` only so
/// NIO's `@Sendable` upgrade and timer callbacks can carry it.
public final class WebSocketClient: TransportClientLifecycle, @unchecked Sendable {
    public var method: TransportMethod { .websocket }
    /// Not needed: WebSocket sends on its own connection.
    public var sideConnector: ((@escaping (any Channel) throws -> Void) -> Void)?
    public let configuration: WebSocketClientConfiguration
    public weak var delegate: (any RealtimeClientDelegate)?
    var core: ClientCore
    private var random: any RandomNumberGenerator
    private var heardSincePing = true
    private var pingCounter: UInt64 = 0
    /// Multiplexed: delivery bookkeeping per topic, and the welcomes that open the connection.
    private var topicTrackers: TopicTrackers

    static let requestWriterName = "crosswind.ws.request"
    static let closedBeforeAnswer = "closed before the upgrade completed"
    /// Fragments one message may have: bounds the aggregator's bookkeeping when a server
    /// sends a flood of empty fragments, which the size limit alone would not.
    static let maxFragmentsPerMessage = 4096

    public init(configuration: WebSocketClientConfiguration, random: any RandomNumberGenerator, delegate: any RealtimeClientDelegate) {
        self.configuration = configuration
        self.random = random
        self.delegate = delegate
        self.core = ClientCore(resumeFrom: configuration.resumeFrom)
        self.topicTrackers = TopicTrackers(topics: configuration.topics, resumeFrom: configuration.resumeFromEach)
    }

    /// Multiplexed: the position of every topic that has one (what a reconnect resumes from).
    public var lastCursors: TopicCursors { self.topicTrackers.cursors }

    /// Delivery bookkeeping (last cursor, duplicates suppressed, gaps).
    public var tracker: DeliveryTracker { self.core.tracker }

    /// Installs the HTTP client, the upgrader and the request writer on a channel that has not
    /// connected yet.
    public func configure(_ channel: any Channel) throws {
        self.beginConnecting(on: channel)
        let requestKey = Self.requestKey(using: &self.random)
        let upgrader = NIOWebSocketClientUpgrader(
            requestKey: requestKey,
            maxFrameSize: self.configuration.maxFrameBytes,
            // NIO's error handler would mask its close frame with the system generator; the
            // client answers protocol errors itself, with keys from its own stream.
            automaticErrorHandling: false,
            upgradePipelineHandler: { [self] channel, response in
                channel.eventLoop.makeCompletedFuture {
                    guard Self.acceptsUpgrade(response) else {
                        self.fail(.upgradeRejected, channel: channel)
                        return
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        ServerFrameValidator(),
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0,
                            maxAccumulatedFrameCount: Self.maxFragmentsPerMessage,
                            maxAccumulatedFrameSize: self.configuration.maxFrameBytes
                        ),
                        WebSocketClientHandler(client: self),
                    ])
                    if self.answered(on: channel) {
                        self.delegate?.realtimeClient(self, upgradedAt: channel.eventLoop.now)
                    }
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        try sync.addHTTPClientHandlers(
            leftOverBytesStrategy: .forwardBytes,
            withClientUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    if let writer = try? context.pipeline.syncOperations.context(name: Self.requestWriterName) {
                        _ = context.pipeline.syncOperations.removeHandler(context: writer)
                    }
                }
            )
        )
        try sync.addHandler(UpgradeRequestWriter(client: self), name: Self.requestWriterName)
    }

    /// The upgrade request's target: the subscription, and the cursor to resume after.
    func requestTarget() -> String {
        guard self.configuration.topics.isEmpty else {
            var uri = "\(self.configuration.path)?topics=\(self.configuration.topics.joined(separator: ","))"
            if let id = self.configuration.clientID { uri += "&client=\(id)" }
            if let token = self.configuration.accessToken { uri += "&token=\(token)" }
            let cursors = self.topicTrackers.cursors
            if !cursors.isEmpty { uri += "&cursor=\(cursors)" }
            return uri
        }
        var uri = self.configuration.target()
        if let cursor = self.configuration.resumeFrom { uri += "&cursor=\(cursor)" }
        return uri
    }

    /// Sends a client message as a text frame (masked, like every client frame).
    public func send(sequence: UInt64, data: ByteBuffer) {
        guard case .open(let channel) = self.core.phase else { return }
        let frame = WireFrame.encodeSend(sequence: sequence, data: data, allocator: channel.allocator)
        self.send(WebSocketFrame(fin: true, opcode: .text, data: frame), on: channel)
    }

    /// An application close starts with a normal close frame.
    func farewell(on channel: any Channel) {
        self.sendClose(code: 1000, on: channel)
    }

    // MARK: Events from the handlers

    /// RFC 6455 §4.1: the checks on a 101 that NIO's upgrader leaves to its user (it checks
    /// `Upgrade: websocket` and `Sec-WebSocket-Accept`). The client offers no extension and no
    /// subprotocol, so a 101 that selects one must fail.
    static func acceptsUpgrade(_ response: HTTPResponseHead) -> Bool {
        response.headers[canonicalForm: "Connection"].contains { $0.lowercased() == "upgrade" }
            && response.headers["Sec-WebSocket-Extensions"].isEmpty
            && response.headers["Sec-WebSocket-Protocol"].isEmpty
    }

    func received(frame: WebSocketFrame, channel: any Channel) {
        switch self.core.phase {
        case .answered, .open: break
        case .idle, .connecting, .closed: return  // the connection is being dropped: nothing more is read
        }
        self.heardSincePing = true
        switch frame.opcode {
        case .text where !isValidUTF8(frame.unmaskedData):
            self.failConnection(code: 1007, "text message is not UTF-8", channel: channel)
        case .text, .binary:
            guard let decoded = WireFrame.decode(frame.unmaskedData) else {
                self.fail(.protocolViolation("undecodable frame"), channel: channel)
                return
            }
            self.handle(decoded, channel: channel)
        case .ping:
            self.send(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData), on: channel)
        case .connectionClose:
            self.receivedClose(frame.unmaskedData, channel: channel)
        case .pong:
            self.heartbeat(at: channel.eventLoop.now)
        default:
            // The validator lets no other opcode through and the aggregator consumes
            // continuations; should one arrive anyway, it is a protocol error all the same.
            self.failConnection(code: 1002, "unexpected opcode \(frame.opcode)", channel: channel)
        }
    }

    /// RFC 6455 §5.5.1 and §7.4: a close frame is empty (reported as 1005, answered with 1000)
    /// or carries a valid code and a UTF-8 reason, and is answered with the same code; any
    /// other close frame is a protocol error.
    private func receivedClose(_ payload: ByteBuffer, channel: any Channel) {
        switch WebSocketCloseFrame(payload: payload) {
        case .empty:
            self.finish(.serverClosed(code: 1005), channel: channel)
            self.sendClose(code: 1000, on: channel)
        case .code(let code):
            self.finish(.serverClosed(code: code), channel: channel)
            self.sendClose(code: code, on: channel)
        case .invalid(let problem):
            self.failConnection(code: 1002, problem, channel: channel)
            return
        }
        channel.close(promise: nil)
    }

    private func handle(_ frame: WireFrame, channel: any Channel) {
        let now = channel.eventLoop.now
        switch (frame, self.core.phase) {
        case (.welcome(let welcome), .answered) where !self.configuration.topics.isEmpty:
            switch self.topicTrackers.welcome(welcome, continuing: false) {
            case .waiting:
                break
            case .unexpected, .discontinuous:
                self.fail(.protocolViolation("welcome for topic \(welcome.topic)"), channel: channel)
            case .complete(let welcomes):
                self.scheduleHeartbeat(channel)
                self.openMultiplexed(welcomes, on: channel)
            }
        case (.message(let message), .open) where !self.configuration.topics.isEmpty:
            let decision = self.topicTrackers.accept(message)
            self.deliver(message, decision: decision, at: now, channel: channel)
        case (.welcome(let welcome), .answered):
            guard welcome.topic == self.configuration.topic else {
                self.fail(.protocolViolation("welcome for topic \(welcome.topic)"), channel: channel)
                return
            }
            self.scheduleHeartbeat(channel)
            self.open(welcome, on: channel)
        case (.message(let message), .open):
            self.deliver(message, at: now)
        case (.ack(let sequence), .open):
            self.delegate?.realtimeClient(self, acknowledged: sequence, at: now)
        case (.error(let reason), _):
            self.fail(.protocolViolation("server error: \(reason)"), channel: channel)
        case (.send, _), (.ack, _):
            self.fail(.protocolViolation("unexpected frame from the server"), channel: channel)
        case (.message, _):
            self.fail(.protocolViolation("message before welcome"), channel: channel)
        case (.welcome, _):
            self.fail(.protocolViolation("unexpected second welcome"), channel: channel)
        }
    }

    /// Errors of the upgraded pipeline that are the server breaking RFC 6455 fail the
    /// WebSocket connection with a close code; the rest follow the lifecycle's rule.
    func caught(_ error: any Error, channel: any Channel) {
        if let code = Self.closeCode(for: error) {
            self.failConnection(code: code, "\(error)", channel: channel)
        } else {
            self.failed(error, channel: channel)
        }
    }

    /// Before the upgrade, a response that is not HTTP at all (say, a 101 without
    /// `Connection: Upgrade` followed by frames, which the HTTP decoder then reads as a second
    /// response) is no more an upgrade than a 200 is.
    func reasonBeforeAnswer(for error: any Error) -> ClientCloseReason? {
        error is NIOHTTPClientUpgradeError || error is HTTPParserError ? .upgradeRejected : nil
    }

    /// The close code for an error a handler of the upgraded pipeline raised, nil for errors
    /// that are not the server breaking RFC 6455: 1009 for a frame or message over
    /// `maxFrameBytes`, 1002 for the rest.
    static func closeCode(for error: any Error) -> UInt16? {
        switch error {
        case let error as NIOWebSocketError:
            return error == .invalidFrameLength ? 1009 : 1002
        case let error as NIOWebSocketFrameAggregator.Error:
            switch error {
            case .accumulatedFrameSizeIsTooLarge, .tooManyFragments: return 1009
            case .nonFinalFragmentSizeIsTooSmall, .receivedNewFrameWithoutFinishingPrevious,
                .didReceiveFragmentBeforeReceivingTextOrBinaryFrame:
                return 1002
            }
        case is ServerFrameViolation:
            return 1002
        default:
            return nil
        }
    }

    /// _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): a close frame with `code`, as NIO's
    /// automatic handling would send but masked with a key from the client's own stream, then
    /// the connection is dropped.
    private func failConnection(code: UInt16, _ detail: String, channel: any Channel) {
        switch self.core.phase {
        case .answered, .open:
            self.sendClose(code: code, on: channel)
            self.fail(.protocolViolation(detail), channel: channel)
        case .idle, .connecting, .closed:
            break
        }
    }

    /// Sends a close frame. Its callers then drop the connection at once: the closing
    /// handshake is complete (the client answered the server's close), abandoned (the client
    /// fails the connection) or left to the server (the application closed), and RFC 6455
    /// §7.1.1 lets a client close the TCP connection then. The frame is flushed first, so it
    /// leaves before the FIN.
    private func sendClose(code: UInt16, on channel: any Channel) {
        var data = channel.allocator.buffer(capacity: 2)
        data.writeInteger(code)
        self.send(WebSocketFrame(fin: true, opcode: .connectionClose, data: data), on: channel)
    }

    // MARK: Heartbeat

    private func scheduleHeartbeat(_ channel: any Channel) {
        self.schedule(.liveness, on: channel.eventLoop, in: self.configuration.heartbeatInterval) { [self] in
            self.sendPing(channel)
        }
    }

    private func sendPing(_ channel: any Channel) {
        guard self.isOpen else { return }
        self.pingCounter += 1
        self.heardSincePing = false
        var payload = channel.allocator.buffer(capacity: 8)
        payload.writeInteger(self.pingCounter)
        self.send(WebSocketFrame(fin: true, opcode: .ping, data: payload), on: channel)
        self.schedule(.liveness, on: channel.eventLoop, in: self.configuration.heartbeatTimeout) { [self] in
            guard self.isOpen else { return }
            if self.heardSincePing {
                let remaining = self.configuration.heartbeatInterval - self.configuration.heartbeatTimeout
                self.schedule(.liveness, on: channel.eventLoop, in: max(remaining, .zero)) { [self] in
                    self.sendPing(channel)
                }
            } else {
                self.fail(.heartbeatTimeout, channel: channel)
            }
        }
    }

    /// Client frames are masked with a key from the owner's generator (RFC 6455 §5.3).
    private func send(_ frame: WebSocketFrame, on channel: any Channel) {
        var masked = frame
        masked.maskKey = Self.maskingKey(using: &self.random)
        channel.writeAndFlush(masked, promise: nil)
    }

    /// A `Sec-WebSocket-Key`: 16 bytes, base64 (RFC 6455 §4.1), taken from two raw outputs of
    /// the generator, least significant byte first.
    static func requestKey(using random: inout any RandomNumberGenerator) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            let word = random.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Self.base64(bytes)
    }

    /// Standard base64 with padding (RFC 4648 §4).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group = UInt32(bytes[index]) << 16
            if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { group |= UInt32(bytes[index + 2]) }
            for position in 0..<4 {
                out.append(position <= count ? alphabet[Int((group >> UInt32(18 - 6 * position)) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A frame's masking key: the low 32 bits of one raw output, least significant byte first.
    static func maskingKey(using random: inout any RandomNumberGenerator) -> WebSocketMaskingKey {
        let word = random.next()
        return WebSocketMaskingKey((0..<4).map { UInt8(truncatingIfNeeded: word >> UInt64($0 * 8)) })!
    }
}

/// Writes the upgrade request when the connection becomes active and reports failures that
/// happen before the upgrade.
final class UpgradeRequestWriter: TransportClientHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let client: WebSocketClient

    init(client: WebSocketClient) {
        self.client = client
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.client.configuration.host)
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: self.client.requestTarget(), headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A response that reaches here was not an upgrade.
        if case .head = self.unwrapInboundIn(data) {
            self.client.caught(NIOHTTPClientUpgradeError.responseProtocolNotFound, channel: context.channel)
            context.close(promise: nil)
        }
    }
}

/// Feeds the frames of an upgraded connection to the client.
final class WebSocketClientHandler: TransportClientHandler {
    typealias InboundIn = WebSocketFrame

    let client: WebSocketClient

    init(client: WebSocketClient) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.client.received(frame: self.unwrapInboundIn(data), channel: context.channel)
    }
}
