import CrosswindMiddlebox
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real fault proxy that speaks toxiproxy's HTTP API, so toxiproxy's clients drive it
/// unchanged: named proxies (listen → upstream), each with an ordered list of toxics.
///
/// A proxy is a plain TCP relay (or, made `explicit`, a forward proxy whose clients ask it for
/// each connection: `CONNECT host:port` tunnels, TLS untouched) until an HTTP-aware toxic (`strip_upgrade`, `ws_silent`,
/// `ws_close`, `buffer`, `idle_timeout`) applies to a connection when it opens: that
/// connection then goes through the simulator's ``HTTPProxy`` with the policy those
/// toxics add up to, and follows later changes of them at its next request or response
/// part. Connections opened as relays stay relays. Byte-stream toxics (toxiproxy's) act
/// in both kinds of connection; `reject` and `drop` act when a connection opens.
///
/// Every random decision (toxicity, jitter, slice sizes) draws from a stream of
/// `random`, forked per proxy, connection number and toxic, and is reported to
/// `decisions` as one line. Everything runs on one event loop; the public methods may be
/// called from any thread.
public final class LiveProxy: @unchecked Sendable {
    /// The profiles of earlier versions, as toxics on the default proxy.
    public static let profiles: [String: [Toxic]] = [
        "pass": [],
        "strip-upgrade": [Toxic(kind: .stripUpgrade)],
        "ws-silent": [Toxic(kind: .wsSilent)],
        "ws-close": [Toxic(kind: .wsClose)],
        "buffer": [Toxic(kind: .stripUpgrade), Toxic(kind: .buffer, attributes: ["bytes": 64 * 1024])],
        "idle-30s": [Toxic(kind: .idleTimeout, attributes: ["timeout": 30_000])],
    ]

    let loop: any EventLoop
    let random: ToxicRandomSource
    let decisions: ToxicDecisionSink
    /// The proxy the command line created, which `/profile` acts on.
    var defaultProxy: String?
    var proxies: [String: ToxicProxy] = [:]
    private let group: MultiThreadedEventLoopGroup
    private var apiChannel: (any Channel)?
    private let stopped: EventLoopPromise<Void>

    public init(random: @escaping ToxicRandomSource, decisions: @escaping ToxicDecisionSink) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = self.group.next()
        self.random = random
        self.decisions = decisions
        self.stopped = self.loop.makePromise()
    }

    /// Creates and enables a proxy with `toxics`, the one `/profile` acts on; returns the
    /// address it listens on (with the bound port). An `explicit` proxy is a forward proxy
    /// (see ``ToxicProxy/explicit``).
    @discardableResult
    public func createDefaultProxy(name: String, listen: String, upstream: String, toxics: [Toxic], explicit: Bool = false) throws -> String {
        try self.loop.flatSubmit {
            self.defaultProxy = name
            return self.create(name: name, listen: listen, upstream: upstream, enabled: true, explicit: explicit).map { proxy in
                proxy.setToxics(toxics)
                return proxy.listen
            }
        }.wait()
    }

    /// Serves the API on `host:port`; returns the bound port.
    @discardableResult
    public func startAPI(host: String, port: Int) throws -> Int {
        let channel = try ServerBootstrap(group: self.loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ProxyAPIHandler { self.answer($0) })
                }
            }
            .bind(host: host, port: port).wait()
        self.apiChannel = channel
        return channel.localAddress?.port ?? port
    }

    /// Blocks until ``stop()``.
    public func wait() throws {
        try self.stopped.futureResult.wait()
    }

    public func stop() throws {
        try self.loop.submit {
            for name in self.proxies.keys.sorted() { self.proxies[name]?.disable() }
            self.apiChannel?.close(promise: nil)
            self.stopped.succeed()
        }.wait()
        try self.group.syncShutdownGracefully()
    }

    /// Adds a proxy, enabling it if asked; a proxy that cannot listen is not kept.
    func create(name: String, listen: String, upstream: String, enabled: Bool, explicit: Bool = false) -> EventLoopFuture<ToxicProxy> {
        guard self.proxies[name] == nil else { return self.loop.makeFailedFuture(ProxyAPIError(.conflict, "proxy already exists")) }
        guard splitHostPort(listen) != nil else { return self.loop.makeFailedFuture(ProxyAPIError(.badRequest, "invalid listen address '\(listen)'")) }
        guard splitHostPort(upstream) != nil else { return self.loop.makeFailedFuture(ProxyAPIError(.badRequest, "invalid upstream address '\(upstream)'")) }
        let proxy = ToxicProxy(name: name, listen: listen, upstream: upstream, explicit: explicit, loop: self.loop, random: self.random, sink: self.decisions)
        self.proxies[name] = proxy
        guard enabled else { return self.loop.makeSucceededFuture(proxy) }
        let server = NIOLoopBound(self, eventLoop: self.loop)
        let bound = NIOLoopBound(proxy, eventLoop: self.loop)
        return proxy.enable()
            .map { bound.value }
            .flatMapErrorThrowing { error in
                server.value.proxies[name] = nil
                throw error
            }
    }
}
