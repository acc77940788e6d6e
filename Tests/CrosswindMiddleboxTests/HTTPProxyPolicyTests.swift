import CrosswindMiddlebox
import NIOCore
import NIOEmbedded
import Testing

/// The policies of the corporate-network catalogue, each shown acting on bytes: first-event
/// hold, buffering after a healthy start, lifetimes, content-type blocks, the per-client
/// connection cap and deep-packet inspection of WebSocket frames.
@Suite struct HTTPProxyPolicyTests {
    static let eventStreamHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    /// The chunked encoding NIO's encoder gives `text` (one chunk).
    static func chunk(_ text: String) -> String {
        "\(String(text.utf8.count, radix: 16))\r\n\(text)\r\n"
    }

    /// The server's side of a chunked response carrying `text` in one chunk.
    func serverChunk(_ proxy: ProxyHarness, _ text: String) throws {
        try proxy.serverSends(Self.chunk(text))
    }

    // MARK: First-event hold

    @Test func holdEventsReleasesEachEventOnlyWhenTheNextArrives() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(holdEvents: true))
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends(Self.eventStreamHead)
        // The head passes at once (the browser sees the stream open)…
        #expect(proxy.clientReceived().hasPrefix("HTTP/1.1 200 OK\r\n"))
        // …the prelude and retry block pass with the welcome behind them, but the welcome is held.
        try self.serverChunk(proxy, ":    \nretry: 1000\n\nevent: welcome\ndata: {}\n\n")
        #expect(proxy.clientReceived() == Self.chunk(":    \nretry: 1000\n\n"))
        // The first message arrives: only now does the welcome reach the client; the message waits.
        try self.serverChunk(proxy, "id: 1\ndata: a\n\n")
        #expect(proxy.clientReceived() == Self.chunk("event: welcome\ndata: {}\n\n"))
        // Half of the next event is enough to release the previous one.
        try self.serverChunk(proxy, "id: 2\nda")
        #expect(proxy.clientReceived() == Self.chunk("id: 1\ndata: a\n\n"))
        try self.serverChunk(proxy, "ta: b\n\n")
        #expect(proxy.clientReceived() == "")
        #expect(proxy.cell.eventsHeld == 3)
        // The end of the response releases what is left.
        try proxy.serverSends("0\r\n\r\n")
        #expect(proxy.clientReceived() == Self.chunk("id: 2\ndata: b\n\n") + "0\r\n\r\n")
    }

    @Test func holdEventsBytesReleasesOnceTheLimitWaits() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(holdEvents: true, holdEventsBytes: 20))
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends(Self.eventStreamHead)
        _ = proxy.clientReceived()
        try self.serverChunk(proxy, "data: short\n\n")  // 13 bytes: held
        #expect(proxy.clientReceived() == "")
        try self.serverChunk(proxy, "data: x")  // 20 bytes wait: all of it goes
        #expect(proxy.clientReceived() == Self.chunk("data: short\n\ndata: x"))
    }

    @Test func holdEventsLeavesOtherResponsesAlone() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(holdEvents: true))
        try proxy.clientSendsRequest("GET /sync?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"batch\":1}")
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"batch\":1}")
    }

    @Test func theEventHoldFindsTheSameEventsWhateverTheSplit() {
        let stream = ":  \nretry: 1\r\n\r\nevent: welcome\ndata: {}\n\nid: 1\rdata: a\r\rid: 2\ndata: b\n\n:hb\n"
        let bytes = Array(stream.utf8)
        for size in [1, 2, 3, 7, bytes.count] {
            var hold = EventStreamHoldProbe()
            var index = 0
            while index < bytes.count {
                hold.feed(Array(bytes[index..<min(index + size, bytes.count)]))
                index += size
            }
            // Whatever the split, only the bytes after the last complete event are held at
            // the end: the last event went when the heartbeat's first byte came.
            #expect(hold.released == Array(bytes.dropLast(":hb\n".utf8.count)), "split \(size)")
            hold.finish()
            #expect(hold.released == bytes, "split \(size)")
        }
    }

    // MARK: Buffering after a healthy start

    @Test func bufferAfterPassesTheFirstSecondsThenHolds() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(bufferResponseBytes: 1000, bufferAfter: .seconds(30)))
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends(Self.eventStreamHead)
        #expect(proxy.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        // Healthy for 29 s: every event passes at once.
        proxy.loop.advanceTime(by: .seconds(29))
        try self.serverChunk(proxy, "data: a\n\n")
        #expect(proxy.clientReceived() == Self.chunk("data: a\n\n"))
        // From 30 s on, events are held until 1000 bytes gather.
        proxy.loop.advanceTime(by: .seconds(1))
        try self.serverChunk(proxy, "data: b\n\n")
        #expect(proxy.clientReceived() == "")
        try self.serverChunk(proxy, "data: " + String(repeating: "c", count: 1000) + "\n\n")
        #expect(proxy.clientReceived() == Self.chunk("data: b\n\n") + Self.chunk("data: " + String(repeating: "c", count: 1000) + "\n\n"))
    }

    // MARK: Lifetimes

    @Test func maxConnectionLifetimeClosesABusyPair() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(maxConnectionLifetime: .seconds(60)))
        try proxy.upgrade()
        // Traffic every 10 s does not matter: the pair is 60 s old and closes.
        for _ in 0..<5 {
            proxy.loop.advanceTime(by: .seconds(10))
            try proxy.serverSends("\u{81}\u{01}x")
        }
        #expect(proxy.client.isActive && proxy.upstream.isActive)
        proxy.loop.advanceTime(by: .seconds(10))
        #expect(!proxy.client.isActive && !proxy.upstream.isActive)
        #expect(proxy.cell.lifetimeClosures == 1)
    }

    @Test func maxResponseTimeAnswers504WhenNothingCameBack() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(maxResponseTime: .seconds(30)))
        try proxy.clientSendsRequest("GET /sync?topic=metrics&wait=60000 HTTP/1.1\r\nHost: server\r\n\r\n")
        proxy.loop.advanceTime(by: .seconds(30))
        let response = proxy.clientReceived()
        #expect(response.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"), "\(response)")
        #expect(!proxy.client.isActive && !proxy.upstream.isActive)
    }

    @Test func maxResponseTimeCutsAStreamAndAWebSocketButNotCompleteResponses() throws {
        // Complete responses within the limit, one after another for two minutes: nothing happens.
        let polling = try ProxyHarness(HTTPProxyPolicy(maxResponseTime: .seconds(30)))
        for _ in 0..<12 {
            try polling.clientSendsRequest("GET /sync?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
            polling.loop.advanceTime(by: .seconds(5))
            try polling.serverSends("HTTP/1.1 304 Not Modified\r\n\r\n")
            polling.loop.advanceTime(by: .seconds(5))
        }
        #expect(polling.client.isActive && polling.cell.lifetimeClosures == 0)

        // A stream that outlives the limit is cut (its head already went, so no 504).
        let stream = try ProxyHarness(HTTPProxyPolicy(maxResponseTime: .seconds(30)))
        try stream.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try stream.serverSends(Self.eventStreamHead)
        _ = stream.clientReceived()
        stream.loop.advanceTime(by: .seconds(29))
        try self.serverChunk(stream, "data: a\n\n")
        #expect(stream.client.isActive)
        stream.loop.advanceTime(by: .seconds(1))
        #expect(stream.clientReceived() == Self.chunk("data: a\n\n"))
        #expect(!stream.client.isActive && stream.cell.lifetimeClosures == 1)

        // A WebSocket is a response that never ends: it lives 30 s from its request.
        let socket = try ProxyHarness(HTTPProxyPolicy(maxResponseTime: .seconds(30)))
        try socket.upgrade()
        socket.loop.advanceTime(by: .seconds(29))
        #expect(socket.client.isActive)
        socket.loop.advanceTime(by: .seconds(1))
        #expect(!socket.client.isActive && !socket.upstream.isActive)
    }

    // MARK: Content-type block

    @Test func blockedContentTypeGetsA403WhileOthersPass() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(blockContentTypes: ["text/event-stream"]))
        // Before the proxy (the server's answer) the stream is there…
        try proxy.clientSendsRequest("GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try proxy.serverSends("HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n")
        try self.serverChunk(proxy, "data: a\n\n")
        // …after it, a 403 that says why, and a closed connection.
        let response = proxy.clientReceived()
        #expect(response.hasPrefix("HTTP/1.1 403 Forbidden\r\n"), "\(response)")
        #expect(response.hasSuffix("proxy: content type text/event-stream is blocked by policy\n"), "\(response)")
        #expect(!response.contains("data: a"))
        #expect(!proxy.client.isActive && proxy.cell.blockedResponses == 1)

        let json = try ProxyHarness(HTTPProxyPolicy(blockContentTypes: ["text/event-stream"]))
        try json.clientSendsRequest("GET /sync?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n")
        try json.serverSends("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        #expect(json.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    }

    // MARK: Connections per client

    @Test func connectionsBeyondTheCapWaitForASlot() throws {
        let cell = HTTPProxyPolicyCell(HTTPProxyPolicy(maxConnectionsPerClient: 2))
        let loop = EmbeddedEventLoop()
        let first = try ProxyHarness(cell: cell, loop: loop, clientAddress: "10.0.1.1")
        let second = try ProxyHarness(cell: cell, loop: loop, clientAddress: "10.0.1.1")
        let third = try ProxyHarness(cell: cell, loop: loop, clientAddress: "10.0.1.1")
        let other = try ProxyHarness(cell: cell, loop: loop, clientAddress: "10.0.1.2")
        let request = "GET /events?topic=metrics HTTP/1.1\r\nHost: server\r\n\r\n"
        try first.clientSendsRequest(request)
        try second.clientSendsRequest(request)
        // The third connection from the same client is accepted, but its request goes nowhere…
        try third.clientSends(request)
        #expect(third.upstreamsOpened == 0 && third.serverReceived() == "")
        #expect(cell.connectionsQueued == 1)
        // …while another client is not affected.
        try other.clientSendsRequest(request)
        // When one of the first two closes, the waiting request goes upstream.
        try first.client.close().wait()
        loop.run()
        #expect(third.upstreamsOpened == 1)
        #expect(third.serverReceived() == request)
    }

    // MARK: Deep-packet inspection

    /// A server → client text frame with `payload`.
    static func frame(_ payload: String) -> [UInt8] {
        [0x81, UInt8(payload.utf8.count)] + Array(payload.utf8)
    }

    @Test func dpiByteBudgetDropsWholeFramesOnceSpent() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(webSocketBytesBudget: 20))
        try proxy.upgrade()
        // Two 12-byte frames: the first fits (12 < 20), the second starts under budget and
        // passes whole (24 bytes counted); the third starts over budget and is dropped whole.
        let frames = Self.frame("0123456789") + Self.frame("abcdefghij") + Self.frame("ABCDEFGHIJ")
        try proxy.serverSends(bytes: ByteBuffer(bytes: frames))
        #expect(proxy.clientReceivedBytes() == Self.frame("0123456789") + Self.frame("abcdefghij"))
        // The client's masked frames are dropped too (the budget is the connection's).
        let masked: [UInt8] = [0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6B]
        try proxy.clientSends(bytes: ByteBuffer(bytes: masked))
        #expect(proxy.serverReceivedBytes() == [])
        #expect(proxy.cell.framesDropped == 2)
        // Both connections stay open: the application just stops hearing anything.
        #expect(proxy.client.isActive && proxy.upstream.isActive)
    }

    @Test func dpiTimeBudgetDropsFramesThatStartLate() throws {
        let proxy = try ProxyHarness(HTTPProxyPolicy(webSocketTimeBudget: .seconds(60)))
        try proxy.upgrade()
        // A frame split across two reads passes whole even if its tail comes after the limit.
        let long = Self.frame("a long frame payload")
        try proxy.serverSends(bytes: ByteBuffer(bytes: Array(long[0..<5])))
        proxy.loop.advanceTime(by: .seconds(60))
        try proxy.serverSends(bytes: ByteBuffer(bytes: Array(long[5...])))
        #expect(proxy.clientReceivedBytes() == long)
        try proxy.serverSends(bytes: ByteBuffer(bytes: Self.frame("late")))
        #expect(proxy.clientReceivedBytes() == [])
    }

    @Test func theFrameGateFollowsFramesWhateverTheSplit() {
        // Frames with 7-bit, 16-bit and 64-bit lengths, masked and not, one empty.
        var stream: [UInt8] = Self.frame("hi")
        stream += [0x82, 126, 0x01, 0x00] + [UInt8](repeating: 7, count: 256)
        stream += [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 9, 9, 9, 9] + [UInt8](repeating: 8, count: 258)
        stream += [0x89, 0x00]
        stream += Self.frame("tail")
        for size in [1, 2, 5, 13, stream.count] {
            var gate = WebSocketFrameGateProbe()
            var index = 0
            while index < stream.count {
                gate.feed(Array(stream[index..<min(index + size, stream.count)]))
                index += size
            }
            // Every second frame dropped: the frames that pass are exactly the 1st, 3rd and 5th.
            #expect(gate.sizes == [4, 260, 272, 2, 6], "split \(size)")
            #expect(gate.passed == Self.frame("hi") + Array(stream[264..<(264 + 272)]) + Self.frame("tail"), "split \(size)")
        }
    }
}
