import CrosswindMiddlebox
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// An explicit forward proxy and TLS as a property of a connection: `CONNECT` refused,
/// tunnelled untouched, or intercepted (then the HTTP policies apply inside); absolute-form
/// requests; the modelled TLS handshake itself; and the same choices on a transparent proxy's
/// TLS port.
@Suite struct ForwardProxyTests {
    /// Records what reaches the end of a pipeline, and whether it saw the connection come up.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var active = false
        var received = ""
        var errors: [any Error] = []

        func channelActive(context: ChannelHandlerContext) {
            self.active = true
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.received += String(buffer: self.unwrapInboundIn(data))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.errors.append(error)
        }
    }

    /// Moves bytes both ways between connected pairs of channels until nothing moves.
    static func pump(_ pairs: [(EmbeddedChannel, EmbeddedChannel)], loop: EmbeddedEventLoop) throws {
        var moved = true
        while moved {
            moved = false
            for (a, b) in pairs {
                for (from, to) in [(a, b), (b, a)] {
                    while let bytes = try from.readOutbound(as: ByteBuffer.self) {
                        moved = true
                        if to.isActive { try to.writeInbound(bytes) }
                    }
                }
            }
            loop.run()
        }
    }

    /// A browser's connection through an explicit proxy to `authority` with TLS: CONNECT, then
    /// the TLS handshake inside the tunnel. Returns the channel and its recorder.
    static func browser(_ loop: EmbeddedEventLoop, authority: String = "server:443", tls: Bool = true) throws -> (EmbeddedChannel, Recorder) {
        let recorder = Recorder()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(ProxyConnectHandler(authority: authority))
        if tls { try channel.pipeline.syncOperations.addHandler(TLSClientHandler()) }
        try channel.pipeline.syncOperations.addHandler(recorder)
        return (channel, recorder)
    }

    /// The origin server's end with TLS.
    static func origin(_ channel: EmbeddedChannel) throws -> Recorder {
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandler(TLSServerHandler(), position: .first)
        try channel.pipeline.syncOperations.addHandler(recorder)
        return recorder
    }

    // MARK: The modelled TLS

    @Test func aTLSHandshakeTakesOneRoundTripThenCarriesBytesInRecords() throws {
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let server = EmbeddedChannel(loop: loop)
        let clientEnd = Recorder()
        try client.pipeline.syncOperations.addHandlers([TLSClientHandler(), clientEnd])
        let serverEnd = try Self.origin(server)
        try server.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 443)).wait()
        // The application writes before the handshake: the bytes wait.
        try client.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 443)).wait()
        client.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"), promise: nil)
        #expect(!clientEnd.active && !serverEnd.active)
        // On the wire: a handshake record (0x16, version 3.3), not HTTP.
        let hello = try #require(try client.readOutbound(as: ByteBuffer.self))
        #expect(Array(hello.readableBytesView.prefix(3)) == [0x16, 0x03, 0x03])
        #expect(hello.readableBytes == 517)
        try server.writeInbound(hello)
        try Self.pump([(client, server)], loop: loop)
        #expect(clientEnd.active && serverEnd.active)
        #expect(serverEnd.received == "GET / HTTP/1.1\r\n\r\n")
        server.writeAndFlush(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"), promise: nil)
        try Self.pump([(client, server)], loop: loop)
        #expect(clientEnd.received == "HTTP/1.1 204 No Content\r\n\r\n")
    }

    @Test func aTLSServerAnswersPlainHTTPWithAnAlertAndCloses() throws {
        let loop = EmbeddedEventLoop()
        let server = EmbeddedChannel(loop: loop)
        _ = try Self.origin(server)
        try server.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 443)).wait()
        try server.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        let alert = try #require(try server.readOutbound(as: ByteBuffer.self))
        #expect(alert.getInteger(at: alert.readerIndex, as: UInt8.self) == 0x15)
        #expect(!server.isActive)
    }

    // MARK: CONNECT

    @Test func connectRefusedGetsA403AndTheClientAnError() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(tls: .refuse), listener: .explicit)
        let (browser, end) = try Self.browser(proxy.loop)
        try browser.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 3128)).wait()
        try Self.pump([(browser, proxy.client)], loop: proxy.loop)
        #expect(proxy.upstreamsOpened == 0)
        #expect(proxy.cell.tlsRefused == 1)
        #expect(!end.active)
        #expect(end.errors.contains { ($0 as? ProxyConnectError)?.status == 403 })
        #expect(!browser.isActive && !proxy.client.isActive)
    }

    @Test func connectPortsAllowOnlyTheListedPorts() throws {
        let policy = HTTPProxyPolicy(connectPorts: [443])
        let refused = try ProxyHarness(policy, listener: .explicit)
        try refused.clientSends("CONNECT server:8443 HTTP/1.1\r\nHost: server:8443\r\n\r\n")
        #expect(refused.clientReceived().hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
        let allowed = try ProxyHarness(policy, listener: .explicit)
        try allowed.clientSends("CONNECT server:443 HTTP/1.1\r\nHost: server:443\r\n\r\n")
        #expect(allowed.clientReceived() == "HTTP/1.1 200 Connection established\r\n\r\n")
        #expect(allowed.upstreamTargets == [HTTPProxyTarget(host: "server", port: 443)])
    }

    @Test func aTunnelPassesTheBytesUntouchedAndNoPolicySeesThem() throws {
        // The proxy strips Upgrade and blocks event streams — but cannot see inside the tunnel.
        let proxy = try ProxyHarness(HTTPProxyPolicy(stripUpgrade: true, blockContentTypes: ["text/event-stream"]), listener: .explicit)
        try proxy.clientSends("CONNECT server:443 HTTP/1.1\r\nHost: server:443\r\n\r\n")
        #expect(proxy.clientReceived() == "HTTP/1.1 200 Connection established\r\n\r\n")
        #expect(proxy.cell.tlsTunnelled == 1)
        // Every byte value, then a request with Upgrade that is not parsed, both ways.
        let opaque = ByteBuffer(bytes: (0...255).map { UInt8($0) })
        try proxy.clientSends(bytes: opaque)
        #expect(proxy.serverReceivedBytes() == Array(0...255))
        try proxy.clientSends(upgradeRequest)
        #expect(proxy.serverReceived() == upgradeRequest)
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\n")
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\n")
        #expect(proxy.cell.upgradesStripped == 0 && proxy.cell.blockedResponses == 0)
    }

    @Test func anInterceptingProxyAppliesItsPoliciesInsideTLS() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(stripUpgrade: true, tls: .intercept), listener: .explicit)
        let (browser, end) = try Self.browser(proxy.loop)
        try browser.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 3128)).wait()
        try Self.pump([(browser, proxy.client)], loop: proxy.loop)
        // The browser's TLS session is with the proxy.
        #expect(end.active)
        #expect(proxy.cell.tlsIntercepted == 1)
        browser.writeAndFlush(ByteBuffer(string: upgradeRequest), promise: nil)
        try Self.pump([(browser, proxy.client)], loop: proxy.loop)
        // The proxy opened its own TLS connection to the server: a ClientHello went out first.
        let hello = try #require(try proxy.upstream.readOutbound(as: ByteBuffer.self))
        #expect(hello.getInteger(at: hello.readerIndex, as: UInt8.self) == 0x16)
        try proxy.upstream.writeInbound(Self.serverFlight(answering: hello))
        proxy.loop.run()
        // After the handshake the request goes, without its Upgrade: the policy applied inside TLS.
        let records = try #require(try proxy.upstream.readOutbound(as: ByteBuffer.self))
        var all = records
        while var more = try proxy.upstream.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&more) }
        let text = String(decoding: Self.payloads(all), as: UTF8.self)
        #expect(text == "GET /ws?topic=metrics HTTP/1.1\r\nHost: server\r\nConnection: keep-alive\r\n\r\n")
        #expect(proxy.cell.upgradesStripped == 1)
    }

    /// The server flight a modelled TLS server sends after a ClientHello.
    static func serverFlight(answering hello: ByteBuffer) throws -> ByteBuffer {
        let loop = EmbeddedEventLoop()
        let server = EmbeddedChannel(loop: loop)
        _ = try Self.origin(server)
        try server.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 443)).wait()
        try server.writeInbound(hello)
        return try #require(try server.readOutbound(as: ByteBuffer.self))
    }

    /// The payloads of the application-data records in `bytes` (handshake records skipped).
    static func payloads(_ bytes: ByteBuffer) -> [UInt8] {
        var bytes = bytes
        var out: [UInt8] = []
        while bytes.readableBytes >= 5 {
            let type: UInt8 = bytes.readInteger()!
            bytes.moveReaderIndex(forwardBy: 2)
            let length = Int(bytes.readInteger(as: UInt16.self)!)
            let payload = bytes.readBytes(length: length)!
            if type == 0x17 { out += payload }
        }
        return out
    }

    @Test func absoluteFormRequestsGoUpstreamInOriginForm() throws {
        let proxy = try ProxyHarness(listener: .explicit)
        try proxy.clientSends("GET http://server:8080/events?topic=metrics HTTP/1.1\r\nHost: server:8080\r\n\r\n")
        #expect(proxy.serverReceived() == "GET /events?topic=metrics HTTP/1.1\r\nHost: server:8080\r\n\r\n")
        #expect(proxy.upstreamTargets == [HTTPProxyTarget(host: "server", port: 8080)])
    }

    @Test func theAbsoluteFormWriterRewritesEveryRequest() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try AbsoluteFormRequestWriter.install(in: channel, authority: "server:80")
        try channel.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 3128)).wait()
        for _ in 0..<2 {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/sync?topic=metrics")
            head.headers.add(name: "Host", value: "server")
            try channel.writeOutbound(HTTPClientRequestPart.head(head))
            try channel.writeOutbound(HTTPClientRequestPart.end(nil))
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            #expect(text.hasPrefix("GET http://server:80/sync?topic=metrics HTTP/1.1\r\n"), "\(text)")
        }
    }

    @Test func theConnectHandlerHoldsTheConnectionBackUntilTheTunnelIsOpen() throws {
        let (browser, end) = try Self.browser(EmbeddedEventLoop(), authority: "server:8443", tls: false)
        try browser.connect(to: SocketAddress(ipAddress: "10.0.0.9", port: 3128)).wait()
        #expect(!end.active)
        browser.writeAndFlush(ByteBuffer(string: "early"), promise: nil)
        var sent = ""
        while let buffer = try browser.readOutbound(as: ByteBuffer.self) { sent += String(buffer: buffer) }
        #expect(sent == "CONNECT server:8443 HTTP/1.1\r\nHost: server:8443\r\n\r\n")
        try browser.writeInbound(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n"))
        #expect(end.active)
        #expect(String(buffer: try #require(try browser.readOutbound(as: ByteBuffer.self))) == "early")
    }

    // MARK: A transparent proxy's TLS port

    @Test func aTransparentProxyTunnelsTLSUntouchedOrRefusesIt() throws {
        let tunnel = try ProxyHarness(HTTPProxyPolicy(stripUpgrade: true), listener: .transparentTLS)
        let hello = ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00])
        try tunnel.clientSends(bytes: hello)
        #expect(tunnel.serverReceivedBytes() == [0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00])
        #expect(tunnel.upstreamTargets == [nil])
        #expect(tunnel.cell.tlsTunnelled == 1)

        let refuse = try ProxyHarness(HTTPProxyPolicy(tls: .refuse), listener: .transparentTLS)
        #expect(!refuse.client.isActive)
        #expect(refuse.upstreamsOpened == 0)
    }

    @Test func aTransparentProxyInterceptingTLSStripsUpgradeInside() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(stripUpgrade: true, tls: .intercept), listener: .transparentTLS)
        let loop = proxy.loop
        let browser = EmbeddedChannel(loop: loop)
        let end = Recorder()
        try browser.pipeline.syncOperations.addHandlers([TLSClientHandler(), end])
        try browser.connect(to: SocketAddress(ipAddress: "10.0.0.2", port: 443)).wait()
        try Self.pump([(browser, proxy.client)], loop: loop)
        #expect(end.active)
        browser.writeAndFlush(ByteBuffer(string: upgradeRequest), promise: nil)
        try Self.pump([(browser, proxy.client)], loop: loop)
        let hello = try #require(try proxy.upstream.readOutbound(as: ByteBuffer.self))
        try proxy.upstream.writeInbound(Self.serverFlight(answering: hello))
        loop.run()
        var all = ByteBuffer()
        while var more = try proxy.upstream.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&more) }
        #expect(String(decoding: Self.payloads(all), as: UTF8.self) == "GET /ws?topic=metrics HTTP/1.1\r\nHost: server\r\nConnection: keep-alive\r\n\r\n")
    }
}
