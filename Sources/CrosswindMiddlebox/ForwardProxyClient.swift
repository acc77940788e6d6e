import NIOCore
import NIOHTTP1

// The client's side of an explicit forward proxy, as a browser configured with one behaves
// (RFC 9110 §9.3.6 and §7.1; RFC 6455 §4.1 for WebSocket): a TLS connection, and any
// WebSocket, is a `CONNECT host:port` tunnel (`ProxyConnectHandler`); a plain HTTP request
// goes to the proxy in absolute form, `GET http://host:port/path` (`AbsoluteFormRequestWriter`).

/// Asks the proxy for a tunnel with `CONNECT host:port` as soon as the connection is up, and
/// lets the handlers after it see the connection (`channelActive`) only once the proxy answered
/// `2xx`; writes made before wait, in order. Any other answer fails the connection with a
/// ``ProxyConnectError`` carrying the status. Goes first in the pipeline (before a
/// ``TLSClientHandler``, whose handshake then runs inside the tunnel).
public final class ProxyConnectHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// The connection is not up yet.
        case idle
        /// `CONNECT` sent; the response head so far.
        case awaitingResponse(ByteBuffer)
        /// The tunnel is open: bytes pass both ways.
        case tunnel
        /// The proxy refused; the channel is closing.
        case failed
    }

    private let authority: String
    private var state = State.idle
    private var waiting: [(ByteBuffer, EventLoopPromise<Void>?)] = []

    /// - Parameter authority: `host:port` of the server the tunnel goes to.
    public init(authority: String) {
        self.authority = authority
    }

    public func channelActive(context: ChannelHandlerContext) {
        // Not forwarded until the tunnel is open.
        var request = context.channel.allocator.buffer(capacity: 64 + 2 * self.authority.utf8.count)
        request.writeString("CONNECT \(self.authority) HTTP/1.1\r\nHost: \(self.authority)\r\n\r\n")
        self.state = .awaitingResponse(context.channel.allocator.buffer(capacity: 128))
        context.writeAndFlush(self.wrapOutboundOut(request), promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.state {
        case .tunnel:
            context.fireChannelRead(data)
        case .idle, .failed:
            return
        case .awaitingResponse(var head):
            var bytes = self.unwrapInboundIn(data)
            head.writeBuffer(&bytes)
            let view = head.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
                self.state = .awaitingResponse(head)
                return
            }
            let headLength = end.upperBound - view.startIndex
            let text = head.getString(at: head.readerIndex, length: headLength) ?? ""
            head.moveReaderIndex(forwardBy: headLength)
            let status = Self.status(ofHead: text)
            guard let status, (200..<300).contains(status) else {
                self.state = .failed
                for (_, promise) in self.waiting { promise?.fail(ProxyConnectError(status: status ?? 0)) }
                self.waiting.removeAll()
                context.fireErrorCaught(ProxyConnectError(status: status ?? 0))
                context.close(promise: nil)
                return
            }
            self.state = .tunnel
            for (bytes, promise) in self.waiting { context.write(self.wrapOutboundOut(bytes), promise: promise) }
            self.waiting.removeAll()
            context.flush()
            context.fireChannelActive()
            if head.readableBytes > 0 { context.fireChannelRead(self.wrapInboundOut(head)) }
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.state {
        case .tunnel:
            context.write(data, promise: promise)
        case .idle, .awaitingResponse:
            self.waiting.append((self.unwrapOutboundIn(data), promise))
        case .failed:
            promise?.fail(ProxyConnectError(status: 0))
        }
    }

    /// The status code of a response head (`HTTP/1.1 200 Connection established`).
    static func status(ofHead head: String) -> Int? {
        let line = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let words = line.split(separator: " ", maxSplits: 2)
        guard words.count >= 2, words[0].hasPrefix("HTTP/1.") else { return nil }
        return Int(words[1])
    }
}

/// A `CONNECT` the proxy did not grant: the status it answered (0 when the answer was not HTTP).
public struct ProxyConnectError: Error, Hashable, CustomStringConvertible {
    public let status: Int

    public init(status: Int) {
        self.status = status
    }

    public var description: String {
        self.status == 0 ? "proxy: CONNECT failed (no HTTP answer)" : "proxy: CONNECT refused with status \(self.status)"
    }
}

/// Rewrites each outgoing request to absolute form (`GET http://server:80/events?topic=t`) for
/// a forward proxy. Goes between the HTTP client handler and NIO's `HTTPRequestEncoder`.
public final class AbsoluteFormRequestWriter: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = HTTPClientRequestPart
    public typealias OutboundOut = HTTPClientRequestPart

    private let authority: String

    /// - Parameter authority: `host:port` of the origin server.
    public init(authority: String) {
        self.authority = authority
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = self.unwrapOutboundIn(data), head.uri.hasPrefix("/") else {
            context.write(data, promise: promise)
            return
        }
        head.uri = "http://\(self.authority)\(head.uri)"
        context.write(self.wrapOutboundOut(.head(head)), promise: promise)
    }

    /// Adds a writer for `authority` right after the pipeline's `HTTPRequestEncoder` (so it
    /// sees requests before they are encoded); a pipeline without one is left alone.
    public static func install(in channel: any Channel, authority: String) throws {
        let sync = channel.pipeline.syncOperations
        guard let encoder = try? sync.context(handlerType: HTTPRequestEncoder.self) else { return }
        try sync.addHandler(AbsoluteFormRequestWriter(authority: authority), position: .after(encoder.handler))
    }
}
