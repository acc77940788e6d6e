import CrosswindTLS
import CrosswindTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The transports on real sockets: `crosswind serve`. The same handlers as the simulator
/// (`WebSocketServer.configure`: WebSocket, SSE, Custom Sync, client messages), on NIOPosix,
/// with a demo publisher of dashboard metrics and the dashboard page.
///
/// Fan-out on every core: one event loop per core (`loops`), accepted connections spread
/// across them, and one `TopicHub` per loop — a hub is confined to one loop, exactly as in
/// simulation. The publisher runs on the first loop and hands each publish to every loop once
/// (`EventLoop.execute`, in order), where that loop's hub encodes it once and writes it to its
/// own connections; so every hub gives a message the same offset, and a client that
/// reconnects to another loop resumes where it was. Client sessions are shared by all hubs
/// (a lock-protected store), since a POST may arrive on another loop than its stream.
public final class LiveServer {
    public struct Configuration: Sendable {
        /// Loopback by default: a server reachable from elsewhere must be asked for.
        public var host = "127.0.0.1"
        /// 0 picks a free port (printed at start).
        public var port = 8080
        /// Event loops serving connections (one per core by default).
        public var loops = System.coreCount
        /// Messages per second the demo publisher sends on `metrics` (0: none).
        public var demoRatePerSecond: Double = 2
        /// Extra bytes of padding in each demo message (a `pad` string), to load the wire.
        public var demoPaddingBytes = 0
        /// Files served at `/` and by name (the dashboard page and its script).
        public var staticFiles: [String: StaticFile] = [:]
        /// The server's settings (paths, SSE and sync knobs, limits). Live servers time out
        /// request heads after 20 s (``RealtimeServerConfiguration/requestHeadTimeout``).
        public var server = RealtimeServerConfiguration()
        /// Most connections open at once from one source address (4096); more are answered
        /// 503 with `Retry-After: 1` and closed. Generous because a load generator on one host
        /// opens a stream and a message connection per client. 0: no cap.
        public var maxConnectionsPerAddress = 4096
        /// The secret access tokens are signed with (HMAC-SHA256, ``AccessTokens``): with one,
        /// every stream and message endpoint requires a valid, unexpired token. nil (the
        /// default): no authentication.
        public var tokenSecret: String?
        /// With an identity the port speaks TLS only: WebSocket becomes wss, SSE and Custom
        /// Sync HTTPS, on the same port and paths. nil (the default): plain HTTP.
        public var tls: TLSServerIdentity?
        public init() {
            self.server.requestHeadTimeout = .seconds(20)
            self.server.clientMessageRateLimit = ClientRateLimit(ratePerSecond: 20, burst: 50)
        }
    }

    public let configuration: Configuration
    /// One hub per event loop, in the group's order.
    public let hubs: [TopicHub]
    /// The first loop's hub (where the publisher runs).
    public var hub: TopicHub { self.hubs[0] }
    private let group: MultiThreadedEventLoopGroup
    private let loops: [any EventLoop]
    private var channel: (any Channel)?

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.loops))
        self.loops = Array(self.group.makeIterator())
        // A new epoch per start: a restarted server has lost its history, and clients are told.
        var random = SystemRandomNumberGenerator()  // allowed-nondeterminism: live server
        let epoch = random.next() >> 11
        let sessions: (any ClientSessionStore)? = self.loops.count > 1 ? LockedSessionStore(epoch: epoch) : nil
        self.hubs = self.loops.map { _ in TopicHub(epoch: epoch, sessions: sessions) }
    }

    /// Binds and starts serving; returns the port.
    @discardableResult
    public func start() throws -> Int {
        let hubs = self.hubs
        let loops = self.loops
        var server = self.configuration.server
        server.staticFiles = self.configuration.staticFiles
        if server.log == nil {
            server.log = { line in
                let text = Array("crosswind serve: \(line)\n".utf8)
                _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            }
        }
        if let secret = self.configuration.tokenSecret {
            server.authentication = ServerAuthentication(tokens: AccessTokens(secret: secret), now: { wallClockMicros() / 1_000_000 })
        }
        let settings = server
        let cap = self.configuration.maxConnectionsPerAddress > 0 ? ConnectionCap(limit: self.configuration.maxConnectionsPerAddress) : nil
        let tls = self.configuration.tls
        let channel = try ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Past 1 MiB queued for one client it is not writable: the transports then drop it.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // TLS first, so that everything after it, a refusal too, is encrypted.
                    try tls?.configure(channel, log: settings.log)
                    if let cap, try !cap.admit(channel, log: settings.log) { return }
                    // The hub of the loop this connection was given to.
                    let index = loops.firstIndex { $0 === channel.eventLoop } ?? 0
                    try WebSocketServer.configure(channel, hub: hubs[index], configuration: settings)
                }
            }
            .bind(host: self.configuration.host, port: self.configuration.port).wait()
        self.channel = channel
        if self.configuration.demoRatePerSecond > 0 {
            let loop = loops[0]
            let publisher = DemoPublisher(
                targets: zip(loops, hubs).map { ($0, $1) }, ratePerSecond: self.configuration.demoRatePerSecond,
                paddingBytes: self.configuration.demoPaddingBytes, log: settings.log
            )
            try loop.submit { publisher.start(on: loop) }.wait()
        }
        return channel.localAddress?.port ?? self.configuration.port
    }

    /// Blocks until the server stops.
    public func wait() throws {
        try self.channel?.closeFuture.wait()
    }

    public func stop() throws {
        try self.channel?.close().wait()
        try self.group.syncShutdownGracefully()
    }
}

/// Publishes dashboard metrics on `metrics`: `{"ts":…,"due":…,"cpu":…,"mem":…,"rps":…}`.
///
/// Publishes follow a fixed schedule, `start + k × interval` on the loop's monotonic clock,
/// each one scheduled at its own deadline so that a late tick does not shift the ones after it.
/// `due` is that intended time in microseconds since 1970 (the wall clock at `start` plus
/// `k × interval`): clients measure latency against the schedule, so a publisher held up by a
/// busy loop counts against the server, as the seed's methodology asks. `ts` is the same in
/// milliseconds, for the dashboard.
///
/// Each message is built once and handed to every loop's hub once: directly on the
/// publisher's own loop, through `execute` on the others (so each hub sees the same messages
/// in the same order).
final class DemoPublisher: @unchecked Sendable {
    private let targets: [(loop: any EventLoop, hub: TopicHub)]
    private let interval: TimeAmount
    private var random = SystemRandomNumberGenerator()  // allowed-nondeterminism: live demo data
    private var cpu = 40.0
    private var mem = 60.0
    private var sequence: Int64 = 0
    private var startDeadline = NIODeadline.uptimeNanoseconds(0)
    private var startWallMicros: Int64 = 0

    private let padding: String
    private let log: (@Sendable (String) -> Void)?

    init(targets: [(any EventLoop, TopicHub)], ratePerSecond: Double, paddingBytes: Int, log: (@Sendable (String) -> Void)?) {
        self.targets = targets.map { (loop: $0.0, hub: $0.1) }
        self.log = log
        self.interval = .nanoseconds(Int64(1e9 / ratePerSecond))
        self.padding = paddingBytes > 0 ? ",\"pad\":\"" + String(repeating: "x", count: paddingBytes) + "\"" : ""
    }

    func start(on loop: any EventLoop) {
        self.startDeadline = loop.now
        self.startWallMicros = wallClockMicros()
        self.scheduleNext(on: loop)
    }

    private func scheduleNext(on loop: any EventLoop) {
        self.sequence += 1
        let now = loop.now
        let due = self.startDeadline + .nanoseconds(self.interval.nanoseconds * self.sequence)
        if due < now {
            // Behind schedule (a publish took longer than the interval): NIO runs every due task
            // before it returns to I/O, so catching up back to back would starve every
            // connection. Skip the ticks already missed, and say so.
            let missed = (now - due).nanoseconds / self.interval.nanoseconds + 1
            self.sequence += missed
            self.log?("publisher behind schedule: skipped \(missed) publish(es) of \(self.interval.nanoseconds / 1000) µs")
        }
        let sequence = self.sequence
        loop.scheduleTask(deadline: self.startDeadline + .nanoseconds(self.interval.nanoseconds * sequence)) {
            self.publish(sequence: sequence)
            self.scheduleNext(on: loop)
        }
    }

    private func publish(sequence: Int64) {
        let due = self.startWallMicros + self.interval.nanoseconds * sequence / 1000
        self.cpu = min(100, max(0, self.cpu + Double.random(in: -5...5, using: &self.random)))
        self.mem = min(100, max(0, self.mem + Double.random(in: -1...1, using: &self.random)))
        let rps = Int.random(in: 80...160, using: &self.random)
        let json = "{\"ts\":\(due / 1000),\"due\":\(due),\"cpu\":\((self.cpu * 10).rounded() / 10),\"mem\":\((self.mem * 10).rounded() / 10),\"rps\":\(rps)\(self.padding)}"
        let data = ByteBuffer(string: json)
        for (loop, hub) in self.targets {
            if loop.inEventLoop {
                hub.publish(topic: "metrics", data: data)
            } else {
                // The hub is confined to its loop, which is the only one that touches it.
                let hub = UnsafeTransfer(hub)
                loop.execute { hub.value.publish(topic: "metrics", data: data) }
            }
        }
    }
}

/// Carries a loop-confined object to the loop that owns it.
private struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Client sessions shared by the hubs of every loop, behind a lock: a session is opened on the
/// loop of its stream's connection and named by POSTs that may arrive on any other.
final class LockedSessionStore: ClientSessionStore, @unchecked Sendable {
    // The loop-confined store, only ever used under the lock.
    private let store: LoopConfinedSessionStore
    private let lock = NIOLock()

    init(epoch: UInt64) {
        self.store = LoopConfinedSessionStore(epoch: epoch)
    }

    func open(client: String?, topic: String) -> String {
        self.lock.withLock { self.store.open(client: client, topic: topic) }
    }

    func close(_ id: String) {
        self.lock.withLock { self.store.close(id) }
    }

    func accept(session: String, sequence: UInt64) -> SessionAcceptance {
        self.lock.withLock { self.store.accept(session: session, sequence: sequence) }
    }

    func acknowledged(client: String) -> UInt64 {
        self.lock.withLock { self.store.acknowledged(client: client) }
    }

    func throttle(session: String, limit: ClientRateLimit, now: NIODeadline) -> TimeAmount? {
        self.lock.withLock { self.store.throttle(session: session, limit: limit, now: now) }
    }
}
