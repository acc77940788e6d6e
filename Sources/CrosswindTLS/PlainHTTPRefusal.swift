import NIOCore

/// The first handler of a TLS port's connection: it looks at the first byte the client sends.
/// A TLS client starts with a handshake record (content type 22); then this handler forwards
/// the bytes to the TLS handler and leaves the pipeline. A client that starts with anything
/// else speaks plain text to a TLS port: one that looks like an HTTP request (a method in
/// capitals) is answered `400 Bad Request` in plain text saying so, as nginx answers such
/// requests, and every such connection is closed, without a TLS alert it could not read.
final class PlainHTTPRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The TLS record content type of a handshake (RFC 8446 §5.1).
    static let handshakeRecord: UInt8 = 22
    static let answer = "This port speaks TLS: use https:// (or wss:// for WebSocket).\n"

    private let log: (@Sendable (String) -> Void)?
    private var refused = false

    init(log: (@Sendable (String) -> Void)?) {
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.refused else { return }
        let bytes = self.unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        guard first != Self.handshakeRecord else {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        self.refused = true
        let peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else {
            self.log?("not TLS from \(peer) on the TLS port: closed")
            context.close(promise: nil)
            return
        }
        self.log?("plain HTTP from \(peer) on the TLS port: answered 400")
        let body = Self.answer
        var response = context.channel.allocator.buffer(capacity: 160 + body.utf8.count)
        response.writeString(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        )
        let channel = context.channel
        context.writeAndFlush(NIOAny(response)).whenComplete { _ in channel.close(promise: nil) }
    }
}
