import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindTestbed

/// Several server nodes behind a balancer: connections spread round robin, Custom Sync and
/// client messages work when every new connection lands on another node, and a node that
/// crashes leaves its clients to resume completely on the others.
@Suite struct ServerNodesTests {
    static let everything: [Expect] = [
        Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected),
        Expect(kind: .clientSendsComplete), Expect(kind: .noIncompleteRecovery),
    ]

    /// Three nodes of `app`; managed groups `office` (Custom Sync alone, behind `edge`, which
    /// ends every connection after 3 s) and `home` (WebSocket, behind `lb`), six clients each,
    /// both sending a message a second; 2 s to 14 s of publishing, 6 s of drain.
    static func experiment(sticky: Bool = false, timeline: [TimelineEvent] = []) -> Experiment {
        var heartbeat = HeartbeatSettings()
        heartbeat.interval = .seconds(2)
        heartbeat.timeout = .seconds(1)
        var syncOnly = RealtimeManagerConfiguration()
        syncOnly.defaultMethod = .sync
        syncOnly.fallbackMethods = []
        let link = LinkPair(both: LinkConfiguration(latency: .milliseconds(10)))
        let office = ClientGroup(
            name: "office", count: 6, connectSpread: .milliseconds(600), link: link, heartbeat: heartbeat,
            sync: SyncSettings(interval: .milliseconds(500)), manager: syncOnly
        )
        let home = ClientGroup(name: "home", count: 6, connectSpread: .milliseconds(600), link: link, heartbeat: heartbeat, manager: RealtimeManagerConfiguration())
        var capped = HTTPProxyPolicy.passThrough
        capped.maxConnectionLifetime = .seconds(3)
        let topology = Topology(
            name: "nodes", server: ServerSpec(name: "app", nodes: 3), groups: [office, home],
            middleboxes: [
                MiddleboxSpec(name: "edge", groups: ["office"], policy: capped, sticky: sticky),
                MiddleboxSpec(name: "lb", groups: ["home"], sticky: sticky),
            ]
        )
        return Experiment(
            name: "nodes", seed: 11, topology: topology,
            workload: Workload(
                ratePerSecond: 5, messageBytes: 128, start: .seconds(2), duration: .seconds(12), drain: .seconds(6),
                clientSends: ClientSends(ratePerSecond: 1, messageBytes: 64)
            ),
            expectations: Self.everything, timeline: timeline
        )
    }

    @Test func theBalancerSpreadsConnectionsRoundRobin() throws {
        let run = try ExperimentRun(experiment: Self.experiment())
        let report = run.execute().report
        #expect(report.passed, "\(report.expectations)")
        // Six WebSocket connections, one per client, in turn over three nodes.
        #expect(run.balancers["lb"]?.balancer.assigned == [2, 2, 2])
        // The office's connections (polls recycled every 3 s, and every POST) land everywhere.
        let edge = try #require(run.balancers["edge"]?.balancer.assigned)
        #expect(edge.max()! - edge.min()! <= 1)
        #expect(edge.reduce(0, +) > 6 * 4)
    }

    @Test func customSyncAndClientSendsSurviveEveryConnectionLandingElsewhere() throws {
        let outcome = try DeterminismCheck.check(Self.experiment(), seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clients.byTransport["sync"] == 6)
        #expect(report.clients.byTransport["websocket"] == 6)
        #expect(report.messages.lost == 0 && report.messages.duplicated == 0 && report.messages.reordered == 0)
    }

    @Test func stickyBalancersKeepEachClientOnOneNode() throws {
        let run = try ExperimentRun(experiment: Self.experiment(sticky: true))
        let report = run.execute().report
        #expect(report.passed, "\(report.expectations)")
        // Six office clients placed in turn, two a node; each keeps its node, so the counts
        // stay in proportion to the clients each node holds.
        let edge = try #require(run.balancers["edge"]?.balancer.assigned)
        #expect(edge.allSatisfy { $0 > 2 })
        #expect(edge.max()! - edge.min()! <= 6)
    }

    @Test func aNodeThatCrashesLeavesItsClientsToResumeOnTheOthers() throws {
        let crash = TimelineEvent(at: .seconds(6), action: .restartServer(down: .seconds(3), persist: false, node: "app-2"))
        let outcome = try DeterminismCheck.check(Self.experiment(timeline: [crash]), seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        #expect(report.incompleteRecoveries == 0)
        let trace = outcome.first.trace
        let crashes = trace.events.filter { trace.kindName($0.kind) == "server.crash" }
        #expect(crashes.count == 1)
        #expect(crashes.first.map { trace.componentName($0.component) } == "server:app-2")
        #expect((crashes.first?.a ?? 0) > 0)  // some clients were on it
        // The log went on while app-2 was down: it came back at the log's next offset, not 1.
        let start = try #require(trace.events.first { trace.kindName($0.kind) == "server.start" })
        #expect(start.b > 30)
    }
}
