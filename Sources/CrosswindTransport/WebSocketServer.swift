import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Settings of the WebSocket server side.
public struct WebSocketServerConfiguration: Sendable {
    /// Largest frame accepted from a client.
    public var maxFrameBytes: Int = 1 << 20
    /// Path of the WebSocket endpoint.
    public var path: String = "/ws"
    public init() {}
}

/// Sets up a server channel: HTTP/1.1 (NIOHTTP1) with the WebSocket upgrader (NIOWebSocket)
/// for `/ws?topic=T`, and plain HTTP answers for everything else (`/negotiate`, errors).
///
/// The same function configures a simulated channel and a NIOPosix one.
public enum WebSocketServer {
    static let httpHandlerName = "crosswind.http"

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
                guard path == configuration.path,
                    let topic = parameters.first(where: { $0.0 == "topic" })?.1,
                    isValidTopicName(topic[...])
                else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, head in
                let (_, parameters) = queryParameters(of: head.uri)
                let topic = parameters.first(where: { $0.0 == "topic" })?.1 ?? ""
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketServerHandler(topic: topic, hub: hub)
                    )
                }
            }
        )
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    // NIO removes its own HTTP handlers; ours must go too, or frames reach it.
                    if let handler = try? context.pipeline.syncOperations.context(name: Self.httpHandlerName) {
                        _ = try? context.pipeline.syncOperations.removeHandler(context: handler)
                    }
                }
            )
        )
        try sync.addHandler(HTTPEndpointHandler(hub: hub, webSocketPath: configuration.path), name: Self.httpHandlerName)
    }
}

/// One upgraded WebSocket connection on the server: sends the welcome, then every message
/// of its topic; answers pings; closes cleanly.
final class WebSocketServerHandler: ChannelInboundHandler, TopicSubscriber {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let topic: String
    private let hub: TopicHub
    private var context: ChannelHandlerContext?
    private var subscribed = false

    init(topic: String, hub: TopicHub) {
        self.topic = topic
        self.hub = hub
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let state = self.hub.subscribe(self, to: self.topic)
        self.subscribed = true
        let welcome = WireFrame.encodeWelcome(Welcome(topic: self.topic, epoch: state.epoch, next: state.next), allocator: context.channel.allocator)
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: welcome)), promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.unsubscribe()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.unsubscribe()
        context.fireChannelInactive()
    }

    private func unsubscribe() {
        guard self.subscribed else { return }
        self.subscribed = false
        self.hub.unsubscribe(self, from: self.topic)
    }

    func deliver(encodedMessage: ByteBuffer) {
        guard let context = self.context else { return }
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: encodedMessage)), promise: nil)
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
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .whenComplete { _ in context.close(promise: nil) }
        case .text, .binary, .continuation, .pong:
            // Client → server messages arrive with the manager (a later part); ignored here.
            break
        default:
            break
        }
    }
}

/// Answers plain HTTP requests on a server channel: `GET /negotiate` describes the
/// transports; a WebSocket path without a valid upgrade gets 400; anything else 404.
final class HTTPEndpointHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hub: TopicHub
    private let webSocketPath: String
    private var head: HTTPRequestHead?

    init(hub: TopicHub, webSocketPath: String) {
        self.hub = hub
        self.webSocketPath = webSocketPath
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let (path, _) = queryParameters(of: head.uri)
        let status: HTTPResponseStatus
        let body: String
        switch (head.method, path) {
        case (.GET, "/negotiate"):
            status = .ok
            body = "{\"transports\":[\"websocket\"],\"endpoints\":{\"websocket\":\"\(self.webSocketPath)\"},\"epoch\":\(self.hub.epoch)}"
        case (_, Substring(self.webSocketPath)):
            status = .badRequest
            body = "{\"type\":\"error\",\"reason\":\"a WebSocket upgrade with a valid topic parameter is required\"}"
        default:
            status = .notFound
            body = "{\"type\":\"error\",\"reason\":\"no such endpoint\"}"
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        let responseHead = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(self.wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}
