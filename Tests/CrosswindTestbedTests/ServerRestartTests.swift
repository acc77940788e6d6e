import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import NIOCore
import Testing

/// The timeline's `restartServer` in simulation: the crash sends nothing, the host answers the
/// old connections with RST, every managed client comes back, and the report counts both
/// epochs honestly (``ClientAgent``'s accounting, as `crosswind load` counts a live restart).
@Suite struct ServerRestartTests {
    /// Five managed WebSocket clients, 20 ms each way, heartbeat every 2 s; five messages a
    /// second from 2 s to 12 s, then 10 s of drain.
    static func experiment(_ timeline: [TimelineEvent], expectations: [Expect] = []) -> Experiment {
        var heartbeat = HeartbeatSettings()
        heartbeat.interval = .seconds(2)
        heartbeat.timeout = .seconds(1)
        var manager = RealtimeManagerConfiguration()
        manager.benchmarkInterval = .seconds(5)
        let group = ClientGroup(
            name: "office", count: 5, connectSpread: .milliseconds(500), link: LinkPair(both: LinkConfiguration(latency: .milliseconds(20))),
            heartbeat: heartbeat, manager: manager
        )
        return Experiment(
            name: "restart",
            seed: 5,
            topology: Topology(name: "restart", groups: [group]),
            workload: Workload(ratePerSecond: 5, messageBytes: 128, start: .seconds(2), duration: .seconds(10), drain: .seconds(10)),
            expectations: expectations,
            timeline: timeline
        )
    }

    /// The clients' down links black-hole from 4 s to 5 s, and the server crashes at 4.5 s, to
    /// be back at 5.5 s: what it sent into the hole (the messages of 4.0, 4.2 and 4.4 s) dies
    /// with it unless it keeps a durable log.
    static func crashWhileUndelivered(persist: Bool) -> [TimelineEvent] {
        [
            TimelineEvent(at: .seconds(4), action: .partition(group: "office", direction: .down), revertAfter: .seconds(1)),
            TimelineEvent(at: .milliseconds(4500), action: .restartServer(down: .seconds(1), persist: persist)),
        ]
    }

    static func events(_ trace: EventTrace, _ kind: String) -> [EventTrace.Event] {
        trace.events.filter { trace.kindName($0.kind) == kind }
    }

    @Test func withoutPersistTheLossIsCountedAndToldToEveryClient() throws {
        let experiment = Self.experiment(
            Self.crashWhileUndelivered(persist: false),
            expectations: [Expect(kind: .everyRecoveryIncomplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected)]
        )
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic, "replay: the same seed traced something else")
        #expect(outcome.first.digest == outcome.second.digest)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        // One `recovered: false` welcome per client, from the new server.
        #expect(report.incompleteRecoveries == 5)
        // The three messages sent into the hole are gone (old epoch); the new epoch is
        // replayed from its first message, so nothing of it is lost.
        #expect(report.messages.lost == 3 * 5)
        #expect(report.messages.delivered + report.messages.lost == report.messages.offered)
        #expect(report.messages.duplicated == 0)
        #expect(report.messages.reordered == 0)
        // Offered: the old epoch through the last message before the crash (2.0 … 4.4 s, 13),
        // and the new one from offset 1 (5.6 … 11.8 s, 32); nothing was published while it was down.
        #expect(report.messages.offered == 5 * (13 + 32))
        #expect(report.clients.connected == 5)
        #expect(report.clients.byTransport["websocket"] == 5)
        #expect(!report.expectations.isEmpty)

        let trace = outcome.first.trace
        let crash = try #require(Self.events(trace, "server.crash").first)
        #expect(crash.timeNanos == 4_500_000_000)
        #expect(crash.a == 5)  // every client's connection vanished
        let start = try #require(Self.events(trace, "server.start").first)
        #expect(start.timeNanos == 5_500_000_000)
        let welcomes = Self.events(trace, "client.open")
        let epochs = Set(welcomes.map(\.a))
        #expect(epochs.count == 2)
        #expect(epochs.contains(start.a))
        // The restarted server's stream starts again at offset 1.
        #expect(Self.events(trace, "workload.publish").contains { $0.timeNanos > start.timeNanos && $0.a == 1 })
        // Different seed, different epochs and timings: another digest.
        let other = try ExperimentRun(experiment: experiment, options: RunOptions(seed: 6, keepsEvents: false)).execute()
        #expect(other.digest != outcome.first.digest)
    }

    @Test func withPersistNothingIsLostAndEveryResumeIsComplete() throws {
        let experiment = Self.experiment(
            Self.crashWhileUndelivered(persist: true),
            expectations: [
                Expect(kind: .deliveryComplete), Expect(kind: .noIncompleteRecovery), Expect(kind: .noDuplicates), Expect(kind: .noReordering),
            ]
        )
        let result = try ExperimentRun(experiment: experiment).execute()
        let report = result.report
        #expect(report.passed, "\(report.expectations)")
        #expect(report.messages.lost == 0)
        #expect(report.messages.delivered == report.messages.offered)
        #expect(report.messages.offered == 5 * (13 + 32))
        #expect(report.incompleteRecoveries == 0)
        #expect(report.recovery.unrecovered == 0)
        // Two outages each, both recovered from: the partition's end, then the restart.
        #expect(report.recovery.count == 10)
        // The same epoch before and after: the durable log kept it, and the offsets go on.
        #expect(Set(Self.events(result.trace, "client.open").map(\.a)).count == 1)
        #expect(Self.events(result.trace, "workload.publish").map(\.a) == Array(1...45))
    }

    @Test func theRestartedHostResetsTheOldConnections() throws {
        // Nothing in flight at 4.1 s and the server back 100 ms later: the clients' next
        // heartbeat pings travel on connections the new process never had, and the host answers
        // them with RST (Linux's answer to a segment of an unknown connection), which is how the
        // clients learn of the crash.
        let experiment = Self.experiment([TimelineEvent(at: .milliseconds(4100), action: .restartServer(down: .milliseconds(100), persist: false))])
        let result = try ExperimentRun(experiment: experiment).execute()
        let trace = result.trace
        let start = try #require(Self.events(trace, "server.start").first)
        #expect(start.timeNanos == 4_200_000_000)
        // `tcp.rst.closedport`: lport, rnode, rport. Each client's first connection left from
        // port 49152; its reconnects leave from later ports.
        let resets = Self.events(trace, "tcp.rst.closedport").filter { $0.timeNanos >= 4_100_000_000 && $0.a == 80 && $0.c == 49152 }
        #expect(Set(resets.map(\.b)).count == 5, "every client's old connection is reset")
        // Pings that arrive while the server is down are reset as well (the host is up); those
        // that arrive later meet the restarted host, which has never heard of them either.
        let afterRestart = Set(resets.filter { $0.timeNanos > start.timeNanos }.map(\.b))
        #expect(afterRestart.count >= 2, "old connections reset by the restarted host: \(afterRestart.count)")
        #expect(trace.events.filter { trace.kindName($0.kind) == "server.crash" }.count == 1)
        #expect(result.report.clients.byTransport["websocket"] == 5)
        #expect(result.report.incompleteRecoveries == 5)
    }

    @Test func runsWithoutARestartTraceNoServerEvents() throws {
        let result = try ExperimentRun(experiment: Self.experiment([])).execute()
        #expect(!result.trace.events.contains { ["server.crash", "server.start"].contains(result.trace.kindName($0.kind)) })
        #expect(result.report.messages.lost == 0)
        #expect(result.report.incompleteRecoveries == 0)
    }
}
