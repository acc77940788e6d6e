import NIOCore
import NIOEmbedded
import Testing

@testable import CrosswindMiddlebox

/// A proxied connection that has ended leaves nothing behind: its handlers and channels are
/// freed (a handler that kept its context after removal kept itself, its pipeline and its
/// channel alive, one set per connection, for as long as the process ran).
@Suite struct ProxyLifetimeTests {
    @Test(arguments: [
        "GET /sync?topic=metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ws?topic=metrics HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ])
    func anEndedConnectionIsFreed(request: String) throws {
        weak var front: ProxyFrontHandler?
        weak var client: EmbeddedChannel?
        weak var upstream: EmbeddedChannel?
        try Self.proxyOneConnection(request) { front = $0; client = $1; upstream = $2 }
        #expect(front == nil, "the proxy's front handler outlived its connection")
        #expect(client == nil, "the client channel outlived its connection")
        #expect(upstream == nil, "the upstream channel outlived its connection")
    }

    /// One request through a proxy that strips nothing, a response (a 101 for an upgrade), both
    /// sides closed and the loop shut down; hands out what should be gone afterwards.
    private static func proxyOneConnection(_ request: String, _ handOut: (ProxyFrontHandler, EmbeddedChannel, EmbeddedChannel) throws -> Void) throws {
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let upstream = EmbeddedChannel(loop: loop)
        try HTTPProxy.configure(client, policy: HTTPProxyPolicyCell(.passThrough)) { initialize in
            try! initialize(upstream)
            upstream.connect(to: try! SocketAddress(ipAddress: "10.0.0.2", port: 80), promise: nil)
        }
        try client.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 40000)).wait()
        try client.writeInbound(ByteBuffer(string: request))
        loop.run()
        let response = request.contains("Upgrade")
            ? "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        try upstream.writeInbound(ByteBuffer(string: response))
        loop.run()
        let forwarded = try client.readOutbound(as: ByteBuffer.self)
        #expect(forwarded.map { String(buffer: $0).hasPrefix("HTTP/1.1 ") } == true, "the response did not pass")
        try handOut(try client.pipeline.syncOperations.handler(type: ProxyFrontHandler.self), client, upstream)
        client.close(promise: nil)
        loop.run()
        _ = try? client.finish()
        _ = try? upstream.finish()
        try loop.syncShutdownGracefully()
    }
}
