import CrosswindMiddlebox
import NIOCore
import NIOEmbedded
import Testing

/// A proxy whose upstream connection cannot be opened answers the request waiting for it with
/// `502 Bad Gateway` and closes, as Squid, nginx and HAProxy do, so the client can tell an
/// unreachable server from a proxy that cuts connections.
@Suite struct BadGatewayTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    @Test func aRequestWhoseUpstreamConnectIsRefusedGetsA502() throws {
        let proxy = try ProxyHarness(upstreamConnects: false)
        try proxy.clientSends("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\nAccept: text/event-stream\r\n\r\n")
        #expect(proxy.upstreamsOpened == 1)
        proxy.upstream.pipeline.fireErrorCaught(Refused())
        proxy.loop.run()
        let answer = proxy.clientReceived()
        #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(answer.contains("Connection: close\r\n"))
        #expect(answer.hasSuffix("proxy: cannot reach the upstream server (connection refused)\n"))
        #expect(proxy.cell.badGateways == 1)
        #expect(!proxy.client.isActive)
    }

    @Test func anUpstreamTornDownBeforeItConnectedAlsoGetsA502() throws {
        // A real socket's failed connect is closed and its handlers removed, with no error
        // passing through the pipeline.
        let proxy = try ProxyHarness(upstreamConnects: false)
        try proxy.clientSends("GET /sync?topic=metrics&since=0 HTTP/1.1\r\nHost: server\r\n\r\n")
        _ = try proxy.upstream.finish()
        proxy.loop.run()
        #expect(proxy.clientReceived().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(proxy.cell.badGateways == 1)
        #expect(!proxy.client.isActive)
    }

    @Test func aConnectWhoseTunnelCannotOpenGetsA502() throws {
        let proxy = try ProxyHarness(listener: .explicit, upstreamConnects: false)
        try proxy.clientSends("CONNECT server:443 HTTP/1.1\r\nHost: server:443\r\n\r\n")
        #expect(proxy.clientReceived() == "")
        proxy.upstream.pipeline.fireErrorCaught(Refused())
        proxy.loop.run()
        #expect(proxy.clientReceived().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(proxy.cell.badGateways == 1)
        #expect(!proxy.client.isActive)
    }

    @Test func anUpstreamThatFailsAfterItsResponseBeganOnlyClosesThePair() throws {
        let proxy = try ProxyHarness()
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n")
        #expect(proxy.clientReceived().contains("data: 1\n\n"))
        proxy.upstream.pipeline.fireErrorCaught(Refused())
        proxy.loop.run()
        #expect(!proxy.clientReceived().contains("502"))
        #expect(proxy.cell.badGateways == 0)
        #expect(!proxy.client.isActive)
    }
}
