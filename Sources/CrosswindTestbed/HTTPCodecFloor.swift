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

    /// Answers every request with the exchange's response, as the router would.
    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let exchange: Exchange

        init(exchange: Exchange) {
            self.exchange = exchange
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = self.unwrapInboundIn(data) else { return }
            context.write(self.wrapOutboundOut(.head(self.exchange.responseHead)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(self.exchange.responseBody))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Runs `count` exchanges on one keep-alive connection; returns how many complete
    /// responses the client decoded (`count` unless a codec refused something).
    public static func run(count: Int, messageBytes: Int) throws -> Int {
        let exchange = Exchange(messageBytes: messageBytes)
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let server = EmbeddedChannel(loop: loop)
        defer {
            _ = try? client.finish(acceptAlreadyClosed: true)
            _ = try? server.finish(acceptAlreadyClosed: true)
        }
        // The same pipelines the transports build: NIO's defaults on both sides.
        try client.pipeline.syncOperations.addHTTPClientHandlers()
        try server.pipeline.syncOperations.configureHTTPServerPipeline()
        try server.pipeline.syncOperations.addHandler(Responder(exchange: exchange))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
        try client.connect(to: address).wait()
        try server.connect(to: address).wait()

        var responses = 0
        for _ in 0..<count {
            try client.writeOutbound(HTTPClientRequestPart.head(exchange.request))
            try client.writeOutbound(HTTPClientRequestPart.end(nil))
            while let bytes = try client.readOutbound(as: ByteBuffer.self) { try server.writeInbound(bytes) }
            while let bytes = try server.readOutbound(as: ByteBuffer.self) { try client.writeInbound(bytes) }
            while let part = try client.readInbound(as: HTTPClientResponsePart.self) {
                if case .end = part { responses += 1 }
            }
        }
        return responses
    }
}
