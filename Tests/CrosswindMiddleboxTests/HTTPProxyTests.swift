import CrosswindMiddlebox
import NIOCore
import NIOEmbedded
import Testing

/// The HTTP proxy and its policy, driven byte by byte on embedded channels: what reaches the
/// server, what reaches the client, and when the pair is closed.
@Suite struct HTTPProxyTests {
    @Test func aPlainRequestAndItsResponseAreRelayedUnchanged() throws {
        let proxy = try ProxyHarness()
        // The client asks for a batch; no upstream connection exists before the first request.
        #expect(proxy.upstreamsOpened == 0)
        try proxy.clientSends("GET /sync?topic=metrics&since=0 HTTP/1.1\r\nHost: server\r\nAccept: application/json\r\n\r\n")
        #expect(proxy.upstreamsOpened == 1)
        #expect(proxy.serverReceived() == "GET /sync?topic=metrics&since=0 HTTP/1.1\r\nHost: server\r\nAccept: application/json\r\n\r\n")
        // The server answers; the client gets the same bytes.
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"batch\":1}")
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"batch\":1}")
        // A second request on the same connection reuses the upstream connection.
        try proxy.clientSends("POST /send HTTP/1.1\r\nHost: server\r\nContent-Length: 4\r\n\r\n\"hi\"")
        #expect(proxy.serverReceived() == "POST /send HTTP/1.1\r\nHost: server\r\nContent-Length: 4\r\n\r\n\"hi\"")
        #expect(proxy.upstreamsOpened == 1)
        #expect(proxy.cell.connections == 1)
        #expect(proxy.cell.upgradesStripped == 0)
    }

    @Test func withoutStripUpgradeTheUpgradeHeadersPass() throws {
        let proxy = try ProxyHarness()
        try proxy.clientSends(upgradeRequest)
        #expect(proxy.serverReceived() == upgradeRequest)
        #expect(proxy.cell.upgradesStripped == 0)
    }

    @Test func stripUpgradeRemovesUpgradeConnectionUpgradeAndSecWebSocketHeaders() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(stripUpgrade: true))
        try proxy.clientSends(upgradeRequest)
        // Only the request line, Host and the non-upgrade Connection token are left: the server
        // sees a plain GET and answers it as plain HTTP.
        #expect(proxy.serverReceived() == "GET /ws?topic=metrics HTTP/1.1\r\nHost: server\r\nConnection: keep-alive\r\n\r\n")
        #expect(proxy.cell.upgradesStripped == 1)
        try proxy.serverSends("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
        #expect(proxy.clientReceived() == "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
        #expect(proxy.cell.upgradesPassed == 0)
    }

    @Test func afterUpgradeRelayPassesTheUpgradedBytesBothWays() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(afterUpgrade: .relay))
        try proxy.upgrade()
        // From here on the bytes are not HTTP; they pass untouched, in both directions.
        try proxy.serverSends("\u{81}\u{05}hello")
        #expect(proxy.clientReceived() == "\u{81}\u{05}hello")
        try proxy.clientSends("not HTTP at all\r\n\r\n")
        #expect(proxy.serverReceived() == "not HTTP at all\r\n\r\n")
        #expect(proxy.client.isActive && proxy.upstream.isActive)
    }

    /// Found by fuzzing (Fuzz/Corpus/http-proxy/regression-pipelined-upgrade): bytes the client
    /// pipelined behind its upgrade request reached the upstream connection while its HTTP
    /// response decoder was still being removed, which took them for a request part and
    /// trapped. They now pass raw, in order, after the 101.
    @Test func bytesPipelinedBehindAnUpgradeAreRelayedRawAfterThe101() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(afterUpgrade: .relay))
        try proxy.clientSends(upgradeRequest + "pipelined")
        #expect(proxy.serverReceived() == upgradeRequest)
        try proxy.serverSends(switchingProtocols)
        #expect(proxy.clientReceived() == switchingProtocols)
        #expect(proxy.serverReceived() == "pipelined")
        try proxy.clientSends("after")
        #expect(proxy.serverReceived() == "after")
        _ = try proxy.client.finish()
        #expect(!proxy.upstream.isActive)
    }

    @Test func afterUpgradeSilenceKeepsBothConnectionsOpenAndPassesNothing() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(afterUpgrade: .silence))
        // The 101 itself passes: the client believes it is connected.
        try proxy.upgrade()
        try proxy.serverSends("\u{81}\u{07}welcome")
        try proxy.clientSends("\u{81}\u{04}ping")
        #expect(proxy.clientReceived() == "")
        #expect(proxy.serverReceived() == "")
        #expect(proxy.client.isActive && proxy.upstream.isActive)
    }

    @Test func afterUpgradeCloseClosesBothConnectionsAfterThe101() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(afterUpgrade: .close))
        try proxy.upgrade()
        #expect(!proxy.client.isActive)
        #expect(!proxy.upstream.isActive)
    }

    @Test func bufferResponseBytesHoldsTheBodyUntilTheLimit() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(bufferResponseBytes: 10))
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        // A streaming response: the head and the first 8 bytes are held (8 < 10)…
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 16\r\n\r\n")
        try proxy.serverSends("data: a\n")
        #expect(proxy.clientReceived() == "")
        // …until 10 bytes wait: then all of it goes at once.
        try proxy.serverSends("\ndat")
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 16\r\n\r\ndata: a\n\ndat")
        // The count starts again: the rest is held until the response ends.
        try proxy.serverSends("a:")
        #expect(proxy.clientReceived() == "")
        try proxy.serverSends(" b")
        #expect(proxy.clientReceived() == "a: b")
    }

    @Test func bufferResponseBytesReleasesAShortResponseAtItsEnd() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(bufferResponseBytes: 64 * 1024))
        try proxy.clientSendsRequest("GET /sync?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        #expect(proxy.clientReceived() == "")
        try proxy.serverSends("0\r\n\r\n")
        // The whole response at once. (NIO's encoder frames the chunked body itself and writes
        // its own `transfer-encoding` header, in lower case.)
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    }

    @Test func withoutBufferingEveryPartPassesAtOnce() throws {
        let proxy = try ProxyHarness()
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n")
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n")
        try proxy.serverSends("data: a\n")
        #expect(proxy.clientReceived() == "data: a\n")
    }

    @Test func idleTimeoutClosesAPairWithoutTraffic() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(idleTimeout: .seconds(30)))
        try proxy.clientSends("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        // 29 s of silence: still open.
        proxy.loop.advanceTime(by: .seconds(29))
        #expect(proxy.client.isActive && proxy.upstream.isActive)
        // Traffic at 29 s moves the deadline to 59 s.
        try proxy.serverSends("data: a\n")
        proxy.loop.advanceTime(by: .seconds(29))
        #expect(proxy.client.isActive && proxy.upstream.isActive)
        #expect(proxy.cell.idleClosures == 0)
        // 30 s after the last byte the proxy closes both sides.
        proxy.loop.advanceTime(by: .seconds(1))
        #expect(!proxy.client.isActive)
        #expect(!proxy.upstream.isActive)
        #expect(proxy.cell.idleClosures == 1)
    }

    @Test func withoutIdleTimeoutASilentPairStaysOpen() throws {
        let proxy = try ProxyHarness()
        try proxy.clientSends("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        proxy.loop.advanceTime(by: .hours(2))
        #expect(proxy.client.isActive && proxy.upstream.isActive)
        #expect(proxy.cell.idleClosures == 0)
    }

    @Test func aMalformedRequestGetsA400SayingSoAndTheConnectionCloses() throws {
        let proxy = try ProxyHarness()
        try proxy.clientSends("GET /ws HTTP/1.1\r\nHo st: server\r\n\r\n")
        let response = proxy.clientReceived()
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response)")
        #expect(response.contains("Connection: close\r\n"), "\(response)")
        let endOfHead = try #require(response.firstRange(of: "\r\n\r\n"))
        let body = response[endOfHead.upperBound...]
        #expect(body.hasPrefix("proxy: malformed request ("), "\(response)")
        #expect(response.contains("Content-Length: \(body.utf8.count)\r\n"), "\(response)")
        // Nothing reached the server, and the client's connection is closed.
        #expect(proxy.upstreamsOpened == 0)
        #expect(!proxy.client.isActive)
    }

    @Test func aMalformedRequestWhileAResponseIsOwedOnlyCloses() throws {
        let proxy = try ProxyHarness()
        try proxy.clientSends("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        #expect(proxy.serverReceived().hasPrefix("GET /events"))
        // The server has not answered yet; a 400 now would be taken for its answer.
        try proxy.clientSends("GET / HTTP/1.1\r\nHo st: x\r\n\r\n")
        #expect(proxy.clientReceived() == "")
        #expect(!proxy.client.isActive)
        #expect(!proxy.upstream.isActive)
    }
}
