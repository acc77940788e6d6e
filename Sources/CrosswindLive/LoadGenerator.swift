import CrosswindRandom
import CrosswindReport
import CrosswindTLS
import CrosswindTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// `crosswind load`: a population of Swift clients — the RealtimeCommunicationManager over
/// real sockets — against a running server, measuring what a simulated run measures and
/// writing the same ``Report``, with the same expectations evaluated against it.
///
/// Latency is taken against the publisher's schedule: the demo publisher stamps every message
/// with the time it was due (`data.due`, µs since 1970), so a late publisher or a client that
/// falls behind shows the delay instead of hiding it (no coordinated omission). Servers that
/// only stamp `data.ts` (ms) are measured against that.
///
/// The run: clients start evenly over the ramp-up; a second later the window opens and every
/// client answers for each message after the newest it already has; when the window closes,
/// the newest offset any client has bounds what counts as offered, and the drain gives
/// messages in flight (and clients still recovering) time to arrive.
///
/// What the live report holds, where a simulated one differs:
/// - `digest` is `live`: there is no trace to digest.
/// - `wire` counts the TCP payload the clients' sockets wrote and read (not the IP layer), so
///   `packets`, `packetsDropped` and `retransmissions` are absent; `bandwidthBytesPerSec`
///   divides it by the whole run, first client's start to the end of the drain.
/// - `recovery` counts, per client, each time its open transport ended in the window, until it
///   is open again and has caught up: it holds every message published before that moment and
///   one published after it (`firstDeliveryMs`: until its first delivery after reopening).
/// - `clientMessages`, `serverErrors` and `simulation` are absent (the clients send nothing,
///   the server is another process); `endedOn` lists each client's transport at the end.
/// - `groups` (one) and `failingClients` come from each client's own figures, as in a
///   simulated run: its messages and the offsets it missed from its first accountable offset
///   to the newest any client had, its switches and its recoveries.
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
        /// The run seed: each client's manager draws its backoff jitter from a stream forked
        /// from it by the client's name (`manager:load-1` …), as simulated clients do.
        public var seed: UInt64 = 1
        /// The report's `experiment`.
        public var experiment = "load"
        /// The group every client belongs to: expectations naming a group are about it.
        public var group = "load"
        /// Evaluated against the run into the report's `expectations` and `passed`.
        public var expectations: [Expectation] = []
        /// The access token each client presents, asked for at every connection attempt (see
        /// ``RealtimeCommunicationManager/Configuration/accessToken``); nil sends none.
        public var accessToken: (@Sendable () -> String?)?
        /// With settings, every connection speaks TLS to `host`, checking the server's
        /// certificate (trusted CA, and its name is `host`): https and wss. nil: plain.
        public var tls: TLSClientSettings?
        /// Problems worth a person's attention, each distinct line once: why TLS failed.
        public var log: (@Sendable (String) -> Void)?
        public init() {}
    }

    /// What one run measured.
    public struct Result: Sendable {
        /// The report, expectations evaluated (`resources` is left to the caller, who knows
        /// which process it measures).
        public var report: Report
        /// What the report was built from.
        public var observation: RunObservation
        /// The measured window, in seconds of wall time.
        public var windowSeconds: Double
    }

    /// TLS for a connector's connections: the settings, the host the server's certificate must
    /// name, and where a failure is reported.
    struct ConnectorTLS: Sendable {
        let settings: TLSClientSettings
        let host: String
        let report: @Sendable (String) -> Void
    }

    /// Opens each attempt's connection with a ClientBootstrap on the manager's loop, with a
    /// byte counter at the head of its pipeline and TLS after it when asked for (so the
    /// counter counts what the socket carries).
    final class Connector: RealtimeConnector, @unchecked Sendable {
        let loop: any EventLoop
        let address: SocketAddress
        let tally: LoadClientTally
        let tls: ConnectorTLS?
        init(loop: any EventLoop, address: SocketAddress, tally: LoadClientTally, tls: ConnectorTLS?) {
            self.loop = loop
            self.address = address
            self.tally = tally
            self.tls = tls
        }
        func connect(_ method: TransportMethod, _ initialize: @escaping (any Channel) throws -> Void) {
            let initializer = NIOLoopBound(initialize, eventLoop: self.loop)
            let tally = NIOLoopBound(self.tally, eventLoop: self.loop)
            let opened = NIOLoopBoundBox<(any Channel)?>(nil, eventLoop: self.loop)
            let tls = self.tls
            ClientBootstrap(group: self.loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        opened.value = channel
                        try channel.pipeline.syncOperations.addHandler(SocketByteCounter(tally: tally.value))
                        if let tls { try tls.settings.configure(channel, host: tls.host, report: tls.report) }
                        try initializer.value(channel)
                    }
                }
                .connect(to: self.address)
                .whenFailure { error in
                    // NIOPosix reports a failed connect (ECONNREFUSED, a timeout) only through
                    // this future, not through the pipeline. The connector's contract is that
                    // the client's handlers hear of it, so it is handed to them here, while
                    // they are still in the closed channel's pipeline (NIO removes them on the
                    // loop's next turn); a refusal then reaches the manager at once instead of
                    // at its give-up deadline.
                    opened.value?.pipeline.syncOperations.fireErrorCaught(error)
                }
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
        let streams = RandomStreams(seed: configuration.seed)
        // Resolved once, before any client starts (a name lookup blocks).
        let address = try SocketAddress.makeAddressResolvingHost(configuration.host, port: configuration.port)
        let tls = configuration.tls.map { ConnectorTLS(settings: $0, host: configuration.host, report: Self.once(configuration.log)) }
        var clients: [(manager: RealtimeCommunicationManager, tally: LoadClientTally, loop: any EventLoop)] = []
        // The loops' clock (NIOPosix's is the monotonic uptime clock) at the run's start.
        let runStarted = NIODeadline.now()
        for index in 0..<configuration.clients {
            let loop = group.next()
            let name = "load-\(index + 1)"
            let tally = LoadClientTally(name: name)
            var settings = RealtimeCommunicationManager.Configuration(host: configuration.host, topic: configuration.topic)
            settings.machine.defaultMethod = configuration.method
            settings.machine.fallbackMethods = configuration.fallback ? TransportMethod.allCases.filter { $0 != configuration.method } : []
            settings.clientID = name
            settings.accessToken = configuration.accessToken
            settings.syncLongPoll = .seconds(25)
            let managerSettings = settings  // a constant for the loop's closure
            var seedStream = streams.fork("manager:\(name)")
            let seed = seedStream.next()
            let delay = TimeAmount.nanoseconds(configuration.rampUp.nanoseconds * Int64(index) / Int64(max(configuration.clients, 1)))
            let manager = try loop.submit {
                let manager = RealtimeCommunicationManager(
                    configuration: managerSettings, eventLoop: loop,
                    connector: Connector(loop: loop, address: address, tally: tally, tls: tls),
                    seed: seed
                )
                manager.delegate = tally
                tally.manager = manager
                loop.scheduleTask(in: delay) {
                    tally.startedAt = loop.now
                    manager.start()
                }
                return manager
            }.wait()
            clients.append((manager, tally, loop))
        }
        // Measure after the ramp-up (plus a second for the last welcomes).
        try group.next().scheduleTask(in: configuration.rampUp + .seconds(1)) {}.futureResult.wait()
        for (_, tally, loop) in clients { try loop.submit { tally.startWindow() }.wait() }
        let windowStarted = wallClockMicros()
        try group.next().scheduleTask(in: configuration.duration) {}.futureResult.wait()
        let windowSeconds = Double(wallClockMicros() - windowStarted) / 1e6
        // The newest offset any client has when the window ends bounds what counts as
        // offered (per epoch: a server restarted in the window starts another); the others get the drain time to receive the messages still in flight.
        var newest: [UInt64: UInt64] = [:]
        for (_, tally, loop) in clients {
            let highest = try loop.submit { () -> [UInt64: UInt64] in
                tally.phase = .drain
                return tally.highestByEpoch
            }.wait()
            newest.merge(highest, uniquingKeysWith: max)
        }
        try group.next().scheduleTask(in: configuration.drain) {}.futureResult.wait()
        for (_, tally, loop) in clients { try loop.submit { tally.phase = .done }.wait() }
        let runSeconds = Double((NIODeadline.now() - runStarted).nanoseconds) / 1e9
        let bound = newest

        var observed: [RunObservation.Client] = []
        var performances: [[TransportMethod: TransportPerformance]] = []
        var (offered, delivered, duplicated, reordered, goodput, bytesUp, bytesDown) = (0, 0, 0, 0, 0, 0, 0)
        var latency = LatencyHistogram()
        var recoveries = LatencyHistogram()
        var firstDeliveries = LatencyHistogram()
        var (unrecovered, incomplete) = (0, 0)
        for (manager, tally, loop) in clients {
            // Read on the client's loop (the manager still runs; the tally stopped changing
            // when its phase became done there), then stopped.
            let figures = try loop.submit {
                tally.figures(group: configuration.group, runStarted: runStarted, newest: bound)
            }.wait()
            try loop.submit { manager.stop() }.wait()
            observed.append(figures.client)
            performances.append(figures.performance)
            offered += figures.offered
            delivered += figures.delivered
            goodput += figures.goodputBytes
            duplicated += figures.duplicated
            reordered += figures.reordered
            latency.merge(figures.latency)
            recoveries.merge(figures.recoveries)
            firstDeliveries.merge(figures.firstDeliveries)
            unrecovered += figures.unrecovered
            incomplete += figures.incompleteRecoveries
            bytesUp += figures.bytesUp
            bytesDown += figures.bytesDown
        }
        var observation = RunObservation(
            groups: [configuration.group],
            clients: observed,
            offered: offered,
            delivered: delivered,
            duplicated: duplicated,
            reordered: reordered,
            latency: latency,
            recoveries: recoveries,
            unrecovered: unrecovered,
            incompleteRecoveries: incomplete,
            clientMessages: nil
        )
        observation.firstDeliveries = firstDeliveries
        var report = Report(
            experiment: configuration.experiment,
            seed: configuration.seed,
            digest: "live",
            observation: observation,
            expectations: configuration.expectations,
            throughputSeconds: windowSeconds,
            bandwidthSeconds: runSeconds,
            wire: Report.Wire(bytesUp: bytesUp, bytesDown: bytesDown, goodputBytes: goodput),
            transports: Report.TransportFigures.summing(performances)
        )
        report.endedOn = observed.map { Report.ClientEnd(client: $0.name, transport: $0.transport?.rawValue) }
        return Result(report: report, observation: observation, windowSeconds: windowSeconds)
    }

    /// `log`, passing each distinct line once (a hundred clients refused for one reason make
    /// one line).
    private static func once(_ log: (@Sendable (String) -> Void)?) -> @Sendable (String) -> Void {
        let seen = NIOLockedValueBox<Set<String>>([])
        return { line in
            guard seen.withLockedValue({ $0.insert(line).inserted }) else { return }
            log?(line)
        }
    }
}

/// Wall-clock microseconds since 1970 (live measurement only).
func wallClockMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)  // allowed-nondeterminism: live latency against the publish schedule
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}
