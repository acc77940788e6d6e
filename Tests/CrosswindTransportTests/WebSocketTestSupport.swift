import CrosswindRandom
import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// Shared pieces of the WebSocket tests: a recording delegate, a
/// server/client pair of EmbeddedChannels wired back to back, and a raw frame reader.

/// Standard base64 (RFC 4648) with padding, for computing expected request keys.
func base64(_ bytes: [UInt8]) -> String {
    let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var out = ""
    var index = 0
    while index < bytes.count {
        let b0 = bytes[index]
        let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
        let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
        out.append(table[Int(b0 >> 2)])
        out.append(table[Int((b0 & 0x03) << 4 | b1 >> 4)])
        out.append(index + 1 < bytes.count ? table[Int((b1 & 0x0F) << 2 | b2 >> 6)] : "=")
        out.append(index + 2 < bytes.count ? table[Int(b2 & 0x3F)] : "=")
        index += 3
    }
    return out
}

/// Records everything the client tells its application.
final class RecordingDelegate: RealtimeClientDelegate {
    var opened: [Welcome] = []
    var openedAt: [NIODeadline] = []
    var messages: [RealtimeMessage] = []
    var closed: [ClientCloseReason] = []

    func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
        self.opened.append(welcome)
        self.openedAt.append(time)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
        self.messages.append(message)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
        self.closed.append(reason)
    }
}

/// One WebSocket frame as read off the wire, payload already unmasked.
struct RawFrame: Equatable {
    var fin: Bool
    var opcode: UInt8
    var maskKey: [UInt8]?
    var payload: [UInt8]
    var text: String { String(decoding: self.payload, as: UTF8.self) }
}

/// Splits `bytes` into an HTTP head (through the blank line) and the frames that follow.
func splitHTTPHead(_ bytes: [UInt8]) -> (head: String, rest: [UInt8])? {
    let marker: [UInt8] = [13, 10, 13, 10]
    guard bytes.count >= 4 else { return nil }
    for index in 0...(bytes.count - 4) where Array(bytes[index..<(index + 4)]) == marker {
        return (String(decoding: bytes[0..<(index + 4)], as: UTF8.self), Array(bytes[(index + 4)...]))
    }
    return nil
}

/// Reads whole WebSocket frames (RFC 6455 §5.2) from `bytes`; an incomplete tail is ignored.
func parseFrames(_ bytes: [UInt8]) -> [RawFrame] {
    var frames: [RawFrame] = []
    var index = 0
    while bytes.count - index >= 2 {
        let fin = bytes[index] & 0x80 != 0
        let opcode = bytes[index] & 0x0F
        let masked = bytes[index + 1] & 0x80 != 0
        var length = Int(bytes[index + 1] & 0x7F)
        var cursor = index + 2
        let extra = length == 126 ? 2 : (length == 127 ? 8 : 0)
        guard bytes.count - cursor >= extra else { break }
        if extra > 0 {
            length = bytes[cursor..<(cursor + extra)].reduce(0) { $0 << 8 | Int($1) }
            cursor += extra
        }
        let keyLength = masked ? 4 : 0
        guard bytes.count - cursor >= keyLength + length else { break }
        let key = masked ? Array(bytes[cursor..<(cursor + 4)]) : nil
        cursor += keyLength
        var payload = Array(bytes[cursor..<(cursor + length)])
        if let key {
            for position in payload.indices { payload[position] ^= key[position % 4] }
        }
        frames.append(RawFrame(fin: fin, opcode: opcode, maskKey: key, payload: payload))
        index = cursor + length
    }
    return frames
}

/// A server channel (WebSocketServer on a TopicHub) and a client channel (WebSocketClient)
/// on one EmbeddedEventLoop, with every byte either side writes carried to the other.
final class WebSocketPair {
    let loop = EmbeddedEventLoop()
    let hub: TopicHub
    let server: EmbeddedChannel
    let client: EmbeddedChannel
    let delegate = RecordingDelegate()
    let webSocketClient: WebSocketClient
    /// Everything each side sent, in order.
    private(set) var clientBytes: [UInt8] = []
    private(set) var serverBytes: [UInt8] = []
    /// Errors that reached the end of the server's pipeline (writeInbound rethrows them).
    private(set) var serverErrors: [any Error] = []

    /// With `topics`, the client multiplexes them on its one connection, resuming each from
    /// its entry in `resumeFromEach`.
    init(
        seed: UInt64 = 1, epoch: UInt64 = 77, topic: String = "metrics", path: String = "/ws", topics: [String] = [],
        resumeFromEach: TopicCursors = TopicCursors()
    ) throws {
        self.hub = TopicHub(epoch: epoch)
        self.server = EmbeddedChannel(loop: self.loop)
        self.client = EmbeddedChannel(loop: self.loop)
        var configuration = WebSocketClientConfiguration(host: "server.test", topic: topic)
        configuration.path = path
        configuration.topics = topics
        configuration.resumeFromEach = resumeFromEach
        self.webSocketClient = WebSocketClient(configuration: configuration, random: SplitMix64(seed: seed), delegate: self.delegate)
        do {
            try WebSocketServer.configure(self.server, hub: self.hub)
            try self.webSocketClient.configure(self.client)
        } catch {
            self.shutdown()  // never leak an open EmbeddedChannel
            throw error
        }
    }

    /// Connects both ends (the client writes its upgrade request) and exchanges until quiet.
    func connect() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
        try self.server.connect(to: address).wait()
        try self.client.connect(to: address).wait()
        try self.pump()
    }

    /// How the carried bytes are cut into reads: as each write produced them, all pending
    /// bytes of one side as a single read, or in pieces of a fixed size.
    enum Segmentation {
        case asWritten
        case coalesced
        case pieces(Int)
    }

    var segmentation: Segmentation = .asWritten

    /// Carries bytes both ways until neither side has anything to send. Bytes for a closed
    /// channel are dropped, as a network would.
    func pump() throws {
        var progressed = true
        while progressed {
            progressed = false
            self.loop.run()
            let toServer = try self.drain(self.client)
            self.clientBytes += toServer.flatMap { $0 }
            for piece in self.cut(toServer) where self.server.isActive {
                do {
                    try self.server.writeInbound(ByteBuffer(bytes: piece))
                } catch {
                    self.serverErrors.append(error)
                }
            }
            let toClient = try self.drain(self.server)
            self.serverBytes += toClient.flatMap { $0 }
            for piece in self.cut(toClient) where self.client.isActive {
                try self.client.writeInbound(ByteBuffer(bytes: piece))
            }
            progressed = !toServer.isEmpty || !toClient.isEmpty
        }
    }

    /// Every buffer a channel has written so far, in order.
    private func drain(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) { chunks.append(Array(chunk.readableBytesView)) }
        return chunks
    }

    private func cut(_ chunks: [[UInt8]]) -> [[UInt8]] {
        switch self.segmentation {
        case .asWritten:
            return chunks
        case .coalesced:
            let all = chunks.flatMap { $0 }
            return all.isEmpty ? [] : [all]
        case .pieces(let size):
            let all = chunks.flatMap { $0 }
            return stride(from: 0, to: all.count, by: size).map { Array(all[$0..<Swift.min($0 + size, all.count)]) }
        }
    }

    /// Writes bytes to the client as if the server had sent them.
    func injectIntoClient(_ bytes: [UInt8]) throws {
        try self.client.writeInbound(ByteBuffer(bytes: bytes))
        self.loop.run()
    }

    /// The client's HTTP request head and the frames it sent after it.
    var clientRequest: String? { splitHTTPHead(self.clientBytes)?.head }
    var clientFrames: [RawFrame] { splitHTTPHead(self.clientBytes).map { parseFrames($0.rest) } ?? [] }
    /// The server's HTTP response head and the frames it sent after it.
    var serverResponse: String? { splitHTTPHead(self.serverBytes)?.head }
    var serverFrames: [RawFrame] { splitHTTPHead(self.serverBytes).map { parseFrames($0.rest) } ?? [] }

    /// Closes both channels, failing on any error they caught.
    func finish() throws {
        _ = try self.client.finish(acceptAlreadyClosed: true)
        _ = try self.server.finish(acceptAlreadyClosed: true)
    }

    /// Safety net for early exits: closes both channels, ignoring errors (an EmbeddedChannel
    /// left open asserts when it is deallocated).
    func shutdown() {
        _ = try? self.client.finish(acceptAlreadyClosed: true)
        _ = try? self.server.finish(acceptAlreadyClosed: true)
    }
}

/// The value of header `name` (case-insensitive) in an HTTP head.
func headerValue(_ name: String, in head: String) -> String? {
    for line in head.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].lowercased() == name.lowercased() {
            return String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
        }
    }
    return nil
}

/// A server frame (unmasked) as bytes: FIN + opcode, length, payload (< 126 bytes).
func serverFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
    precondition(payload.count < 126)
    return [0x80 | opcode, UInt8(payload.count)] + payload
}
