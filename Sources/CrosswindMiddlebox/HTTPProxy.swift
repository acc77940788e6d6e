import NIOCore
import NIOHTTP1

/// An HTTP/1.1 proxy built from NIOHTTP1 codecs on both sides, applying an ``HTTPProxyPolicy``.
///
/// Each client connection gets its own upstream connection (opened through `openUpstream`,
/// on the virtual network or a real socket). Requests are decoded, rewritten by the policy
/// and re-encoded upstream; responses come back the same way, optionally held, blocked or cut
/// short. When a `101 Switching Protocols` passes, both sides drop their HTTP codecs and the
/// bytes are relayed raw — or silenced, filtered frame by frame, or the pair is closed, per
/// policy. A request it cannot parse gets a `400 Bad Request` whose body says so (when no
/// other response is owed on the connection), and the pair is closed.
///
/// Three ways in (``Listener``): a transparent proxy on the server's plain port (clients do
/// not know it is there), the same on the server's TLS port (it sees TLS records; per
/// ``HTTPProxyPolicy/tls`` it tunnels, refuses or intercepts them), and an explicit forward
/// proxy (clients send `CONNECT host:port` for TLS and WebSocket, absolute-form requests for
/// plain HTTP).
public enum HTTPProxy {
    static let decoderName = "crosswind.proxy.decoder"
    static let encoderName = "crosswind.proxy.encoder"

    /// How clients reach the proxy.
    public enum Listener: Sendable, Equatable {
        /// On the server's plain-HTTP port, in the path (a transparent or reverse proxy).
        case transparent
        /// On the server's TLS port, in the path: the bytes are TLS records.
        case transparentTLS
        /// On a port of its own that clients are configured to use (a forward proxy).
        case explicit
    }

    /// Sets up the client-facing side of a transparent proxy on a plain port.
    ///
    /// - Parameter openUpstream: opens a connection to the upstream server and installs the
    ///   given initializer on its channel before it connects.
    public static func configure(
        _ channel: any Channel,
        policy: HTTPProxyPolicyCell,
        openUpstream: @escaping (@escaping (any Channel) throws -> Void) -> Void
    ) throws {
        try Self.configure(channel, policy: policy, listener: .transparent) { _, initialize in openUpstream(initialize) }
    }

    /// Sets up the client-facing side of a proxied connection.
    ///
    /// - Parameters:
    ///   - client: who the client is, for ``HTTPProxyPolicy/maxConnectionsPerClient`` (nil: the
    ///     IP address of the channel's remote end).
    ///   - openUpstream: opens a connection to `target` (nil: the server port the client
    ///     connected to, for a transparent proxy) and installs the given initializer on its
    ///     channel before it connects.
    public static func configure(
        _ channel: any Channel,
        policy: HTTPProxyPolicyCell,
        listener: Listener,
        client: String? = nil,
        openUpstream: @escaping (HTTPProxyTarget?, @escaping (any Channel) throws -> Void) -> Void
    ) throws {
        policy.connections += 1
        let sync = channel.pipeline.syncOperations
        var upstreamTLS = false
        if listener == .transparentTLS {
            switch policy.policy.tls {
            case .refuse:
                policy.tlsRefused += 1
                try sync.addHandler(ClosingHandler())
                return
            case .tunnel:
                policy.tlsTunnelled += 1
                try Self.tunnel(channel, policy: policy, target: nil, openUpstream: openUpstream)
                return
            case .intercept:
                policy.tlsIntercepted += 1
                try sync.addHandler(TLSServerHandler())
                upstreamTLS = true
            }
        }
        let front = ProxyFrontHandler(policy: policy, explicit: listener == .explicit, upstreamTLS: upstreamTLS, client: client, openUpstream: openUpstream)
        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)), name: Self.decoderName)
        try sync.addHandler(HTTPResponseEncoder(), name: Self.encoderName)
        try sync.addHandler(front)
    }

    /// A raw tunnel from `channel` to `target`: bytes pass untouched both ways (TLS the proxy
    /// does not intercept). Idle timeout and maximum lifetime still apply.
    static func tunnel(
        _ channel: any Channel, policy: HTTPProxyPolicyCell, target: HTTPProxyTarget?,
        openUpstream: (HTTPProxyTarget?, @escaping (any Channel) throws -> Void) -> Void
    ) throws {
        let pair = ProxyPair(policy: policy)
        let frontRelay = RawRelay(pair: pair, silent: false)
        let backRelay = RawRelay(pair: pair, silent: false)
        frontRelay.peer = backRelay
        backRelay.peer = frontRelay
        pair.front = channel
        try channel.pipeline.syncOperations.addHandler(frontRelay)
        pair.start(channel.eventLoop)
        openUpstream(target) { upstream in
            pair.back = upstream
            try upstream.pipeline.syncOperations.addHandler(backRelay)
        }
    }

    /// Swaps a side's HTTP codecs for a raw relay (after a 101, or when a `CONNECT` tunnel opens).
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

/// Where a proxy's upstream connection goes: the host and port of a `CONNECT` or of an
/// absolute-form request.
public struct HTTPProxyTarget: Sendable, Hashable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`port` defaults to `defaultPort`); nil when the port is not a number in 1...65535.
    init?(authority: Substring, defaultPort: Int) {
        guard let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") else {
            guard !authority.isEmpty else { return nil }
            self.init(host: String(authority), port: defaultPort)
            return
        }
        guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        self.init(host: String(authority[..<colon]), port: port)
    }
}

/// Shared by the two sides of one proxied connection: activity for the idle timeout, the
/// connection's lifetime, the WebSocket budget, and closing both at once.
final class ProxyPair {
    var front: (any Channel)?
    var back: (any Channel)?
    var lastActivity: NIODeadline = .uptimeNanoseconds(0)
    private var timerDeadline: NIODeadline?
    private(set) var closed = false
    /// Runs once, when the pair closes.
    var onClose: [() -> Void] = []
    let policy: HTTPProxyPolicyCell
    /// WebSocket frame bytes passed since the 101, both directions (the DPI byte budget).
    var webSocketBytes = 0
    /// When the 101 passed (the DPI time budget).
    var upgradedAt: NIODeadline?

    init(policy: HTTPProxyPolicyCell) {
        self.policy = policy
    }

    /// The client connection was accepted: arms the maximum lifetime and the idle timer.
    func start(_ eventLoop: any EventLoop) {
        self.touch(eventLoop)
        guard let lifetime = self.policy.policy.maxConnectionLifetime else { return }
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: lifetime) {
            let pair = loopBound.value
            guard !pair.closed else { return }
            pair.policy.lifetimeClosures += 1
            pair.closeBoth()
        }
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
        guard !self.closed else { return }
        self.closed = true
        let hooks = self.onClose
        self.onClose.removeAll()
        for hook in hooks { hook() }
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

/// Closes a connection as soon as it is up (a transparent proxy refusing TLS).
final class ClosingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
