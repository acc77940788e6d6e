import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// The same WebSocket session with the bytes cut differently on the way: TCP may coalesce
/// the 101 response with the welcome, or split anything anywhere. The outcome must not change.
@Suite struct WebSocketSegmentationTests {
    /// How to cut the bytes, named for the test output.
    static let cuts: [(String, WebSocketPair.Segmentation)] = [
        ("as written", .asWritten),
        ("coalesced", .coalesced),
        ("1-byte pieces", .pieces(1)),
        ("2-byte pieces", .pieces(2)),
        ("7-byte pieces", .pieces(7)),
        ("64-byte pieces", .pieces(64)),
    ]

    /// Runs a session (open, 3 messages of which one large, a heartbeat, close) and returns
    /// what the application saw and what crossed the wire.
    static func session(_ segmentation: WebSocketPair.Segmentation) throws -> (
        delegate: RecordingDelegate, client: [UInt8], server: [UInt8], serverActive: Bool, subscribers: Int
    ) {
        let pair = try WebSocketPair(seed: 21, epoch: 3)
        defer { pair.shutdown() }
        pair.segmentation = segmentation
        try pair.connect()
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: #"{"n":1}"#))
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: "[" + String(repeating: "1,", count: 40_000) + "1]"))
        pair.hub.publish(topic: "metrics", data: ByteBuffer(string: #""end""#))
        try pair.pump()
        pair.loop.advanceTime(by: .seconds(25))
        try pair.pump()
        pair.webSocketClient.close()
        try pair.pump()
        let result = (pair.delegate, pair.clientBytes, pair.serverBytes, pair.server.isActive, pair.hub.subscriberCount("metrics"))
        try pair.finish()
        return result
    }

    @Test(arguments: WebSocketSegmentationTests.cuts)
    func outcomeDoesNotDependOnSegmentation(label: String, segmentation: WebSocketPair.Segmentation) throws {
        // Opened once with (epoch 3, next 1), three messages in order with exact data (the
        // second one 80 KB), a clean close handshake, and byte-for-byte the same traffic as
        // when nothing is cut.
        let reference = try Self.session(.asWritten)
        let run = try Self.session(segmentation)
        #expect(run.delegate.opened == [Welcome(topic: "metrics", epoch: 3, next: 1, live: 1)], "\(label)")
        #expect(run.delegate.messages.map(\.offset) == [1, 2, 3], "\(label)")
        #expect(run.delegate.messages.map(\.data.readableBytes) == [7, 80_003, 5], "\(label)")
        #expect(run.delegate.messages.last.map { String(buffer: $0.data) } == #""end""#)
        #expect(run.delegate.closed == [.closedByApplication], "\(label)")
        #expect(!run.serverActive)
        #expect(run.subscribers == 0)
        #expect(run.client == reference.client, "\(label)")
        #expect(run.server == reference.server, "\(label)")
    }

    @Test func largeMessageUsesAn8ByteLength() throws {
        // The 80 003-byte message travels as one text frame with a 64-bit length (127), so
        // the frame reader and the client's decoder both handled the long form.
        let run = try Self.session(.coalesced)
        let frames = splitHTTPHead(run.server).map { parseFrames($0.rest) } ?? []
        let large = try #require(frames.first { $0.payload.count > 65_535 })
        #expect(large.opcode == 0x1)
        #expect(large.fin)
        let prefix = #"{"type":"message","topic":"metrics","epoch":3,"offset":2,"data":["#
        #expect(large.text.hasPrefix(prefix))
        #expect(large.payload.count == prefix.utf8.count + 80_000 + 2 + 1)  // "1,"×40 000, "1]", "}"
    }

    @Test(arguments: [WebSocketPair.Segmentation.coalesced, .pieces(5)] as [WebSocketPair.Segmentation])
    func burstOfFramesIsDeliveredInOrder(segmentation: WebSocketPair.Segmentation) throws {
        // 200 messages published back to back reach the client in one read (or in 5-byte
        // pieces); the decoder takes every frame out of it, in order, none twice.
        let pair = try WebSocketPair(seed: 2, epoch: 8)
        defer { pair.shutdown() }
        pair.segmentation = segmentation
        try pair.connect()
        for index in 1...200 {
            pair.hub.publish(topic: "metrics", data: ByteBuffer(string: #"{"i":\#(index)}"#))
        }
        try pair.pump()
        #expect(pair.delegate.messages.map(\.offset) == Array(1...200))
        #expect(pair.delegate.messages.last.map { String(buffer: $0.data) } == #"{"i":200}"#)
        #expect(pair.webSocketClient.tracker.duplicatesSuppressed == 0)
        #expect(pair.webSocketClient.tracker.missing == 0)
        try pair.finish()
    }

    @Test(arguments: [1, 3, 10])
    func httpRequestInPiecesGetsTheSameAnswer(pieceSize: Int) throws {
        // GET /negotiate written to a bare server channel in pieces of `pieceSize` bytes is
        // answered once, with the same 200 as when written whole.
        let hub = TopicHub(epoch: 31)
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try WebSocketServer.configure(channel, hub: hub)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        let request = Array("GET /negotiate HTTP/1.1\r\nHost: server\r\n\r\n".utf8)
        for start in stride(from: 0, to: request.count, by: pieceSize) {
            try channel.writeInbound(ByteBuffer(bytes: request[start..<min(start + pieceSize, request.count)]))
        }
        var output: [UInt8] = []
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) { output += Array(chunk.readableBytesView) }
        let (head, body) = try #require(splitHTTPHead(output))
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(String(decoding: body, as: UTF8.self) == #"{"transports":["websocket","sse","sync"],"endpoints":{"websocket":"/ws","sse":"/events","sync":"/sync","send":"/send"},"epoch":31}"#)
        _ = try channel.finish()
    }
}
