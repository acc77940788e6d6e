import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import NIOCore
import Testing

/// HTTP proxies in the path: the manager falls through WebSocket → SSE → Custom Sync as each
/// is broken by a proxy policy, and climbs back when the proxy is removed.
@Suite struct ProxyExperimentTests {
    static func experiment(
        _ name: String,
        policy: HTTPProxyPolicy,
        manager: RealtimeManagerConfiguration = RealtimeManagerConfiguration(),
        timeline: [TimelineEvent] = [],
        duration: TimeAmount = .seconds(40),
        clientSends: ClientSends? = nil,
        expectations: [Expect]
    ) -> Experiment {
        let group = ClientGroup(name: "office", count: 10, connectSpread: .milliseconds(500), link: LinkPair(both: LinkConfiguration(latency: .milliseconds(15))), manager: manager)
        let proxy = MiddleboxSpec(name: "corp-proxy", groups: ["office"], policy: policy)
        var workload = Workload(ratePerSecond: 5, messageBytes: 256, start: .seconds(2), duration: duration, drain: .seconds(15))
        workload.clientSends = clientSends
        return Experiment(
            name: name,
            seed: 4,
            topology: Topology(name: name, groups: [group], middleboxes: [proxy]),
            workload: workload,
            expectations: expectations,
            timeline: timeline
        )
    }

    static let noLoss: [Expect] = [Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected)]

    func run(_ experiment: Experiment) throws -> Report {
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic, "\(String(describing: outcome.divergence))")
        return outcome.first.report
    }

    @Test func passThroughProxyChangesNothing() throws {
        let report = try self.run(Self.experiment("proxy-pass", policy: HTTPProxyPolicy(), expectations: Self.noLoss + [Expect(kind: .endsOnTransport(group: nil, transport: .websocket, withinMilliseconds: 1000, notBeforeMilliseconds: nil))]))
        #expect(report.passed, "\(report.expectations)")
    }

    @Test func strippedUpgradeEndsOnSSE() throws {
        let report = try self.run(Self.experiment("strip", policy: HTTPProxyPolicy(stripUpgrade: true), expectations: Self.noLoss + [Expect(kind: .endsOnTransport(group: nil, transport: .sse, withinMilliseconds: 3000, notBeforeMilliseconds: nil))]))
        #expect(report.passed, "\(report.expectations)")
    }

    @Test func silentAfter101EndsOnSSE() throws {
        let report = try self.run(Self.experiment("silent", policy: HTTPProxyPolicy(afterUpgrade: .silence), expectations: Self.noLoss + [Expect(kind: .endsOnTransport(group: nil, transport: .sse, withinMilliseconds: 5000, notBeforeMilliseconds: 2500))]))
        #expect(report.passed, "\(report.expectations)")
    }

    @Test func bufferedStreamsEndOnSync() throws {
        let report = try self.run(Self.experiment("buffered", policy: HTTPProxyPolicy(stripUpgrade: true, bufferResponseBytes: 64 * 1024), expectations: Self.noLoss + [Expect(kind: .endsOnTransport(group: nil, transport: .sync, withinMilliseconds: 10000, notBeforeMilliseconds: nil))]))
        #expect(report.passed, "\(report.expectations)")
    }

    @Test func removingTheProxyBringsClientsBackToWebSocket() throws {
        var manager = RealtimeManagerConfiguration()
        manager.benchmarkInterval = .seconds(30)
        let report = try self.run(Self.experiment(
            "upgrade-back", policy: HTTPProxyPolicy(stripUpgrade: true), manager: manager,
            timeline: [TimelineEvent(at: .seconds(20), action: .setProxyPolicy(middlebox: "corp-proxy", policy: HTTPProxyPolicy()))],
            duration: .seconds(60),
            expectations: Self.noLoss + [Expect(kind: .endsOnTransport(group: nil, transport: .websocket, withinMilliseconds: 52_000, notBeforeMilliseconds: 20_000))]
        ))
        #expect(report.passed, "\(report.expectations)")
    }

    @Test(arguments: [
        ("websocket", HTTPProxyPolicy()),
        ("sse", HTTPProxyPolicy(stripUpgrade: true)),
        ("sync", HTTPProxyPolicy(stripUpgrade: true, bufferResponseBytes: 64 * 1024)),
    ])
    func clientMessagesReachTheServerOnceOnEveryTransport(transport: String, policy: HTTPProxyPolicy) throws {
        // Two messages a second from each client: over the WebSocket itself, or by POST /send
        // beside the SSE stream or the polls. Messages sent before the client settled (while it
        // was still falling back) wait in its outbox and go out on the transport it ends on.
        let report = try self.run(Self.experiment(
            "sends-\(transport)", policy: policy, clientSends: ClientSends(ratePerSecond: 2, messageBytes: 64),
            expectations: [Expect(kind: .clientSendsComplete), Expect(kind: .endsOnTransport(group: nil, transport: TransportMethod(rawValue: transport)!, withinMilliseconds: nil, notBeforeMilliseconds: nil))]
        ))
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clientMessages?.offered == 10 * 80)
    }

    @Test func clientMessagesSurviveASwitchWithoutDuplicates() throws {
        // Upgrade-back with client messages: unacknowledged ones are resent on WebSocket after
        // the switch and recognised by number; the server sees each exactly once.
        var manager = RealtimeManagerConfiguration()
        manager.benchmarkInterval = .seconds(30)
        let report = try self.run(Self.experiment(
            "sends-switch", policy: HTTPProxyPolicy(stripUpgrade: true), manager: manager,
            timeline: [TimelineEvent(at: .seconds(20), action: .setProxyPolicy(middlebox: "corp-proxy", policy: HTTPProxyPolicy()))],
            duration: .seconds(60), clientSends: ClientSends(ratePerSecond: 4, messageBytes: 32),
            expectations: Self.noLoss + [Expect(kind: .clientSendsComplete)]
        ))
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clientMessages?.duplicated == 0)
        #expect(report.clientMessages?.delivered == 10 * 240)
    }

    @Test func bufferingThatStartsMidSessionMovesClientsToSync() throws {
        // Clients settle on SSE (Upgrade stripped). At 20 s the proxy starts holding response
        // bodies: the stream's heartbeats (every 5 s here) stop arriving, the manager loses the
        // stream, its SSE reconnect is held too (no welcome within the confirm timeout), and it
        // falls back to Custom Sync, whose responses pass whole. Nothing is lost.
        var manager = RealtimeManagerConfiguration()
        manager.benchmarkInterval = .seconds(600)
        var experiment = Self.experiment(
            "mid-session-buffering", policy: HTTPProxyPolicy(stripUpgrade: true), manager: manager,
            timeline: [TimelineEvent(at: .seconds(20), action: .setProxyPolicy(middlebox: "corp-proxy", policy: HTTPProxyPolicy(stripUpgrade: true, bufferResponseBytes: 256 * 1024)))],
            duration: .seconds(80),
            // Detected within a heartbeat interval and timeout of the change (plus the SSE
            // reconnect's confirm timeout): on Custom Sync by 35 s.
            expectations: Self.noLoss + [Expect(kind: .endsOnTransport(group: nil, transport: .sync, withinMilliseconds: 35_000, notBeforeMilliseconds: 20_000))]
        )
        for index in experiment.topology.groups.indices {
            experiment.topology.groups[index].heartbeat = HeartbeatSettings(interval: .seconds(5), timeout: .seconds(3))
        }
        let report = try self.run(experiment)
        #expect(report.passed, "\(report.expectations)")
        let reasons = Set(report.switches.map(\.reason))
        #expect(reasons.contains("fallbackHeartbeatLost") || reasons.contains("fallbackBuffering") || reasons.contains("fallbackConfirmTimeout"), "\(reasons)")
    }
}
