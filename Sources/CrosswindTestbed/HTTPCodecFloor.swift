import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The least a long-poll message can cost in this testbed: one HTTP/1.1 exchange through
/// NIO's client and server codecs and nothing else (no network model, no TCP, no router, no
/// JSON), the bytes handed straight from one embedded channel to the other.
///
/// At the seed workload's rate a long-poll client has one request outstanding and gets one
/// message per response, so every message costs at least this exchange. `crosswind bench
/// --mode http-floor` times it to bound what any long-poll run can reach with real codecs.
public enum HTTPCodecFloor {
    /// A request and a response shaped like a long-poll's: the same URI parameters and
    /// headers, a JSON body of one message of `messageBytes`.
    struct Exchange {
        let request: HTTPRequestHead
        let responseHead: HTTPResponseHead
        let responseBody: ByteBuffer

        init(messageBytes: Int) {
            var requestHeaders = HTTPHeaders()
            requestHeaders.add(name: "Host", value: "server")
            requestHeaders.add(name: "Accept", value: "application/json")
            requestHeaders.add(name: "If-None-Match", value: "\"1234:5678\"")
            self.request = HTTPRequestHead(
                version: .http1_1,
                method: .GET,
                uri: "/sync?topic=metrics&limit=50&client=bench-17&since=1234:5678&wait=25000",
                headers: requestHeaders
            )
            var body = ByteBuffer()
            body.writeStaticString(#"{"type":"batch","topic":"metrics","epoch":1234,"next":5679,"recovered":true,"messages":["#)
            body.writeStaticString(#"{"type":"message","topic":"metrics","epoch":1234,"offset":5678,"data":{"padding":""#)
            body.writeRepeatingByte(UInt8(ascii: "x"), count: max(messageBytes, 0))
            body.writeStaticString(#""}}]}"#)
            self.responseBody = body
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "Content-Type", value: "application/json")
            responseHeaders.add(name: "Content-Length", value: String(body.readableBytes))
            responseHeaders.add(name: "Cache-Control", value: "no-store")
            responseHeaders.add(name: "ETag", value: "\"1234:5679\"")
            self.responseHead = HTTPResponseHead(version: .http1_1, status: .ok, headers: responseHeaders)
        }
    }

    /// Holds each request until `answer()`, as a long-poll server holds a poll until the next
    /// publish, then answers with the exchange's response.
    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let exchange: Exchange
        private var context: ChannelHandlerContext?
        private var held = false

        init(exchange: Exchange) {
            self.exchange = exchange
        }

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = self.unwrapInboundIn(data) else { return }
            self.held = true
        }

        func answer() {
            guard self.held, let context = self.context else { return }
            self.held = false
            context.write(self.wrapOutboundOut(.head(self.exchange.responseHead)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(self.exchange.responseBody))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// One client connection and the server's end of it, as the transports build them:
    /// NIO's default pipelines on both sides.
    private struct ConnectionPair {
        let client: EmbeddedChannel
        let server: EmbeddedChannel
        let responder: Responder

        init(loop: EmbeddedEventLoop, exchange: Exchange) throws {
            self.client = EmbeddedChannel(loop: loop)
            self.server = EmbeddedChannel(loop: loop)
            self.responder = Responder(exchange: exchange)
            try self.client.pipeline.syncOperations.addHTTPClientHandlers()
            try self.server.pipeline.syncOperations.configureHTTPServerPipeline()
            try self.server.pipeline.syncOperations.addHandler(self.responder)
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
            try self.client.connect(to: address).wait()
            try self.server.connect(to: address).wait()
        }

        /// The client writes its next request.
        func ask(_ exchange: Exchange) throws {
            try self.client.writeOutbound(HTTPClientRequestPart.head(exchange.request))
            try self.client.writeOutbound(HTTPClientRequestPart.end(nil))
        }

        /// The server reads the request and holds it.
        func receiveRequest() throws {
            while let bytes = try self.client.readOutbound(as: ByteBuffer.self) { try self.server.writeInbound(bytes) }
        }

        /// The server answers the held request.
        func answer() {
            self.responder.answer()
        }

        /// The client reads the response; returns how many responses it decoded.
        func receiveResponse() throws -> Int {
            while let bytes = try self.server.readOutbound(as: ByteBuffer.self) { try self.client.writeInbound(bytes) }
            var responses = 0
            while let part = try self.client.readInbound(as: HTTPClientResponsePart.self) {
                if case .end = part { responses += 1 }
            }
            return responses
        }

        func finish() {
            _ = try? self.client.finish(acceptAlreadyClosed: true)
            _ = try? self.server.finish(acceptAlreadyClosed: true)
        }
    }

    /// Runs `count` exchanges over `connections` keep-alive connections in rounds, as a publish
    /// answers every held long-poll: each round the server answers every connection's held
    /// request, the clients read their responses and ask again, and the server reads the
    /// requests. Returns how many complete responses the clients decoded (`count` unless a
    /// codec refused something).
    ///
    /// With one connection its pipelines stay in the CPU's caches from one exchange to the
    /// next: that measures the codecs alone. A long-poll run has a connection per client, and
    /// each one's pipelines have gone cold by its next message; with as many connections as
    /// clients the floor pays that too, which no run with real codecs can avoid.
    public static func run(count: Int, messageBytes: Int, connections: Int = 1) throws -> Int {
        let exchange = Exchange(messageBytes: messageBytes)
        let loop = EmbeddedEventLoop()
        var pairs: [ConnectionPair] = []
        defer { for pair in pairs { pair.finish() } }
        for _ in 0..<max(connections, 1) {
            let pair = try ConnectionPair(loop: loop, exchange: exchange)
            try pair.ask(exchange)
            try pair.receiveRequest()
            pairs.append(pair)
        }

        var responses = 0
        var remaining = count
        while remaining > 0 {
            let round = pairs.prefix(remaining)
            // Each step reaches every connection before the next begins, as the network's
            // delay separates them in a run: all answers are written before the first arrives.
            for pair in round { pair.answer() }
            for pair in round { responses += try pair.receiveResponse() }
            for pair in round { try pair.ask(exchange) }
            for pair in round { try pair.receiveRequest() }
            remaining -= round.count
        }
        return responses
    }
}
