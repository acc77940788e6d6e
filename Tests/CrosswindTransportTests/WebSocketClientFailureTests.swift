import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// How a WebSocket client ends: heartbeat timeouts, server close frames, bad frames, rejected
/// upgrades and lost connections. Server frames are injected as raw bytes where the real
/// server would never send them.
@Suite struct WebSocketClientFailureTests {
    /// An open pair (welcome received), for injecting frames into the client.
    static func openPair() throws -> WebSocketPair {
        let pair = try WebSocketPair(epoch: 5)
        do {
            try pair.connect()
            try #require(pair.delegate.opened.count == 1)
            return pair
        } catch {
            pair.shutdown()  // never leak an open EmbeddedChannel
            throw error
        }
    }

    @Test func silentServerTriggersHeartbeatTimeout() throws {
        // The ping after 25 s never reaches the server (its bytes are dropped), so nothing
        // comes back; 10 s later the client reports heartbeatTimeout and closes its channel.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        pair.loop.advanceTime(by: .seconds(25))
        var dropped = 0
        while let chunk = try pair.client.readOutbound(as: ByteBuffer.self) { dropped += chunk.readableBytes }
        #expect(dropped == 2 + 4 + 8)  // header, mask key, 8-byte counter
        pair.loop.advanceTime(by: .seconds(9))
        #expect(pair.delegate.closed == [])
        pair.loop.advanceTime(by: .seconds(1))
        #expect(pair.delegate.closed == [.heartbeatTimeout])
        #expect(!pair.client.isActive)
        try pair.finish()
    }

    /// A close frame's payload, the code the client should report and the payload it answers with.
    struct CloseCase: Sendable {
        var payload: [UInt8]
        var code: UInt16
        var reply: [UInt8]
    }

    @Test(arguments: [
        CloseCase(payload: [0x03, 0xE9], code: 1001, reply: [0x03, 0xE9]),  // going away: echoed
        CloseCase(payload: [0x0F, 0xA0, 0x62, 0x79, 0x65], code: 4000, reply: [0x0F, 0xA0]),  // code with a reason
        CloseCase(payload: [], code: 1005, reply: [0x03, 0xE8]),  // no code: reported as 1005, answered with 1000
    ])
    func serverCloseFrameIsReportedAndAnswered(testCase: CloseCase) throws {
        let (payload, code, reply) = (testCase.payload, testCase.code, testCase.reply)
        // A close frame from the server ends the client with serverClosed(code); the client
        // answers with a masked close frame and closes its channel.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        try pair.injectIntoClient(serverFrame(opcode: 0x8, payload))
        #expect(pair.delegate.closed == [.serverClosed(code: code)])
        #expect(!pair.client.isActive)
        try pair.pump()
        let answer = try #require(pair.clientFrames.last)
        #expect(answer.opcode == 0x8)
        #expect(answer.maskKey != nil)
        #expect(answer.payload == reply)
        try pair.finish()
    }

    @Test func serverPingIsAnsweredWithAMaskedPong() throws {
        // A ping from the server gets a pong with the same payload, masked.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        try pair.injectIntoClient(serverFrame(opcode: 0x9, Array("hb-7".utf8)))
        try pair.pump()
        let pong = try #require(pair.clientFrames.last)
        #expect(pong.opcode == 0xA)
        #expect(pong.maskKey != nil)
        #expect(pong.text == "hb-7")
        #expect(pair.delegate.closed == [])
        try pair.finish()
    }

    @Test func duplicatesAndGapsFromTheWire() throws {
        // Offsets 1, 1, 3, 2 arrive: the repeat and the late one are suppressed, the gap is
        // counted, and the application sees 1 and 3 once each.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        for offset in [1, 1, 3, 2] {
            let text = #"{"type":"message","topic":"metrics","epoch":5,"offset":\#(offset),"data":\#(offset)}"#
            try pair.injectIntoClient(serverFrame(opcode: 0x1, Array(text.utf8)))
        }
        #expect(pair.delegate.messages.map(\.offset) == [1, 3])
        #expect(pair.delegate.messages.map { String(buffer: $0.data) } == ["1", "3"])
        #expect(pair.webSocketClient.tracker.duplicatesSuppressed == 2)
        #expect(pair.webSocketClient.tracker.missing == 1)
        #expect(pair.delegate.closed == [])
        try pair.finish()
    }

    @Test(arguments: [
        ("not json", "protocol violation: undecodable frame"),
        (#"{"type":"nonsense"}"#, "protocol violation: undecodable frame"),
        (#"{"type":"error","reason":"overloaded"}"#, "protocol violation: server error: overloaded"),
    ])
    func badFramesEndTheConnection(text: String, description: String) throws {
        // An undecodable text frame or a server error frame ends the client with a protocol
        // violation and closes the channel.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        try pair.injectIntoClient(serverFrame(opcode: 0x1, Array(text.utf8)))
        #expect(pair.delegate.closed.map(\.description) == [description])
        #expect(pair.delegate.closed.map(\.code) == [7])
        #expect(!pair.client.isActive)
        try pair.finish()
    }

    @Test func secondWelcomeIsAProtocolViolation() throws {
        // A welcome after the connection is open is not expected and ends it.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        let text = #"{"type":"welcome","topic":"metrics","epoch":5,"next":1}"#
        try pair.injectIntoClient(serverFrame(opcode: 0x1, Array(text.utf8)))
        #expect(pair.delegate.closed.map(\.code) == [7])
        #expect(!pair.webSocketClient.isOpen)
        try pair.finish()
    }

    @Test(arguments: [("a/b", "/ws", "400"), ("metrics", "/nope", "404"), ("", "/ws", "400")])
    func rejectedUpgradeIsReported(topic: String, path: String, status: String) throws {
        // An invalid topic or an unknown path gets a plain HTTP error instead of 101; the
        // client reports upgradeRejected and never opens.
        let pair = try WebSocketPair(topic: topic, path: path)
        defer { pair.shutdown() }
        try pair.connect()
        let response = try #require(pair.serverResponse)
        #expect(response.hasPrefix("HTTP/1.1 \(status) "))
        #expect(pair.delegate.opened == [])
        #expect(pair.delegate.closed == [.upgradeRejected])
        #expect(!pair.client.isActive)
        #expect(pair.hub.subscriberCount(topic) == 0)
        // The refused upgrade also fired NIO's unsupportedWebSocketTarget down the server's
        // pipeline (only when the target, not the headers, was refused).
        #expect(pair.serverErrors.count == 1)
        #expect("\(pair.serverErrors)".contains("unsupportedWebSocketTarget"))
        try pair.finish()
    }

    @Test func channelClosingAfterOpenIsConnectionLost() throws {
        // The client's channel going away without a close frame (a reset) is connectionLost,
        // reported once.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        try pair.client.close().wait()
        #expect(pair.delegate.closed == [.connectionLost])
        pair.webSocketClient.close()
        #expect(pair.delegate.closed == [.connectionLost])
        try pair.finish()
    }

    @Test func channelClosingBeforeUpgradeIsConnectionFailed() throws {
        // The client's channel closing while the upgrade request is still unanswered is a
        // failed connection with a fixed explanation.
        let pair = try WebSocketPair()
        defer { pair.shutdown() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
        try pair.client.connect(to: address).wait()
        #expect(try pair.client.readOutbound(as: ByteBuffer.self) != nil)  // the request
        try pair.client.close().wait()
        #expect(pair.delegate.closed == [.connectionFailed("closed before the upgrade completed")])
        #expect(pair.delegate.opened == [])
        try pair.finish()
    }

    @Test func serverSideCloseUnsubscribes() throws {
        // When the server's channel goes inactive, its connection leaves the topic.
        let pair = try Self.openPair()
        defer { pair.shutdown() }
        #expect(pair.hub.subscriberCount("metrics") == 1)
        try pair.server.close().wait()
        #expect(pair.hub.subscriberCount("metrics") == 0)
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "1"))
        try pair.pump()
        #expect(pair.delegate.messages == [])
        try pair.finish()
    }

    // MARK: Frames that break the framing rules
    //
    // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes. A
    // misbehaving server sends one to an open client.

    /// Raw server frames the client's frame decoder must refuse, with the close code NIO
    /// answers them with (1002 protocol error).
    static let badFrames: [String: [UInt8]] = [
        "fragmented ping": [0x09, 0x00],  // FIN clear on a control frame
        "ping with a 16-bit length": [0x89, 126, 0x00, 0x7E] + [UInt8](repeating: 0x61, count: 126),
    ]
    /// The labels of ``badFrames`` (the arguments, so test output stays readable).
    static let badFrameLabels = ["fragmented ping", "ping with a 16-bit length"]

    /// An open pair that then receives `bytes` from the "server".
    static func pair(seed: UInt64, receiving label: String) throws -> WebSocketPair {
        let bytes = try #require(badFrames[label])
        let pair = try WebSocketPair(seed: seed, epoch: 5)
        do {
            try pair.connect()
            try #require(pair.delegate.opened.count == 1)
            do {
                try pair.injectIntoClient(bytes)
            } catch {
                // The decoder's error may travel to the end of the client's pipeline.
            }
            try pair.pump()
            return pair
        } catch {
            pair.shutdown()  // never leak an open EmbeddedChannel
            throw error
        }
    }

    @Test(arguments: WebSocketClientFailureTests.badFrameLabels)
    func badFramingClosesWithProtocolError(label: String) throws {
        // The client answers with a masked close frame carrying 1002 and closes its channel.
        let pair = try Self.pair(seed: 1, receiving: label)
        defer { pair.shutdown() }
        let close = try #require(pair.clientFrames.last, "\(label)")
        #expect(close.opcode == 0x8)
        #expect(close.maskKey != nil)
        #expect(close.payload == [0x03, 0xEA])
        #expect(!pair.client.isActive)
        #expect(!pair.webSocketClient.isOpen)
        #expect(pair.delegate.closed.count == 1)
        try pair.finish()
    }

    @Test(arguments: WebSocketClientFailureTests.badFrameLabels)
    func badFramingIsReportedAsAProtocolViolation(label: String) throws {
        // ClientCloseReason.protocolViolation is documented as "the server sent a frame
        // Crosswind could not understand"; a frame that breaks the framing rules is one.
        // BUG (fails today): NIO's WebSocketProtocolErrorHandler (installed by
        // `automaticErrorHandling: true`, WebSocketClient.swift:129) closes the channel
        // before the error reaches WebSocketClientHandler, so the client reports
        // `connectionLost` (code 5) instead.
        let pair = try Self.pair(seed: 1, receiving: label)
        defer { pair.shutdown() }
        #expect(pair.delegate.closed.count == 1)
        #expect(pair.delegate.closed.map(\.code) == [7], "\(label): \(pair.delegate.closed)")
        try pair.finish()
    }

    @Test(arguments: WebSocketClientFailureTests.badFrameLabels)
    func sameSeedSameBytesEvenOnProtocolErrors(label: String) throws {
        // WebSocketClient promises that every masking key comes from the owner's generator,
        // so one seed must put identical bytes on the wire, including the close frame sent
        // in answer to a bad frame.
        // BUG (fails today): that close frame is written by NIO's
        // WebSocketProtocolErrorHandler, which masks with SystemRandomNumberGenerator
        // (`.random()`), so its 4-byte mask key (and the masked payload) changes from run to
        // run (`automaticErrorHandling: true`, WebSocketClient.swift:129).
        let first = try Self.pair(seed: 11, receiving: label)
        defer { first.shutdown() }
        let second = try Self.pair(seed: 11, receiving: label)
        defer { second.shutdown() }
        // Everything before the error frame is identical ...
        #expect(first.clientFrames.count == second.clientFrames.count)
        #expect(first.clientRequest == second.clientRequest)
        // ... and so should the error frame be (its payload, once unmasked, is).
        let firstClose = try #require(first.clientFrames.last)
        let secondClose = try #require(second.clientFrames.last)
        #expect(firstClose.payload == secondClose.payload)
        #expect(firstClose.maskKey == secondClose.maskKey, "\(label)")
        try first.finish()
        try second.finish()
    }

    @Test func closeReasonDescriptionsAndCodes() {
        // Each reason has a stable short code and a readable description.
        let reasons: [ClientCloseReason] = [
            .connectionFailed("refused"), .upgradeRejected, .heartbeatTimeout, .serverClosed(code: 1001),
            .connectionLost, .closedByApplication, .protocolViolation("x"),
        ]
        #expect(reasons.map(\.code) == [1, 2, 3, 4, 5, 6, 7])
        #expect(reasons.map(\.description) == [
            "connection failed: refused", "upgrade rejected", "heartbeat timeout", "server closed (1001)",
            "connection lost", "closed by application", "protocol violation: x",
        ])
    }
}
