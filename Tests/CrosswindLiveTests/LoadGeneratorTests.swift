import CrosswindRandom
import CrosswindReport
import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindLive

/// `Expectation` alone is ambiguous beside Swift Testing's type of that name.
typealias Expect = CrosswindReport.Expectation

/// The load generator in this process against a `LiveServer` on 127.0.0.1 (a free port):
/// real sockets, the managers of `crosswind load`, and the same report and expectations a
/// simulated run has.
@Suite(.serialized) struct LoadGeneratorTests {
    /// A server publishing 20 messages a second on `metrics`, on a free loopback port, with
    /// two event loops (each its own hub), so clients land on both whatever the machine.
    static func startServer() throws -> (LiveServer, Int) {
        var configuration = LiveServer.Configuration()
        configuration.port = 0
        configuration.loops = 2
        configuration.demoRatePerSecond = 20
        configuration.server.log = { _ in }
        let server = LiveServer(configuration: configuration)
        return (server, try server.start())
    }

    static func load(port: Int, clients: Int, method: TransportMethod, duration: TimeAmount, expectations: [Expect]) -> LoadGenerator.Configuration {
        var configuration = LoadGenerator.Configuration()
        configuration.port = port
        configuration.clients = clients
        configuration.method = method
        configuration.duration = duration
        configuration.rampUp = .milliseconds(200)
        configuration.drain = .seconds(1)
        configuration.seed = 5
        configuration.experiment = "load-test"
        configuration.expectations = expectations
        return configuration
    }

    @Test(arguments: [TransportMethod.websocket, .sse, .sync])
    func everyMessageOnceWithItsLatencyAndTheExpectationsJudged(method: TransportMethod) throws {
        let (server, port) = try Self.startServer()
        defer { try? server.stop() }
        let expectations = [
            Expect(kind: .deliveryComplete),
            Expect(kind: .noDuplicates),
            Expect(kind: .noReordering),
            Expect(kind: .allConnected),
            Expect(kind: .endsOnTransport(group: "load", transport: method, withinMilliseconds: 2000, notBeforeMilliseconds: nil)),
            Expect(kind: .noIncompleteRecovery),
            // No real socket delivers in a microsecond: this one must fail.
            Expect(kind: .latencyAtMost(.p99, milliseconds: 0.001)),
        ]
        let result = try LoadGenerator(configuration: Self.load(port: port, clients: 4, method: method, duration: .seconds(2), expectations: expectations)).run()
        let report = result.report

        // Four clients for 2 s at 20 messages a second: about 40 each, every one once, in order.
        #expect(report.messages.offered >= 4 * 30, "\(report.messages)")
        #expect(report.messages.delivered == report.messages.offered)
        #expect(report.messages.lost == 0 && report.messages.duplicated == 0 && report.messages.reordered == 0)
        // Every delivery measured against the publish schedule.
        #expect(result.observation.latency.count >= UInt64(report.messages.delivered))
        #expect(report.latencyMs.p50 > 0)
        #expect(report.latencyMs.p50 <= report.latencyMs.p99 && report.latencyMs.p99 <= report.latencyMs.max)

        #expect(report.expectations.map(\.text) == expectations.map(\.text))
        #expect(report.expectations.dropLast().allSatisfy { $0.passed }, "\(report.expectations)")
        let impossible = try #require(report.expectations.last)
        #expect(!impossible.passed)
        #expect(impossible.observed == "p99 \(report.latencyMs.p99) ms")
        #expect(!report.passed)

        #expect(report.experiment == "load-test" && report.seed == 5 && report.digest == "live")
        #expect(report.clients.total == 4 && report.clients.connected == 4)
        #expect(report.clients.byTransport == [method.rawValue: 4])
        #expect(report.connectionSuccessRate == 1)
        #expect(report.endedOn?.map(\.transport) == Array(repeating: method.rawValue, count: 4))
        #expect(report.switches.map(\.client) == ["load-1", "load-2", "load-3", "load-4"])
        #expect(report.switches.allSatisfy { $0.from == nil && $0.to == method.rawValue && $0.reason == "initial" })
        #expect(report.groups.map(\.name) == ["load"])
        #expect(report.transports[method.rawValue]?.opens ?? 0 >= 4)
        // TCP payload both ways: requests up, the messages (and their framing) down.
        #expect(report.wire.bytesUp > 0)
        #expect(report.wire.bytesDown > report.wire.goodputBytes && report.wire.goodputBytes > 0)
        #expect(report.wire.packets == nil && report.wire.retransmissions == nil)
        #expect(report.bandwidthBytesPerSec > 0 && report.throughputMsgPerSec > 0)
        #expect(report.recovery.count == 0 && report.recovery.unrecovered == 0)
        #expect(report.simulation == nil && report.serverErrors == nil && report.clientMessages == nil)
        // The per-client and per-group figures a simulated report has: every client's own
        // messages add up to the run's, nobody broke an invariant, and a client held to
        // another transport would be named with what was expected of it.
        #expect(report.groups.first?.messages == report.messages)
        #expect(report.groups.first?.switchesByReason == ["initial": 4])
        #expect(report.groups.first?.failingClients == 0)
        #expect(report.failingClients.isEmpty && report.failingClientsNotListed == nil)
        #expect(result.observation.clients.reduce(0) { $0 + $1.offered } == report.messages.offered)
        let other: TransportMethod = method == .sse ? .sync : .sse
        let held = result.observation.failingClients([Expect(kind: .endsOnTransport(group: "load", transport: other, withinMilliseconds: nil, notBeforeMilliseconds: nil))])
        #expect(held.map(\.client) == ["load-1", "load-2", "load-3", "load-4"])
        #expect(held.allSatisfy { $0.violations == [.wrongTransport] && $0.expectedTransport == other.rawValue && $0.transport == method.rawValue })
    }

    @Test func anOutageIsRecoveredFromAndTimed() throws {
        // Three WebSocket clients through a TCP proxy that is switched off 1.8 s into the
        // window for a second: each client's open transport ends once, it reconnects and
        // resumes from its cursor, and is recovered when a message published after the end
        // arrives. Nothing is lost or duplicated across the outage.
        let (server, serverPort) = try Self.startServer()
        defer { try? server.stop() }
        let streams = RandomStreams(seed: 1)
        let proxy = LiveProxy(random: { streams.fork($0) }, decisions: { _ in })
        defer { try? proxy.stop() }
        let listen = try proxy.createDefaultProxy(name: "outage", listen: "127.0.0.1:0", upstream: "127.0.0.1:\(serverPort)", toxics: [])
        let port = try #require(splitHostPort(listen)?.1)
        let configuration = Self.load(port: port, clients: 3, method: .websocket, duration: .seconds(6), expectations: [
            Expect(kind: .deliveryComplete),
            Expect(kind: .noDuplicates),
            Expect(kind: .recoveryAtMost(.max, milliseconds: 5000)),
            Expect(kind: .noIncompleteRecovery),
        ])
        // The window opens 1.2 s after the start (ramp-up + 1 s).
        let loop = proxy.loop
        loop.scheduleTask(in: .milliseconds(3000)) { proxy.proxies["outage"]?.disable() }
        loop.scheduleTask(in: .milliseconds(4000)) { _ = proxy.proxies["outage"]?.enable() }
        let report = try LoadGenerator(configuration: configuration).run().report

        #expect(report.recovery.count == 3, "\(report.recovery)")
        #expect(report.recovery.unrecovered == 0)
        // At least the second the proxy was off, and within the backoff's reach.
        #expect(report.recovery.p50Ms >= 900 && report.recovery.maxMs <= 5000, "\(report.recovery)")
        #expect(report.messages.lost == 0 && report.messages.duplicated == 0 && report.messages.reordered == 0, "\(report.messages)")
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clients.byTransport == ["websocket": 3])
        // Recovered means caught up; the first delivery after reopening is reported beside it
        // and comes no later. The group block holds the same outages.
        #expect(report.recovery.firstDeliveryMs.count == 3)
        #expect(report.recovery.firstDeliveryMs.max <= report.recovery.maxMs)
        #expect(report.groups.first?.recovery == report.recovery)
        #expect(report.failingClients.isEmpty)
    }
}
