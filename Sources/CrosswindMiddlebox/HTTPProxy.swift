import NIOCore
import NIOHTTP1

/// An HTTP/1.1 proxy built from NIOHTTP1 codecs on both sides, applying an ``HTTPProxyPolicy``.
///
/// Each client connection gets its own upstream connection (opened through `openUpstream`,
/// on the virtual network or a real socket). Requests are decoded, rewritten by the policy
/// and re-encoded upstream; responses come back the same way, optionally held until a byte
/// budget or their end. When a `101 Switching Protocols` passes, both sides drop their HTTP
/// codecs and the bytes are relayed raw — or silenced, or the pair is closed, per policy.
/// A request it cannot parse gets a `400 Bad Request` whose body says so (when no other
/// response is owed on the connection), and the pair is closed.
public enum HTTPProxy {
    static let decoderName = "crosswind.proxy.decoder"
    static let encoderName = "crosswind.proxy.encoder"

    /// Sets up the client-facing side of a proxied connection.
    ///
    /// - Parameter openUpstream: opens a connection to the upstream server and installs the
    ///   given initializer on its channel before it connects.
    public static func configure(
        _ channel: any Channel,
        policy: HTTPProxyPolicyCell,
        openUpstream: @escaping (@escaping (any Channel) throws -> Void) -> Void
    ) throws {
        policy.connections += 1
        let front = ProxyFrontHandler(policy: policy, openUpstream: openUpstream)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)), name: Self.decoderName)
        try sync.addHandler(HTTPResponseEncoder(), name: Self.encoderName)
        try sync.addHandler(front)
    }

    /// Swaps a side's HTTP codecs for a raw relay (after a 101).
    static func switchToRaw(_ context: ChannelHandlerContext, relay: RawRelay) {
        let sync = context.pipeline.syncOperations
        guard let decoder = try? sync.context(name: decoderName) else { return }
        // The relay goes right after the decoder, so the bytes the decoder still holds are
        // forwarded to it when the decoder goes; both codecs are removed before the relay
        // writes anything (it writes only when its peer receives later bytes).
        try? sync.addHandler(relay, position: .after(decoder.handler))
        _ = sync.removeHandler(context: decoder)
        if let encoder = try? sync.context(name: encoderName) {
            _ = sync.removeHandler(context: encoder)
        }
    }
}

/// Shared by the two sides of one proxied connection: activity for the idle timeout, and
/// closing both at once.
final class ProxyPair {
    var front: (any Channel)?
    var back: (any Channel)?
    var lastActivity: NIODeadline = .uptimeNanoseconds(0)
    private var timerDeadline: NIODeadline?
    let policy: HTTPProxyPolicyCell

    init(policy: HTTPProxyPolicyCell) {
        self.policy = policy
    }

    func touch(_ eventLoop: any EventLoop) {
        self.lastActivity = eventLoop.now
        self.armIdleTimer(eventLoop)
    }

    func closeBoth() {
        self.front?.close(promise: nil)
        self.back?.close(promise: nil)
        self.front = nil
        self.back = nil
    }

    /// One lazily re-armed timer per pair: it fires at the earliest possible idle deadline
    /// and re-arms if traffic moved that deadline on.
    private func armIdleTimer(_ eventLoop: any EventLoop) {
        guard let idle = self.policy.policy.idleTimeout else { return }
        let deadline = self.lastActivity + idle
        if let pending = self.timerDeadline, pending <= deadline { return }
        self.timerDeadline = deadline
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(deadline: deadline) {
            let pair = loopBound.value
            guard pair.timerDeadline == deadline else { return }
            pair.timerDeadline = nil
            guard pair.front != nil, let idle = pair.policy.policy.idleTimeout else { return }
            if eventLoop.now - pair.lastActivity >= idle {
                pair.policy.idleClosures += 1
                pair.closeBoth()
            } else {
                pair.armIdleTimer(eventLoop)
            }
        }
    }
}

/// The client-facing side: decodes requests, forwards them upstream per policy, and writes the
/// upstream's responses back (buffered per policy).
final class ProxyFrontHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let policy: HTTPProxyPolicyCell
    private let openUpstream: (@escaping (any Channel) throws -> Void) -> Void
    private var context: ChannelHandlerContext?
    private var back: ProxyBackHandler?
    private let pair: ProxyPair
    private var upgradeRequested = false
    private var responseIsSwitch = false
    private var held: [ByteBuffer] = []
    private var heldBytes = 0
    private var holding = false
    /// Requests forwarded whose response has not ended yet (pipelining allows several).
    private var responsesOwed = 0
    /// Whether the client was already told its request could not be parsed.
    private var rejected = false

    init(policy: HTTPProxyPolicyCell, openUpstream: @escaping (@escaping (any Channel) throws -> Void) -> Void) {
        self.policy = policy
        self.openUpstream = openUpstream
        self.pair = ProxyPair(policy: policy)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.pair.front = context.channel
    }

    func channelActive(context: ChannelHandlerContext) {
        self.pair.touch(context.eventLoop)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.pair.touch(context.eventLoop)
        switch self.unwrapInboundIn(data) {
        case .head(var head):
            self.ensureUpstream()
            if self.policy.policy.stripUpgrade && head.headers.contains(name: "Upgrade") {
                self.policy.upgradesStripped += 1
                head.headers.remove(name: "Upgrade")
                head.headers.remove(name: "Sec-WebSocket-Key")
                head.headers.remove(name: "Sec-WebSocket-Version")
                head.headers.remove(name: "Sec-WebSocket-Extensions")
                head.headers.remove(name: "Sec-WebSocket-Protocol")
                let connection = head.headers[canonicalForm: "Connection"].filter { $0.lowercased() != "upgrade" }
                head.headers.remove(name: "Connection")
                for token in connection { head.headers.add(name: "Connection", value: String(token)) }
            }
            self.upgradeRequested = head.headers.contains(name: "Upgrade")
            self.responsesOwed += 1
            self.back?.send(.head(head))
        case .body(let bytes):
            self.back?.send(.body(.byteBuffer(bytes)))
        case .end(let trailers):
            self.back?.send(.end(trailers))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pair.closeBoth()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request the proxy cannot parse ends the pair, as most proxies do. When no response
        // is owed to the client (one would interleave with the 400), it first says why, so the
        // client can tell the proxy refused the request, not the server.
        guard error is HTTPParserError, !self.rejected, self.responsesOwed == 0 else {
            self.pair.closeBoth()
            return
        }
        self.rejected = true
        var body = context.channel.allocator.buffer(capacity: 96)
        body.writeString("proxy: malformed request (\(error)); closing the connection\n")
        let headers = HTTPHeaders([
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", String(body.readableBytes)),
            ("Connection", "close"),
        ])
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let pair = NIOLoopBound(self.pair, eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in pair.value.closeBoth() }
    }

    private func ensureUpstream() {
        guard self.back == nil else { return }
        let back = ProxyBackHandler(front: self, pair: self.pair)
        self.back = back
        self.openUpstream { channel in
            let sync = channel.pipeline.syncOperations
            // The response decoder watches outbound requests (to know a HEAD's response has no
            // body), so it sits between the handler and the request encoder, as NIO's own
            // client set-up puts it.
            try sync.addHandler(HTTPRequestEncoder(), name: HTTPProxy.encoderName)
            try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)), name: HTTPProxy.decoderName)
            try sync.addHandler(back)
        }
    }

    // MARK: Responses from upstream

    func responseHead(_ head: HTTPResponseHead) {
        guard let context = self.context else { return }
        self.pair.touch(context.eventLoop)
        self.responseIsSwitch = head.status == .switchingProtocols && self.upgradeRequested
        self.holding = !self.responseIsSwitch && self.policy.policy.bufferResponseBytes != nil
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if !self.holding { context.flush() }
    }

    func responseBody(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        self.pair.touch(context.eventLoop)
        // The policy is read for every part: a proxy reconfigured to buffer starts holding
        // the streams already passing through it (buffering that starts mid-session).
        self.holding = !self.responseIsSwitch && self.policy.policy.bufferResponseBytes != nil
        guard self.holding, let limit = self.policy.policy.bufferResponseBytes else {
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            return
        }
        self.held.append(bytes)
        self.heldBytes += bytes.readableBytes
        if self.heldBytes >= limit { self.releaseHeld(context) }
    }

    func responseEnd(_ trailers: HTTPHeaders?) {
        guard let context = self.context else { return }
        self.responsesOwed = max(self.responsesOwed - 1, 0)
        self.releaseHeld(context)
        context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
        self.holding = false
        guard self.responseIsSwitch, let back = self.back else { return }
        self.policy.upgradesPassed += 1
        switch self.policy.policy.afterUpgrade {
        case .close:
            self.pair.closeBoth()
        case .relay, .silence:
            let silent = self.policy.policy.afterUpgrade == .silence
            let frontRelay = RawRelay(pair: self.pair, silent: silent)
            let backRelay = RawRelay(pair: self.pair, silent: silent)
            frontRelay.peer = backRelay
            backRelay.peer = frontRelay
            // The upstream side first: NIO removes a decoder in a later loop tick, in the order
            // asked, and the client's decoder then forwards the bytes it still holds (requests
            // pipelined behind the upgrade) through the relays. Were the upstream's response
            // decoder still there, it would take those raw bytes for an HTTP request part and
            // trap (found by fuzzing: Fuzz/Corpus/http-proxy/regression-pipelined-upgrade).
            back.switchToRaw(relay: backRelay)
            HTTPProxy.switchToRaw(context, relay: frontRelay)
        }
    }

    private func releaseHeld(_ context: ChannelHandlerContext) {
        guard !self.held.isEmpty else { return }
        for bytes in self.held { context.write(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
        self.held.removeAll()
        self.heldBytes = 0
        context.flush()
    }
}

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

/// Relays raw bytes to its peer on the other side of the proxy (or drops them when silent).
final class RawRelay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var peer: RawRelay?
    private let pair: ProxyPair
    private let silent: Bool
    private var context: ChannelHandlerContext?

    init(pair: ProxyPair, silent: Bool) {
        self.pair = pair
        self.silent = silent
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.pair.touch(context.eventLoop)
        guard !self.silent, let peerContext = self.peer?.context else { return }
        peerContext.writeAndFlush(self.wrapOutboundOut(self.unwrapInboundIn(data)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pair.closeBoth()
        context.fireChannelInactive()
    }
}
