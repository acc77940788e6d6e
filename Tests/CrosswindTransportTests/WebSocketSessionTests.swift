import CrosswindRandom
import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// A WebSocket session end to end, without a network: WebSocketServer and WebSocketClient on
/// two EmbeddedChannels whose bytes are carried back and forth by the test.
@Suite struct WebSocketSessionTests {
    @Test func upgradeAndWelcome() throws {
        // The client's upgrade request gets a 101, the server's first frame is the welcome,
        // and the client reports `opened` with the hub's epoch and next offset 1.
        let pair = try WebSocketPair(epoch: 77)
        defer { pair.shutdown() }
        try pair.connect()

        #expect(pair.delegate.opened == [Welcome(topic: "metrics", epoch: 77, next: 1, live: 1)])
        #expect(pair.delegate.openedAt == [pair.loop.now])
        #expect(pair.delegate.closed == [])
        #expect(pair.webSocketClient.isOpen)
        #expect(pair.hub.subscriberCount("metrics") == 1)
        let response = try #require(pair.serverResponse)
        #expect(response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(headerValue("upgrade", in: response)?.lowercased() == "websocket")
        #expect(pair.serverFrames == [
            RawFrame(fin: true, opcode: 0x1, maskKey: nil, payload: Array(#"{"type":"welcome","topic":"metrics","epoch":77,"next":1,"recovered":true,"live":1}"#.utf8))
        ])
        try pair.finish()
    }

    @Test func publishedMessagesArriveInOrderWithExactData() throws {
        // Three messages published on the client's topic arrive as offsets 1, 2, 3 with their
        // data byte for byte; a message on another topic does not arrive.
        let pair = try WebSocketPair(epoch: 9)
        defer { pair.shutdown() }
        try pair.connect()
        let payloads = [#"{"cpu":0.25,"tags":["a","b"]}"#, "[1,2,3]", #""three \"quoted\"""#]
        for payload in payloads {
            pair.hub.publish(topic: "metrics", data: ByteBuffer(string: payload))
        }
        pair.hub.publish(topic: "other", data: ByteBuffer(string: "0"))
        try pair.pump()

        #expect(pair.delegate.messages.map(\.offset) == [1, 2, 3])
        #expect(pair.delegate.messages.map { String(buffer: $0.data) } == payloads)
        #expect(pair.delegate.messages.allSatisfy { $0.topic == "metrics" && $0.epoch == 9 })
        #expect(pair.webSocketClient.tracker.last == StreamCursor(epoch: 9, offset: 3))
        #expect(pair.webSocketClient.tracker.duplicatesSuppressed == 0)
        try pair.finish()
    }

    @Test func lateJoinerStartsAtTheStreamsNextOffset() throws {
        // Two messages published before the client connects are not replayed: the welcome
        // says next 3, and the following publish arrives as offset 3.
        let pair = try WebSocketPair(epoch: 4)
        defer { pair.shutdown() }
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "1"))
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "2"))
        try pair.connect()
        #expect(pair.delegate.opened == [Welcome(topic: "metrics", epoch: 4, next: 3, live: 3)])
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "3"))
        try pair.pump()
        #expect(pair.delegate.messages == [RealtimeMessage(topic: "metrics", epoch: 4, offset: 3, data: ByteBuffer(string: "3"))])
        try pair.finish()
    }

    @Test func requestKeyIsDeterminedBySeed() throws {
        // The Sec-WebSocket-Key is base64 of the generator's first two draws (big-endian), so
        // one seed gives one key and another seed another key.
        func request(seed: UInt64) throws -> String {
            let pair = try WebSocketPair(seed: seed)
            defer { pair.shutdown() }
            try pair.connect()
            #expect(pair.delegate.opened.count == 1)
            try pair.finish()
            return try #require(pair.clientRequest)
        }
        let first = try request(seed: 7)
        #expect(first.hasPrefix("GET /ws?topic=metrics HTTP/1.1\r\n"))
        #expect(headerValue("host", in: first) == "server.test")
        #expect(headerValue("upgrade", in: first)?.lowercased() == "websocket")
        #expect(headerValue("sec-websocket-version", in: first) == "13")

        var generator = SplitMix64(seed: 7)
        let draws = [generator.next(), generator.next()]
        // Two raw outputs of the client's generator, least significant byte first.
        let expectedKey = base64(draws.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } })
        let key = try #require(headerValue("sec-websocket-key", in: first))
        #expect(key == expectedKey)
        #expect(key.count == 24)

        let again = try request(seed: 7)
        let other = try request(seed: 8)
        #expect(headerValue("sec-websocket-key", in: again) == key)
        #expect(headerValue("sec-websocket-key", in: other) != key)
    }

    @Test func base64MatchesRFCExamples() {
        // The helper used above, against RFC 4648 and RFC 6455's sample nonce.
        #expect(base64(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(base64(Array("fooba".utf8)) == "Zm9vYmE=")
        #expect(base64(Array("f".utf8)) == "Zg==")
        #expect(base64(Array("the sample nonce".utf8)) == "dGhlIHNhbXBsZSBub25jZQ==")
    }

    @Test func pingsAreAnsweredAndKeepTheConnectionAlive() throws {
        // After the heartbeat interval (25 s) the client pings with counter 1; the server
        // answers with a pong carrying the same payload; the timeout (10 s) passes quietly and
        // the next ping (counter 2) follows 25 s after the first.
        let pair = try WebSocketPair()
        defer { pair.shutdown() }
        try pair.connect()
        pair.loop.advanceTime(by: .seconds(25))
        try pair.pump()
        let counterOne: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1]
        #expect(pair.clientFrames.map(\.opcode) == [0x9])
        #expect(pair.clientFrames.first?.payload == counterOne)
        #expect(pair.serverFrames.last == RawFrame(fin: true, opcode: 0xA, maskKey: nil, payload: counterOne))

        pair.loop.advanceTime(by: .seconds(10))
        try pair.pump()
        #expect(pair.delegate.closed == [])
        #expect(pair.webSocketClient.isOpen)
        #expect(pair.clientFrames.count == 1)

        pair.loop.advanceTime(by: .seconds(15))
        try pair.pump()
        #expect(pair.clientFrames.map(\.payload) == [counterOne, [0, 0, 0, 0, 0, 0, 0, 2]])
        #expect(pair.serverFrames.filter { $0.opcode == 0xA }.count == 2)
        #expect(pair.delegate.closed == [])
        try pair.finish()
    }

    @Test func clientFramesAreMaskedAndServerFramesAreNot() throws {
        // Every frame the client sends (pings, close) carries a masking key; none of the
        // server's do (RFC 6455 §5.1). Keys come from the seeded generator, so two runs with
        // one seed send byte-identical streams.
        func transcript(seed: UInt64) throws -> (client: [UInt8], frames: [RawFrame], server: [RawFrame]) {
            let pair = try WebSocketPair(seed: seed)
            defer { pair.shutdown() }
            try pair.connect()
            pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "1"))
            pair.loop.advanceTime(by: .seconds(25))
            try pair.pump()
            pair.loop.advanceTime(by: .seconds(25))
            try pair.pump()
            pair.webSocketClient.close()
            try pair.pump()
            try pair.finish()
            return (pair.clientBytes, pair.clientFrames, pair.serverFrames)
        }
        let run = try transcript(seed: 3)
        #expect(run.frames.map(\.opcode) == [0x9, 0x9, 0x8])
        #expect(run.frames.allSatisfy { $0.maskKey != nil })
        #expect(Set(run.frames.compactMap(\.maskKey)).count == 3)
        #expect(run.server.count >= 4)
        #expect(run.server.allSatisfy { $0.maskKey == nil })
        #expect(try transcript(seed: 3).client == run.client)
        #expect(try transcript(seed: 4).client != run.client)
    }

    @Test func closingTheClientCompletesTheCloseHandshake() throws {
        // close() reports closedByApplication at once, sends a masked close frame with 1000;
        // the server answers with close 1000, closes its side and unsubscribes.
        let pair = try WebSocketPair()
        defer { pair.shutdown() }
        try pair.connect()
        pair.webSocketClient.close()
        #expect(pair.delegate.closed == [.closedByApplication])
        #expect(!pair.webSocketClient.isOpen)
        #expect(!pair.client.isActive)
        try pair.pump()

        let clientClose = try #require(pair.clientFrames.last)
        #expect(clientClose.opcode == 0x8)
        #expect(clientClose.maskKey != nil)
        #expect(clientClose.payload == [0x03, 0xE8])
        #expect(pair.serverFrames.last == RawFrame(fin: true, opcode: 0x8, maskKey: nil, payload: [0x03, 0xE8]))
        #expect(!pair.server.isActive)
        #expect(pair.hub.subscriberCount("metrics") == 0)
        // Nothing is reported twice, and messages published now go nowhere.
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "1"))
        try pair.pump()
        #expect(pair.delegate.closed == [.closedByApplication])
        #expect(pair.delegate.messages == [])
        try pair.finish()
    }
}
