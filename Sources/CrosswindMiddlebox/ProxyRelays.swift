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

    init(front: ProxyFrontHandler, pair: ProxyPair) {
        self.front = front
        self.pair = pair
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.pair.back = context.channel
    }

    /// Drops the context, which holds this handler (see ``ProxyFrontHandler``).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
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
        self.pair.closeBoth()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.pair.closeBoth()
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
    }

    func channelActive(context: ChannelHandlerContext) {
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
        self.pair.closeBoth()
        context.fireChannelInactive()
    }
}
