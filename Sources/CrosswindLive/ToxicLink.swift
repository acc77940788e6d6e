import CrosswindMiddlebox
import NIOCore
import NIOPosix

/// One client connection through a ``ToxicProxy``: the client socket, the upstream socket,
/// and which of the proxy's toxics apply to it (drawn from `toxicity` when the connection
/// opens, or when a toxic is added or changed while it is open, as toxiproxy does).
///
/// A connection is one of: a byte relay (no HTTP-aware toxic applied when it opened), an
/// HTTP proxy (``HTTPProxy`` with this connection's own policy cell), rejected (reset at
/// once) or dropped (accepted, never read, never answered, the upstream never contacted).
/// Byte-stream toxics run in a ``ToxicWriteHandler`` at the socket end of the destination
/// channel, so they act the same way in both relaying modes. Confined to the proxy's loop.
final class ToxicLink: ToxicConnectionActions {
    enum Mode {
        case relay, http, rejected, dropped
    }

    let number: Int
    let front: any Channel
    private(set) var back: (any Channel)?
    private(set) var mode: Mode = .relay
    /// The HTTP policy of this connection, in HTTP mode.
    private(set) var policy: HTTPProxyPolicyCell?
    /// Server → client toxics, on the client channel.
    private let downstream: ToxicWriteHandler
    /// Client → server toxics, on the upstream channel.
    private let upstream: ToxicWriteHandler
    private let proxyName: String
    private let random: ToxicRandomSource
    private let sink: ToxicDecisionSink
    /// For each toxic name: the definition its decision was drawn for, and the decision.
    private var decisions: [String: (toxic: Toxic, applies: Bool)] = [:]
    private var draws: [String: ToxicDraws] = [:]
    private var applying: [Toxic] = []

    init(number: Int, front: any Channel, proxyName: String, random: @escaping ToxicRandomSource, sink: @escaping ToxicDecisionSink) {
        self.number = number
        self.front = front
        self.proxyName = proxyName
        self.random = random
        self.sink = sink
        self.downstream = ToxicWriteHandler()
        self.upstream = ToxicWriteHandler()
    }

    /// Installs the client side and opens the upstream connection, per the toxics that
    /// apply now. Called from the child channel's initializer, on the proxy's loop. On an
    /// `explicit` (forward) proxy every connection is HTTP-mode, and the upstream is where its
    /// `CONNECT` or absolute-form request says.
    func open(toxics: [Toxic], upstreamHost: String, upstreamPort: Int, explicit: Bool) throws {
        try self.front.pipeline.syncOperations.addHandler(self.downstream, position: .first)
        self.downstream.onBacklog = { [weak self] stalled in try? self?.back?.syncOptions?.setOption(.autoRead, value: !stalled) }
        self.upstream.onBacklog = { [weak self] stalled in try? self?.front.syncOptions?.setOption(.autoRead, value: !stalled) }
        self.decide(toxics)
        if self.applying.contains(where: { $0.kind == .reject }) {
            self.mode = .rejected
            let link = NIOLoopBound(self, eventLoop: self.front.eventLoop)
            self.front.eventLoop.execute { link.value.resetNow() }
            return
        }
        if self.applying.contains(where: { $0.kind == .drop }) {
            self.mode = .dropped
            return
        }
        self.installStages()
        let link = NIOLoopBound(self, eventLoop: self.front.eventLoop)
        let bootstrap = ClientBootstrap(group: self.front.eventLoop)
        if explicit || self.applying.contains(where: \.kind.isHTTPAware) {
            self.mode = .http
            let cell = HTTPProxyPolicyCell(HTTPProxyPolicy(toxics: self.applying))
            self.policy = cell
            try HTTPProxy.configure(self.front, policy: cell, listener: explicit ? .explicit : .transparent) { target, initialize in
                let initialize = NIOLoopBound(initialize, eventLoop: link.value.front.eventLoop)
                bootstrap
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(link.value.upstream, position: .first)
                            try initialize.value(channel)
                        }
                    }
                    .connect(host: target?.host ?? upstreamHost, port: target?.port ?? upstreamPort)
                    .assumeIsolated()
                    .whenComplete { result in link.value.upstreamOpened(result, relay: false) }
            }
            try self.front.syncOptions?.setOption(.autoRead, value: true)
        } else {
            bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(link.value.upstream, position: .first)
                        try channel.pipeline.syncOperations.addHandler(ToxicRelayHandler(peer: link.value.front))
                    }
                }
                .connect(host: upstreamHost, port: upstreamPort)
                .assumeIsolated()
                .whenComplete { result in link.value.upstreamOpened(result, relay: true) }
        }
    }

    private func upstreamOpened(_ result: Result<any Channel, any Error>, relay: Bool) {
        switch result {
        case .success(let channel):
            self.back = channel
            guard self.front.isActive else { return channel.close(promise: nil) }
            guard relay else { return }
            try? self.front.pipeline.syncOperations.addHandler(ToxicRelayHandler(peer: channel))
            try? self.front.syncOptions?.setOption(.autoRead, value: true)
        case .failure:
            // Upstream down. Through the HTTP proxy the client's request is answered `502` (its
            // upstream handler learns of the failure when the failed channel is torn down);
            // a plain relay closes the client's connection, as toxiproxy does.
            guard self.mode != .http else { return }
            self.front.close(promise: nil)
        }
    }

    /// The proxy's toxics changed: keeps the decisions of unchanged toxics, draws for new or
    /// changed ones, and re-chains the stages. Port-level toxics only act when a connection
    /// opens, except that a dropped connection is closed once `drop` no longer applies.
    func update(toxics: [Toxic]) {
        self.decide(toxics)
        switch self.mode {
        case .rejected:
            return
        case .dropped:
            if !self.applying.contains(where: { $0.kind == .drop }) { self.closeNow() }
            return
        case .http:
            self.policy?.policy = HTTPProxyPolicy(toxics: self.applying)
        case .relay:
            break
        }
        self.installStages()
    }

    private func decide(_ toxics: [Toxic]) {
        var decisions: [String: (toxic: Toxic, applies: Bool)] = [:]
        self.applying = []
        for toxic in toxics {
            let applies: Bool
            if let previous = self.decisions[toxic.name], previous.toxic == toxic {
                applies = previous.applies
            } else {
                applies = self.draws(for: toxic.name).applies(toxicity: toxic.toxicity)
            }
            decisions[toxic.name] = (toxic, applies)
            if applies { self.applying.append(toxic) }
        }
        self.decisions = decisions
    }

    private func draws(for name: String) -> ToxicDraws {
        if let draws = self.draws[name] { return draws }
        let draws = ToxicDraws(proxy: self.proxyName, connection: self.number, toxic: name, random: self.random, sink: self.sink)
        self.draws[name] = draws
        return draws
    }

    private func installStages() {
        let loop = self.front.eventLoop
        for (handler, stream) in [(self.downstream, ToxicStream.downstream), (self.upstream, .upstream)] {
            handler.install(self.applying.filter { $0.stream == stream }) { toxic in
                makeToxicStage(toxic, loop: loop, draws: self.draws(for: toxic.name), connection: self)
            }
        }
    }

    func closeNow() {
        self.downstream.closeSocket(reset: false)
        self.upstream.closeSocket(reset: false)
        self.front.close(promise: nil)
        self.back?.close(promise: nil)
    }

    func resetNow() {
        self.downstream.closeSocket(reset: true)
        self.upstream.closeSocket(reset: true)
        self.front.close(promise: nil)
        self.back?.close(promise: nil)
    }
}

/// Relays the bytes a socket reads to the other socket of the connection, where the
/// destination's ``ToxicWriteHandler`` takes them; the end of one side ends the other.
final class ToxicRelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let peer: any Channel

    init(peer: any Channel) {
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.peer.writeAndFlush(self.unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.peer.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
