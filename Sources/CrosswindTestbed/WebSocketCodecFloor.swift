import NIOCore
import NIOEmbedded
import NIOWebSocket

/// The least a WebSocket fan-out can cost in this testbed: each message framed by NIO's
/// encoder on the server's end of a connection and decoded by NIO's decoder on the client's,
/// a connection per client, nothing else (no network model, no TCP, no JSON, no handlers of
/// ours), the bytes handed straight from one embedded channel to the other.
///
/// A publish reaches every subscriber, so each round frames the message on every connection
/// before the first client reads it, as the network's delay separates the two in a run.
/// `crosswind bench --mode ws-floor` times it to show what the pipelines alone cost at a
/// client count, against what the simulation pays on top.
public enum WebSocketCodecFloor {
    private struct ConnectionPair {
        let client: EmbeddedChannel
        let server: EmbeddedChannel

        init(loop: EmbeddedEventLoop) throws {
            // What NIO's upgraders leave on each end: a frame decoder and a frame encoder.
            self.client = EmbeddedChannel(loop: loop)
            self.server = EmbeddedChannel(loop: loop)
            for channel in [self.client, self.server] {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
            }
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
            try self.client.connect(to: address).wait()
            try self.server.connect(to: address).wait()
        }

        func send(_ frame: WebSocketFrame) throws {
            try self.server.writeOutbound(frame)
        }

        /// The client reads what the server wrote; returns how many frames it decoded.
        func receive() throws -> Int {
            while let bytes = try self.server.readOutbound(as: ByteBuffer.self) { try self.client.writeInbound(bytes) }
            var frames = 0
            while try self.client.readInbound(as: WebSocketFrame.self) != nil { frames += 1 }
            return frames
        }

        func finish() {
            _ = try? self.client.finish(acceptAlreadyClosed: true)
            _ = try? self.server.finish(acceptAlreadyClosed: true)
        }
    }

    /// Sends `count` text frames of `messageBytes` in rounds over `connections` connections;
    /// returns how many frames the clients decoded (`count` unless a codec refused one).
    public static func run(count: Int, messageBytes: Int, connections: Int) throws -> Int {
        let loop = EmbeddedEventLoop()
        var pairs: [ConnectionPair] = []
        defer { for pair in pairs { pair.finish() } }
        for _ in 0..<max(connections, 1) { pairs.append(try ConnectionPair(loop: loop)) }
        // One message's JSON, shaped as the server's (framed once per publish, as it is there).
        var body = ByteBuffer()
        body.writeStaticString(#"{"type":"message","topic":"metrics","epoch":1234,"offset":5678,"data":{"padding":""#)
        body.writeRepeatingByte(UInt8(ascii: "x"), count: max(messageBytes, 0))
        body.writeStaticString(#""}}"#)
        let frame = WebSocketFrame(fin: true, opcode: .text, data: body)

        var frames = 0
        var remaining = count
        while remaining > 0 {
            let round = pairs.prefix(remaining)
            for pair in round { try pair.send(frame) }
            for pair in round { frames += try pair.receive() }
            remaining -= round.count
        }
        return frames
    }
}
