import CrosswindTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// `crosswind load`: a population of Swift clients — the RealtimeCommunicationManager over
/// real sockets — against a running server, measuring what a simulated run measures.
///
/// Latency is taken against the publisher's schedule: the demo publisher stamps every message
/// with the time it was due (`data.due`, µs since 1970), so a late publisher or a client that
/// falls behind shows the delay instead of hiding it (no coordinated omission). Servers that
/// only stamp `data.ts` (ms) are measured against that.
public final class LoadGenerator {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var clients = 100
        public var topic = "metrics"
        /// The transport every client starts on; with `fallback` false it is the only one.
        public var method: TransportMethod = .websocket
        public var fallback = false
        /// How long to measure, after every client had its chance to connect.
        public var duration: TimeAmount = .seconds(10)
        /// Clients connect evenly over this span.
        public var rampUp: TimeAmount = .seconds(1)
        /// How long after the window messages still in flight may arrive and count (a proxy
        /// that holds a stream in its buffer delays them by up to one buffer's worth).
        public var drain: TimeAmount = .seconds(1)
        public var threads = 2
        public init() {}
    }

    /// A transport change of one client; `atMs` counts from the start of the run (the first
    /// client's start), like a simulated run's `switches[]`, and the first entry of every
    /// client (`from` nil, reason `initial`) is when that client started.
    public struct Switch: Sendable {
        public var client: String
        public var atMs: Double
        public var from: TransportMethod?
        public var to: TransportMethod
        public var reason: MethodChangeReason
    }

    /// Where one client ended: the transport open when the window closed (nil if none was).
    public struct ClientOutcome: Sendable {
        public var client: String
        public var transport: TransportMethod?
    }

    /// What one run measured.
    public struct Result: Sendable {
        public var clients: Int
        public var connected: Int
        public var byTransport: [String: Int]
        public var offered: Int
        public var delivered: Int
        public var duplicated: Int
        public var reordered: Int
        /// Latency samples in microseconds, sorted.
        public var latenciesMicros: [Int64]
        public var seconds: Double
        /// Every client's transport changes, in client order, each client's in time order.
        public var switches: [Switch]
        public var outcomes: [ClientOutcome]
    }

    /// Per-client accounting, touched only on the client's loop; read at the end.
    final class Tally: RealtimeManagerDelegate, @unchecked Sendable {
        var firstOffset: UInt64?
        var highest: UInt64 = 0
        var seen = Set<UInt64>()
        var duplicated = 0
        var reordered = 0
        var latencies: [Int64] = []
        var opened = false
        var measuring = false
        var switches: [(at: NIODeadline, from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason)] = []

        func manager(_ manager: RealtimeCommunicationManager, deliver message: RealtimeMessage, at time: NIODeadline) {
            guard self.measuring else { return }
            if self.firstOffset == nil { self.firstOffset = message.offset }
            if !self.seen.insert(message.offset).inserted { self.duplicated += 1 } else if message.offset < self.highest { self.reordered += 1 }
            self.highest = max(self.highest, message.offset)
            // Against the intended schedule (`due`, µs) when the publisher states it; else
            // against the publish stamp (`ts`, ms).
            if let fields = JSONObjectScanner.scan(message.data) {
                if let due = fields.unsigned("due") {
                    self.latencies.append(wallClockMicros() - Int64(due))
                } else if let published = fields.unsigned("ts") {
                    self.latencies.append(wallClockMicros() - Int64(published) * 1000)
                }
            }
        }

        func manager(_ manager: RealtimeCommunicationManager, methodChangedFrom from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason, at time: NIODeadline) {
            self.switches.append((time, from, to, reason))
        }

        func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline) {
            self.opened = true
        }
    }

    /// Opens each attempt's connection with a ClientBootstrap on the manager's loop.
    final class Connector: RealtimeConnector, @unchecked Sendable {
        let loop: any EventLoop
        let host: String
        let port: Int
        init(loop: any EventLoop, host: String, port: Int) {
            self.loop = loop
            self.host = host
            self.port = port
        }
        func connect(_ method: TransportMethod, _ initialize: @escaping (any Channel) throws -> Void) {
            let initializer = NIOLoopBound(initialize, eventLoop: self.loop)
            ClientBootstrap(group: self.loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initializer.value(channel) } }
                .connect(host: self.host, port: self.port)
                .whenFailure { _ in }  // the client's handlers report the failure to the manager
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Runs the load and returns what it measured.
    public func run() throws -> Result {
        let configuration = self.configuration
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        defer { try? group.syncShutdownGracefully() }
        var managers: [(RealtimeCommunicationManager, Tally, any EventLoop)] = []
        // The loops' clock (NIOPosix's is the monotonic uptime clock) at the run's start.
        let runStarted = NIODeadline.now()
        for index in 0..<configuration.clients {
            let loop = group.next()
            let tally = Tally()
            var settings = RealtimeCommunicationManager.Configuration(host: configuration.host, topic: configuration.topic)
            settings.machine.defaultMethod = configuration.method
            settings.machine.fallbackMethods = configuration.fallback ? TransportMethod.allCases.filter { $0 != configuration.method } : []
            settings.clientID = "load-\(index + 1)"
            settings.syncLongPoll = .seconds(25)
            let managerSettings = settings  // a constant for the loop's closure
            let delay = TimeAmount.nanoseconds(configuration.rampUp.nanoseconds * Int64(index) / Int64(max(configuration.clients, 1)))
            let manager = try loop.submit {
                let manager = RealtimeCommunicationManager(
                    configuration: managerSettings, eventLoop: loop,
                    connector: Connector(loop: loop, host: configuration.host, port: configuration.port),
                    seed: UInt64(index + 1)
                )
                manager.delegate = tally
                loop.scheduleTask(in: delay) { manager.start() }
                return manager
            }.wait()
            managers.append((manager, tally, loop))
        }
        // Measure after the ramp-up (plus a second for the last welcomes).
        try group.next().scheduleTask(in: configuration.rampUp + .seconds(1)) {}.futureResult.wait()
        for (_, tally, loop) in managers { try loop.submit { tally.measuring = true }.wait() }
        let started = wallClockMicros()
        try group.next().scheduleTask(in: configuration.duration) {}.futureResult.wait()
        let seconds = Double(wallClockMicros() - started) / 1e6
        // The newest offset any client has seen when the window ends bounds what counts as
        // offered; the others get the drain time to receive the messages still in flight.
        var newest: UInt64 = 0
        for (_, tally, loop) in managers { newest = max(newest, try loop.submit { tally.highest }.wait()) }
        try group.next().scheduleTask(in: configuration.drain) {}.futureResult.wait()
        for (_, tally, loop) in managers { try loop.submit { tally.measuring = false }.wait() }

        var result = Result(
            clients: configuration.clients, connected: 0, byTransport: [:], offered: 0, delivered: 0, duplicated: 0, reordered: 0,
            latenciesMicros: [], seconds: seconds, switches: [], outcomes: []
        )
        for (manager, tally, loop) in managers {
            // Read on the client's loop (the manager still runs); the measured fields below
            // stopped changing when measuring ended there.
            let (open, method, switches, opened) = try loop.submit { (manager.isOpen, manager.currentMethod, tally.switches, tally.opened) }.wait()
            let client = manager.configuration.clientID ?? ""
            if opened { result.connected += 1 }
            if open, let method { result.byTransport[method.rawValue, default: 0] += 1 }
            result.outcomes.append(ClientOutcome(client: client, transport: open ? method : nil))
            for change in switches {
                let atMs = Double((change.at - runStarted).nanoseconds / 1000) / 1000
                result.switches.append(Switch(client: client, atMs: atMs, from: change.from, to: change.to, reason: change.reason))
            }
            if let first = tally.firstOffset, newest >= first { result.offered += Int(newest - first + 1) }
            result.delivered += tally.seen.filter { $0 <= newest }.count
            result.duplicated += tally.duplicated
            result.reordered += tally.reordered
            result.latenciesMicros += tally.latencies
            try loop.submit { manager.stop() }.wait()
        }
        result.latenciesMicros.sort()
        return result
    }
}

/// Wall-clock microseconds since 1970 (live measurement only).
func wallClockMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)  // allowed-nondeterminism: live latency against the publish schedule
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}
