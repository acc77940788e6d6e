import NIOCore
import NIOHTTP1

/// The client-facing side: decodes requests, forwards them upstream per policy, and writes the
/// upstream's responses back (held, blocked or cut short per policy). On an explicit proxy it
/// also answers `CONNECT` and takes absolute-form requests.
final class ProxyFrontHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let policy: HTTPProxyPolicyCell
    private let explicit: Bool
    /// The upstream connection speaks TLS (the proxy intercepts).
    private var upstreamTLS: Bool
    private let openUpstream: (HTTPProxyTarget?, @escaping (any Channel) throws -> Void) -> Void
    private var context: ChannelHandlerContext?
    private var back: ProxyBackHandler?
    let pair: ProxyPair
    /// Where the upstream connection goes (nil: where the client connected).
    private var target: HTTPProxyTarget?

    private var started = false
    /// Whether the connection has a slot under ``HTTPProxyPolicy/maxConnectionsPerClient``;
    /// until it has, its requests wait in `queuedParts`.
    private var admitted = true
    private var queuedParts: [HTTPServerRequestPart] = []
    /// Who the client is, for the per-client cap: given, or the channel's remote address.
    private var clientKey: String

    private var upgradeRequested = false
    private var responseIsSwitch = false
    /// The current response is replaced by a 403 (blocked content type): its parts are dropped.
    private var discardingResponse = false
    private var responseHeadSent = false
    private var responseStartedAt: NIODeadline = .uptimeNanoseconds(0)
    private var held: [ByteBuffer] = []
    private var heldBytes = 0
    private var holding = false
    private var eventHold: EventStreamHold?
    /// Requests forwarded whose response has not ended yet (pipelining allows several).
    private var responsesOwed = 0
    /// Deadlines (``HTTPProxyPolicy/maxResponseTime``) of the responses owed, oldest first;
    /// an upgraded connection keeps its upgrade's deadline for good.
    private var responseDeadlines: [NIODeadline] = []
    private var upgraded = false
    private var deadlineTimer: NIODeadline?
    /// Whether the client was already told its request could not be parsed.
    private var rejected = false
    /// A `CONNECT` whose request has not ended yet: it is acted on at its end, once the
    /// decoder has delivered every part of it.
    private var pendingConnect: HTTPRequestHead?
    /// A `CONNECT` is waiting for its tunnel's upstream connection (it is owed a response).
    private var connectRequested = false

    init(
        policy: HTTPProxyPolicyCell, explicit: Bool, upstreamTLS: Bool, client: String?,
        openUpstream: @escaping (HTTPProxyTarget?, @escaping (any Channel) throws -> Void) -> Void
    ) {
        self.clientKey = client ?? ""
        self.policy = policy
        self.explicit = explicit
        self.upstreamTLS = upstreamTLS
        self.openUpstream = openUpstream
        self.pair = ProxyPair(policy: policy)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.pair.front = context.channel
        if context.channel.isActive { self.start(context) }
    }

    /// The context holds this handler: kept past removal, the two (and the channel behind
    /// them) would keep each other alive after the connection is gone.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context)
        context.fireChannelActive()
    }

    /// The connection is up: the lifetime and idle timers start, and it takes a slot or queues.
    private func start(_ context: ChannelHandlerContext) {
        guard !self.started else { return }
        self.started = true
        self.pair.start(context.eventLoop)
        guard let cap = self.policy.policy.maxConnectionsPerClient else { return }
        self.clientKey = self.clientKey.isEmpty ? context.channel.remoteAddress?.ipAddress ?? "unknown" : self.clientKey
        let cell = self.policy
        let key = self.clientKey
        if cell.activeByClient[key, default: 0] < cap {
            cell.activeByClient[key, default: 0] += 1
            self.pair.onClose.append { [unowned self] in self.releaseSlot() }
        } else {
            self.admitted = false
            cell.connectionsQueued += 1
            cell.waitingByClient[key, default: []].append(self)
            self.pair.onClose.append { [unowned self] in
                guard !self.admitted else { return self.releaseSlot() }
                cell.waitingByClient[key]?.removeAll { $0 === self }
            }
        }
    }

    /// A served connection closed: the first waiting connection of the same client gets its slot.
    private func releaseSlot() {
        let cell = self.policy
        cell.activeByClient[self.clientKey, default: 1] -= 1
        guard var waiting = cell.waitingByClient[self.clientKey], !waiting.isEmpty else { return }
        let next = waiting.removeFirst()
        cell.waitingByClient[self.clientKey] = waiting.isEmpty ? nil : waiting
        cell.activeByClient[self.clientKey, default: 0] += 1
        next.admit()
    }

    private func admit() {
        self.admitted = true
        let parts = self.queuedParts
        self.queuedParts.removeAll()
        for part in parts { self.handle(part) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.pair.touch(context.eventLoop)
        let part = self.unwrapInboundIn(data)
        guard self.admitted else {
            self.queuedParts.append(part)
            return
        }
        self.handle(part)
    }

    private func handle(_ part: HTTPServerRequestPart) {
        guard let context = self.context else { return }
        switch part {
        case .head(var head):
            if self.explicit, head.method == .CONNECT {
                self.pendingConnect = head
                return
            }
            if self.explicit, let (target, path) = Self.absoluteForm(head.uri) {
                self.target = self.target ?? target
                head.uri = path
            }
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
            if let limit = self.policy.policy.maxResponseTime {
                self.responseDeadlines.append(context.eventLoop.now + limit)
                self.armDeadlineTimer(context.eventLoop)
            }
            self.back?.send(.head(head))
        case .body(let bytes):
            guard self.pendingConnect == nil else { return }
            self.back?.send(.body(.byteBuffer(bytes)))
        case .end(let trailers):
            if let connect = self.pendingConnect {
                self.pendingConnect = nil
                self.connect(connect, context)
                return
            }
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
        self.respond(context, status: .badRequest, "proxy: malformed request (\(error)); closing the connection\n")
    }

    /// Answers the client with a short plain-text response and closes the pair.
    private func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, _ text: String) {
        var body = context.channel.allocator.buffer(capacity: text.utf8.count)
        body.writeString(text)
        let headers = HTTPHeaders([
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", String(body.readableBytes)),
            ("Connection", "close"),
        ])
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let pair = NIOLoopBound(self.pair, eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in pair.value.closeBoth() }
    }

    /// The upstream connection could not be opened (refused, timed out, unreachable): the
    /// request waiting for it is answered `502 Bad Gateway`, as Squid, nginx and HAProxy do,
    /// and the pair is closed. With nothing to answer, the pair just closes.
    func upstreamUnreachable(_ reason: String) {
        guard let context = self.context, !self.pair.closed else { return }
        guard self.responsesOwed > 0 || self.connectRequested, !self.responseHeadSent, !self.upgraded else {
            return self.pair.closeBoth()
        }
        self.policy.badGateways += 1
        self.respond(context, status: .badGateway, "proxy: cannot reach the upstream server (\(reason))\n")
    }

    private func ensureUpstream() {
        guard self.back == nil else { return }
        let back = ProxyBackHandler(front: self, pair: self.pair)
        self.back = back
        let tls = self.upstreamTLS
        self.openUpstream(self.target) { channel in
            let sync = channel.pipeline.syncOperations
            if tls { try sync.addHandler(TLSClientHandler()) }
            // The response decoder watches outbound requests (to know a HEAD's response has no
            // body), so it sits between the handler and the request encoder, as NIO's own
            // client set-up puts it.
            try sync.addHandler(HTTPRequestEncoder(), name: HTTPProxy.encoderName)
            try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)), name: HTTPProxy.decoderName)
            try sync.addHandler(back)
        }
    }

    // MARK: Explicit proxy

    /// `http://host[:port]/path` → the target and `/path`; nil for an origin-form request.
    static func absoluteForm(_ uri: String) -> (HTTPProxyTarget, String)? {
        guard uri.lowercased().hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst("http://".count)
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        guard let target = HTTPProxyTarget(authority: rest[..<slash], defaultPort: 80) else { return nil }
        let path = String(rest[slash...])
        return (target, path.hasPrefix("/") ? path : "/" + path)
    }

    /// A `CONNECT host:port`: refused with 403, tunnelled, or intercepted, per policy.
    private func connect(_ head: HTTPRequestHead, _ context: ChannelHandlerContext) {
        guard self.back == nil, let target = HTTPProxyTarget(authority: Substring(head.uri), defaultPort: 443) else {
            self.respond(context, status: .badRequest, "proxy: bad CONNECT target '\(head.uri)'\n")
            return
        }
        guard self.policy.policy.allowsConnect(to: target.port) else {
            self.policy.tlsRefused += 1
            self.respond(context, status: .forbidden, "proxy: CONNECT to \(head.uri) refused by policy\n")
            return
        }
        self.target = target
        switch self.policy.policy.tls {
        case .tunnel, .refuse:
            // The 200 goes once the upstream connection is up, as Squid does.
            self.policy.tlsTunnelled += 1
            let frontRelay = RawRelay(pair: self.pair, silent: false)
            let backRelay = RawRelay(pair: self.pair, silent: false)
            frontRelay.peer = backRelay
            backRelay.peer = frontRelay
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            self.connectRequested = true
            backRelay.onActive = {
                let context = loopBound.value
                HTTPProxy.switchToRaw(context, relay: frontRelay)
                Self.writeConnectionEstablished(context.channel)
            }
            let front = NIOLoopBound(self, eventLoop: context.eventLoop)
            backRelay.onConnectFailure = { reason in front.value.upstreamUnreachable(reason) }
            let pair = self.pair
            self.openUpstream(target) { upstream in
                pair.back = upstream
                try upstream.pipeline.syncOperations.addHandler(backRelay)
            }
        case .intercept:
            // The 200 goes at once; the TLS handshake that follows is with the proxy, which
            // then reads the requests inside and connects to the server with TLS of its own.
            self.policy.tlsIntercepted += 1
            self.upstreamTLS = true
            let sync = context.pipeline.syncOperations
            guard let decoder = try? sync.context(name: HTTPProxy.decoderName) else { return }
            Self.writeConnectionEstablished(context.channel, below: decoder)
            // The decoder stopped at the CONNECT (the bytes after it are not HTTP to it): a
            // fresh one takes the requests that arrive inside TLS.
            do {
                try sync.addHandler(TLSServerHandler(), position: .before(decoder.handler))
                _ = sync.removeHandler(context: decoder)
                try sync.addHandler(
                    ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)), name: HTTPProxy.decoderName,
                    position: .before(self)
                )
            } catch {
                self.pair.closeBoth()
            }
        }
    }

    /// Writes `200 Connection established` as raw bytes (below the HTTP encoder, which would
    /// frame a body for it).
    private static func writeConnectionEstablished(_ channel: any Channel, below decoder: ChannelHandlerContext? = nil) {
        var bytes = channel.allocator.buffer(capacity: 40)
        bytes.writeString("HTTP/1.1 200 Connection established\r\n\r\n")
        if let decoder {
            decoder.writeAndFlush(NIOAny(bytes), promise: nil)
        } else {
            channel.writeAndFlush(bytes, promise: nil)
        }
    }

    // MARK: Response deadlines

    /// One lazily re-armed timer for the oldest response deadline.
    private func armDeadlineTimer(_ eventLoop: any EventLoop) {
        guard let deadline = self.responseDeadlines.first else { return }
        if let pending = self.deadlineTimer, pending <= deadline { return }
        self.deadlineTimer = deadline
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(deadline: deadline) {
            let front = loopBound.value
            guard front.deadlineTimer == deadline else { return }
            front.deadlineTimer = nil
            guard !front.pair.closed, let oldest = front.responseDeadlines.first else { return }
            guard oldest <= eventLoop.now else { return front.armDeadlineTimer(eventLoop) }
            front.policy.lifetimeClosures += 1
            if !front.responseHeadSent && !front.upgraded, let context = front.context {
                front.respond(context, status: .gatewayTimeout, "proxy: no complete response within the time limit\n")
            } else {
                front.pair.closeBoth()
            }
        }
    }

    // MARK: Responses from upstream

    func responseHead(_ head: HTTPResponseHead) {
        guard let context = self.context else { return }
        self.pair.touch(context.eventLoop)
        self.responseIsSwitch = head.status == .switchingProtocols && self.upgradeRequested
        let policy = self.policy.policy
        if !self.responseIsSwitch, policy.blocks(contentType: head.headers.first(name: "Content-Type")) {
            self.policy.blockedResponses += 1
            self.discardingResponse = true
            let type = head.headers.first(name: "Content-Type") ?? ""
            self.respond(context, status: .forbidden, "proxy: content type \(HTTPProxyPolicy.mediaType(type)) is blocked by policy\n")
            return
        }
        self.responseHeadSent = true
        self.responseStartedAt = context.eventLoop.now
        self.holding = self.shouldBuffer(context)
        let isEventStream = HTTPProxyPolicy.mediaType(head.headers.first(name: "Content-Type") ?? "") == "text/event-stream"
        self.eventHold = !self.responseIsSwitch && policy.holdEvents && isEventStream ? EventStreamHold(limitBytes: policy.holdEventsBytes) : nil
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if !self.holding { context.flush() }
    }

    /// Whether the current response's bytes are held now (read for every part: a proxy
    /// reconfigured to buffer starts holding the streams already passing through it).
    private func shouldBuffer(_ context: ChannelHandlerContext) -> Bool {
        let policy = self.policy.policy
        guard !self.responseIsSwitch, policy.bufferResponseBytes != nil else { return false }
        guard let after = policy.bufferAfter else { return true }
        return context.eventLoop.now - self.responseStartedAt >= after
    }

    func responseBody(_ bytes: ByteBuffer) {
        guard let context = self.context, !self.discardingResponse else { return }
        self.pair.touch(context.eventLoop)
        self.holding = self.shouldBuffer(context)
        guard self.holding, let limit = self.policy.policy.bufferResponseBytes else {
            // Bytes held from before (the policy changed) go first.
            self.releaseHeld(context)
            self.emit(bytes, context)
            return
        }
        self.held.append(bytes)
        self.heldBytes += bytes.readableBytes
        if self.heldBytes >= limit { self.releaseHeld(context) }
    }

    /// Sends body bytes on, through the event hold when there is one.
    private func emit(_ bytes: ByteBuffer, _ context: ChannelHandlerContext) {
        guard self.eventHold != nil else {
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            return
        }
        let (release, events) = self.eventHold!.feed(bytes)
        self.policy.eventsHeld += events
        if let release { context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(release))), promise: nil) }
    }

    func responseEnd(_ trailers: HTTPHeaders?) {
        guard let context = self.context else { return }
        self.responsesOwed = max(self.responsesOwed - 1, 0)
        if self.discardingResponse {
            self.discardingResponse = false
            return
        }
        self.releaseHeld(context)
        if let rest = self.eventHold?.finish() { context.write(self.wrapOutboundOut(.body(.byteBuffer(rest))), promise: nil) }
        self.eventHold = nil
        context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
        self.holding = false
        self.responseHeadSent = false
        guard self.responseIsSwitch, let back = self.back else {
            if !self.responseDeadlines.isEmpty { self.responseDeadlines.removeFirst() }
            return
        }
        self.upgraded = true
        self.policy.upgradesPassed += 1
        self.pair.upgradedAt = context.eventLoop.now
        let policy = self.policy.policy
        switch policy.afterUpgrade {
        case .close:
            self.pair.closeBoth()
        case .relay, .silence:
            let silent = policy.afterUpgrade == .silence
            let gated = policy.webSocketBytesBudget != nil || policy.webSocketTimeBudget != nil
            let frontRelay = RawRelay(pair: self.pair, silent: silent, gate: gated ? WebSocketFrameGate() : nil)
            let backRelay = RawRelay(pair: self.pair, silent: silent, gate: gated ? WebSocketFrameGate() : nil)
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
        let held = self.held
        self.held.removeAll()
        self.heldBytes = 0
        guard self.eventHold == nil else {
            for bytes in held { self.emit(bytes, context) }
            return
        }
        for bytes in held { context.write(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
        context.flush()
    }
}
