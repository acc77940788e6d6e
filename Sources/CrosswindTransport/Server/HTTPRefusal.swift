import NIOCore
import NIOHTTP1

/// A refusal written before, or instead of, HTTP handling: a complete response with a JSON
/// reason and `Connection: close`, as fixed bytes, then a lingering close.
///
/// For handlers at the head of a pipeline (raw bytes), where the HTTP handlers hold a
/// half-parsed request (a head too large or too slow) or are not there at all (a connection
/// over its address's cap). It must be sent from such a handler: further in, the bytes would
/// meet NIO's HTTP encoder.
///
/// Lingering close: the server closes its output at once but keeps reading (and discarding)
/// for `linger`, or until the client closes. Closing outright while the client is still
/// sending would make the kernel answer its next bytes with a reset, which can destroy the
/// response before the client reads it.
public struct HTTPRefusal: Sendable {
    public var status: HTTPResponseStatus
    public var reason: String
    /// Extra headers (e.g. `Retry-After`).
    public var headers: [(String, String)]
    /// How long input is still read and discarded after the response.
    public var linger: TimeAmount

    public init(status: HTTPResponseStatus, reason: String, headers: [(String, String)] = [], linger: TimeAmount = .seconds(2)) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.linger = linger
    }

    /// The response's bytes.
    public func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = WireFrame.encodeError(self.reason, allocator: allocator)
        var bytes = allocator.buffer(capacity: 256 + body.readableBytes)
        bytes.writeString("HTTP/1.1 \(self.status.code) \(self.status.reasonPhrase)\r\n")
        bytes.writeString("Content-Type: application/json\r\nContent-Length: \(body.readableBytes)\r\n")
        for (name, value) in self.headers { bytes.writeString("\(name): \(value)\r\n") }
        bytes.writeStaticString("Cache-Control: no-store\r\nConnection: close\r\n\r\n")
        bytes.writeBuffer(&body)
        return bytes
    }

    /// Writes the response from `context` (a handler at the pipeline's head), closes the
    /// output, and closes the connection after `linger`. The caller discards what it reads
    /// from then on.
    public func send(_ context: ChannelHandlerContext) {
        let channel = context.channel
        let linger = self.linger
        context.writeAndFlush(NIOAny(self.encoded(allocator: channel.allocator))).whenComplete { _ in
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            channel.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
        }
    }
}
