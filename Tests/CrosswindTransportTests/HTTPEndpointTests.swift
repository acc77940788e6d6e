import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// Plain HTTP on a WebSocketServer channel: /negotiate, the WebSocket path without an
/// upgrade, unknown paths, and garbage.
@Suite struct HTTPEndpointTests {
    /// A parsed HTTP response.
    struct Response {
        var statusLine: String
        var head: String
        var body: String
    }

    /// A connected server channel on a hub with epoch 1234.
    static func serverChannel() throws -> (EmbeddedChannel, TopicHub) {
        let hub = TopicHub(epoch: 1234)
        let channel = EmbeddedChannel()
        do {
            try WebSocketServer.configure(channel, hub: hub)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
            return (channel, hub)
        } catch {
            _ = try? channel.finish(acceptAlreadyClosed: true)  // never leak an open EmbeddedChannel
            throw error
        }
    }

    /// Everything the channel wrote so far.
    static func output(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) { bytes += Array(chunk.readableBytesView) }
        return bytes
    }

    /// Splits `bytes` into consecutive responses framed by Content-Length.
    static func responses(_ bytes: [UInt8]) -> [Response] {
        var rest = bytes
        var out: [Response] = []
        while let (head, after) = splitHTTPHead(rest) {
            let length = Int(headerValue("content-length", in: head) ?? "0") ?? 0
            let body = String(decoding: after.prefix(length), as: UTF8.self)
            // (Split on "\r\n": in Swift it is one Character, so it cannot be found as "\r".)
            let statusLine = head.split(separator: "\r\n").first.map(String.init) ?? ""
            out.append(Response(statusLine: statusLine, head: head, body: body))
            rest = Array(after.dropFirst(length))
        }
        return out
    }

    /// Sends one raw request and returns the responses it produced, and the error that
    /// reached the end of the pipeline, if any.
    static func exchange(_ request: String) throws -> (responses: [Response], error: (any Error)?) {
        let (channel, _) = try serverChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        var caught: (any Error)?
        do {
            try channel.writeInbound(ByteBuffer(string: request))
        } catch {
            caught = error
        }
        let responses = Self.responses(try Self.output(channel))
        _ = try channel.finish(acceptAlreadyClosed: true)
        return (responses, caught)
    }

    @Test func negotiateDescribesTheTransports() throws {
        // GET /negotiate answers 200 with JSON naming the WebSocket endpoint and the epoch.
        let (responses, error) = try Self.exchange("GET /negotiate HTTP/1.1\r\nHost: server\r\n\r\n")
        #expect(error == nil)
        let response = try #require(responses.first)
        #expect(responses.count == 1)
        #expect(response.statusLine == "HTTP/1.1 200 OK")
        #expect(headerValue("content-type", in: response.head) == "application/json")
        #expect(headerValue("cache-control", in: response.head) == "no-store")
        #expect(response.body == #"{"transports":["websocket","sse","sync"],"endpoints":{"websocket":"/ws","sse":"/events","sync":"/sync","send":"/send"},"epoch":1234}"#)
        let json = try #require(JSONObjectScanner.scan(ByteBuffer(string: response.body)))
        #expect(json.unsigned("epoch") == 1234)
    }

    @Test(arguments: [
        "GET /ws HTTP/1.1\r\nHost: server\r\n\r\n",
        "GET /ws?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n",
        "POST /ws?topic=metrics HTTP/1.1\r\nHost: server\r\nContent-Length: 2\r\n\r\n{}",
        "GET /ws?topic=bad%2Fname HTTP/1.1\r\nHost: s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ])
    func webSocketPathWithoutValidUpgradeIs400(request: String) throws {
        // The WebSocket path without an upgrade, or with an invalid topic, is a 400 with an
        // error frame as body.
        // (A refused upgrade also fires NIO's unsupportedWebSocketTarget error down the
        // pipeline; nothing in the server handles it, so it reaches the tail — harmless on a
        // real channel, surfaced by writeInbound on an EmbeddedChannel.)
        let (responses, _) = try Self.exchange(request)
        let response = try #require(responses.first)
        #expect(responses.count == 1)
        #expect(response.statusLine == "HTTP/1.1 400 Bad Request")
        let json = try #require(JSONObjectScanner.scan(ByteBuffer(string: response.body)))
        #expect(json.string("type") == "error")
        #expect(json.string("reason") == "a WebSocket upgrade with a valid topic (and cursor, if any) is required")
    }

    @Test(arguments: ["GET /nope HTTP/1.1", "GET / HTTP/1.1", "GET /negotiate/x HTTP/1.1", "GET /wsx HTTP/1.1"])
    func everythingElseIs404(requestLine: String) throws {
        // Unknown paths, and /negotiate with another method, are 404 with an error body.
        let (responses, error) = try Self.exchange(requestLine + "\r\nHost: s\r\nContent-Length: 0\r\n\r\n")
        #expect(error == nil)
        let response = try #require(responses.first)
        #expect(response.statusLine == "HTTP/1.1 404 Not Found")
        #expect(response.body == #"{"type":"error","reason":"no such endpoint"}"#)
        #expect(headerValue("content-length", in: response.head) == String(response.body.utf8.count))
    }

    @Test func keepAliveAnswersEachRequestInOrder() throws {
        // Three pipelined requests on one connection get three responses, in order, and the
        // response version follows the request's.
        let (channel, _) = try Self.serverChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.writeInbound(ByteBuffer(string: "GET /nope HTTP/1.1\r\nHost: s\r\n\r\nGET /negotiate HTTP/1.1\r\nHost: s\r\n\r\n"))
        try channel.writeInbound(ByteBuffer(string: "GET /ws HTTP/1.1\r\nHost: s\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let statuses = Self.responses(try Self.output(channel)).map(\.statusLine)
        #expect(statuses == ["HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"])
        #expect(channel.isActive)
        _ = try channel.finish()

        let old = try #require(try Self.exchange("GET /negotiate HTTP/1.0\r\n\r\n").responses.first)
        #expect(old.statusLine == "HTTP/1.0 200 OK")
    }

    @Test(arguments: [
        [0x00, 0x01] + Array(" not http\r\n\r\n".utf8),
        Array("HELLO\r\n\r\n".utf8),
        Array("GET / HTTP/9.9\r\n\r\n".utf8),
        Array("GET /negotiate HTTP/1.1\r\nBad Header Line\r\n\r\n".utf8),
        [UInt8](repeating: 0xFF, count: 64),
    ] as [[UInt8]])
    func garbageGetsA400(bytes: [UInt8]) throws {
        // Bytes that are not HTTP get a 400 with "Connection: close", never a trap.
        // The parser error may surface from writeInbound; that is allowed.
        let (channel, _) = try Self.serverChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        } catch {
            // The HTTP decoder's error travelled to the end of the pipeline.
        }
        channel.embeddedEventLoop.run()
        let responses = Self.responses(try Self.output(channel))
        #expect(responses.map(\.statusLine) == ["HTTP/1.1 400 Bad Request"])
        #expect(responses.first.flatMap { headerValue("connection", in: $0.head) } == "close")
        // Note: the server does not close the connection itself (nothing in its pipeline
        // closes on errors); the 400 asks the client to. A valid request sent afterwards on
        // the same connection is not answered: the decoder stays failed.
        do {
            try channel.writeInbound(ByteBuffer(string: "GET /negotiate HTTP/1.1\r\nHost: s\r\n\r\n"))
        } catch {
            // The decoder reports that it already failed.
        }
        channel.embeddedEventLoop.run()
        #expect(Self.responses(try Self.output(channel)).isEmpty)
        _ = try? channel.throwIfErrorCaught()
    }
}
