import CrosswindTransport
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
/// Everything — the hub, every connection, the publisher — runs on one event loop: the hub is
/// confined to one loop, exactly as in simulation.
public final class LiveServer {
    public struct Configuration: Sendable {
        /// Loopback by default: a server reachable from elsewhere must be asked for.
        public var host = "127.0.0.1"
        /// 0 picks a free port (printed at start).
        public var port = 8080
        /// Messages per second the demo publisher sends on `metrics` (0: none).
        public var demoRatePerSecond: Double = 2
        /// Extra bytes of padding in each demo message (a `pad` string), to load the wire.
        public var demoPaddingBytes = 0
        /// Files served at `/` and by name (the dashboard page and its script).
        public var staticFiles: [String: StaticFile] = [:]
        /// The server's settings (paths, SSE and sync knobs).
        public var server = RealtimeServerConfiguration()
        public init() {}
    }

    public let configuration: Configuration
    public let hub: TopicHub
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: (any Channel)?

    public init(configuration: Configuration) {
        self.configuration = configuration
        // A new epoch per start: a restarted server has lost its history, and clients are told.
        var random = SystemRandomNumberGenerator()  // allowed-nondeterminism: live server
        self.hub = TopicHub(epoch: random.next() >> 11)
    }

    /// Binds and starts serving; returns the port.
    @discardableResult
    public func start() throws -> Int {
        let hub = self.hub
        var server = self.configuration.server
        server.staticFiles = self.configuration.staticFiles
        if server.log == nil {
            server.log = { line in
                let text = Array("crosswind serve: \(line)\n".utf8)
                _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            }
        }
        let settings = server
        let loop = self.group.next()
        let channel = try ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Past 1 MiB queued for one client it is not writable: the transports then drop it.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try WebSocketServer.configure(channel, hub: hub, configuration: settings) }
            }
            .bind(host: self.configuration.host, port: self.configuration.port).wait()
        self.channel = channel
        if self.configuration.demoRatePerSecond > 0 {
            let publisher = DemoPublisher(
                hub: hub, ratePerSecond: self.configuration.demoRatePerSecond, paddingBytes: self.configuration.demoPaddingBytes, log: settings.log
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
final class DemoPublisher: @unchecked Sendable {
    private let hub: TopicHub
    private let interval: TimeAmount
    private var random = SystemRandomNumberGenerator()  // allowed-nondeterminism: live demo data
    private var cpu = 40.0
    private var mem = 60.0
    private var sequence: Int64 = 0
    private var startDeadline = NIODeadline.uptimeNanoseconds(0)
    private var startWallMicros: Int64 = 0

    private let padding: String
    private let log: (@Sendable (String) -> Void)?

    init(hub: TopicHub, ratePerSecond: Double, paddingBytes: Int, log: (@Sendable (String) -> Void)?) {
        self.hub = hub
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
        self.hub.publish(topic: "metrics", data: ByteBuffer(string: json))
    }
}
