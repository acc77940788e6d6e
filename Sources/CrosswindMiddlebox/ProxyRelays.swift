import NIOCore
import NIOHTTP1

/// The upstream side: encodes the forwarded requests and hands responses to the front.
final class ProxyBackHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private unowned let front: ProxyFrontHandler
    private let pair: ProxyPair
    private var context: ChannelHandlerContext?
    /// Parts forwarded before the upstream connection came up (a real socket refuses writes
    /// until it is connected); written in order when it is.
    private var queued: [HTTPClientRequestPart] = []
    private var active = false
    /// Whether the front was told the connection never came up (told once).
    private var failureReported = false

    init(front: ProxyFrontHandler, pair: ProxyPair) {
        self.front = front
        self.pair = pair
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.pair.back = context.channel
    }

    /// Drops the context, which holds this handler (see ``ProxyFrontHandler``). Removed before
    /// it was ever connected, the connection failed (a real socket's failed connect is closed
    /// and torn down without an error passing through the pipeline).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.connectFailed("connection failed")
    }

    /// The upstream connection ended before it was established: the front answers `502`.
    private func connectFailed(_ reason: String) {
        // A closed pair may have outlived its front handler (held unowned).
        guard !self.active, !self.failureReported, !self.pair.closed else { return }
        self.failureReported = true
        self.front.upstreamUnreachable(reason)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.active = true
        for part in self.queued { context.write(self.wrapOutboundOut(part), promise: nil) }
        self.queued.removeAll()
        context.flush()
        context.fireChannelActive()
    }

    func send(_ part: HTTPClientRequestPart) {
        // Until the upstream channel exists and is connected (a real connect is asynchronous;
        // its handlers are added later), parts wait in order.
        guard self.active, let context = self.context else {
            self.queued.append(part)
            return
        }
        if case .end = part {
            context.writeAndFlush(self.wrapOutboundOut(part), promise: nil)
        } else {
            context.write(self.wrapOutboundOut(part), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.front.responseHead(head)
        case .body(let bytes): self.front.responseBody(bytes)
        case .end(let trailers): self.front.responseEnd(trailers)
        }
    }

    func switchToRaw(relay: RawRelay) {
        guard let context = self.context else { return }
        HTTPProxy.switchToRaw(context, relay: relay)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.active { self.pair.closeBoth() } else { self.connectFailed("connection closed") }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.active { self.pair.closeBoth() } else { self.connectFailed("\(error)") }
    }
}

/// Relays raw bytes to its peer on the other side of the proxy: an upgraded connection (or
/// nothing, when silent; or whole WebSocket frames while the DPI budget lasts, when gated) or
/// a `CONNECT` tunnel. Bytes that arrive before the peer's connection is up wait, in order.
final class RawRelay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var peer: RawRelay?
    private let pair: ProxyPair
    private let silent: Bool
    private var gate: WebSocketFrameGate?
    private var context: ChannelHandlerContext?
    private var waiting: [ByteBuffer] = []
    /// Called once when this relay's connection comes up (a tunnel's upstream side).
    var onActive: (() -> Void)?
    /// Called once, with why, when this relay's connection ends without having come up (a
    /// tunnel's upstream side: the proxy answers the `CONNECT` with `502`). Unset, such an
    /// end closes the pair.
    var onConnectFailure: ((String) -> Void)?
    private var active = false

    init(pair: ProxyPair, silent: Bool, gate: WebSocketFrameGate? = nil) {
        self.pair = pair
        self.silent = silent
        self.gate = gate
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Drops the context, which holds this handler (see ``ProxyFrontHandler``).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.connectFailed("connection failed")
    }

    private func connectFailed(_ reason: String) {
        guard !self.active, let onConnectFailure = self.onConnectFailure else { return }
        self.onConnectFailure = nil
        onConnectFailure(reason)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.active = true
        self.onConnectFailure = nil
        context.fireChannelActive()
        if let onActive = self.onActive {
            self.onActive = nil
            onActive()
        }
        if let peer = self.peer { peer.flushWaiting() }
    }

    /// Writes the bytes that waited for the peer's connection.
    private func flushWaiting() {
        guard !self.waiting.isEmpty, let peerContext = self.peer?.context, peerContext.channel.isActive else { return }
        for bytes in self.waiting { peerContext.write(self.wrapOutboundOut(bytes), promise: nil) }
        self.waiting.removeAll()
        peerContext.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.pair.touch(context.eventLoop)
        guard !self.silent else { return }
        var bytes = self.unwrapInboundIn(data)
        if self.gate != nil {
            let pair = self.pair
            let policy = pair.policy.policy
            let now = context.eventLoop.now
            let (passed, dropped) = self.gate!.filter(bytes) { size in
                if let budget = policy.webSocketBytesBudget, pair.webSocketBytes >= budget { return false }
                if let budget = policy.webSocketTimeBudget, let upgraded = pair.upgradedAt, now - upgraded >= budget { return false }
                pair.webSocketBytes += size
                return true
            }
            pair.policy.framesDropped += dropped
            bytes = passed
            guard bytes.readableBytes > 0 else { return }
        }
        guard let peerContext = self.peer?.context, peerContext.channel.isActive else {
            self.waiting.append(bytes)
            return
        }
        peerContext.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.active || self.onConnectFailure == nil { self.pair.closeBoth() } else { self.connectFailed("connection closed") }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard self.active || self.onConnectFailure == nil else { return self.connectFailed("\(error)") }
        context.fireErrorCaught(error)
    }
}
