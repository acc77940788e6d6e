import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import NIOCore
import Testing

typealias Expect = CrosswindReport.Expectation

/// The RealtimeCommunicationManager over the virtual network: falls back when the network
/// forbids a transport, recovers after outages, and never loses or duplicates a message.
@Suite struct ManagerExperimentTests {
    static func experiment(
        name: String,
        groups: [ClientGroup],
        timeline: [TimelineEvent] = [],
        duration: TimeAmount = .seconds(60),
        expectations: [Expect] = [Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected)],
        webSocketPort: Int? = nil
    ) -> Experiment {
        Experiment(
            name: name,
            seed: 11,
            topology: Topology(name: name, server: ServerSpec(webSocketPort: webSocketPort), groups: groups),
            workload: Workload(ratePerSecond: 5, messageBytes: 256, start: .seconds(2), duration: duration, drain: .seconds(30)),
            expectations: expectations,
            timeline: timeline
        )
    }

    static func group(_ name: String, count: Int = 10, manager: RealtimeManagerConfiguration = RealtimeManagerConfiguration()) -> ClientGroup {
        ClientGroup(name: name, count: count, connectSpread: .milliseconds(500), link: LinkPair(both: LinkConfiguration(latency: .milliseconds(20))), manager: manager)
    }

    @Test func managedClientsOpenOnWebSocketAndDeliverEverything() throws {
        let experiment = Self.experiment(name: "managed", groups: [Self.group("office")], duration: .seconds(20))
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clients.byTransport == ["websocket": 10])
        // One switch each: the initial choice.
        #expect(report.switches.count == 10)
        #expect(report.switches.allSatisfy { $0.reason == "initial" && $0.to == "websocket" })
    }

    @Test func aLatencyThresholdMovesClientsOnAndIsFedByTheApplication() throws {
        // Messages arrive about 250 ms after publication on every transport (a long link),
        // above a 200 ms threshold: with twenty samples over it, the manager opens the next
        // transport beside the current one and moves once caught up — WebSocket, then SSE,
        // then Custom Sync, the last. The samples come from the application (here the testbed,
        // which knows each offset's publish time); without them the threshold judges nothing.
        var manager = RealtimeManagerConfiguration()
        manager.latencyThreshold = .milliseconds(200)
        let slow = ClientGroup(name: "far", count: 3, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(250))), manager: manager)
        let experiment = Self.experiment(name: "latency", groups: [slow], duration: .seconds(40))
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clients.byTransport == ["sync": 3])
        let reasons = report.switches.filter { $0.from != nil }.map { "\($0.from ?? "")>\($0.to) \($0.reason)" }
        #expect(reasons.filter { $0 == "websocket>sse latencyThreshold" }.count == 3, "\(reasons)")
        #expect(reasons.filter { $0 == "sse>sync latencyThreshold" }.count == 3, "\(reasons)")
    }

    @Test func firewallDropCostsMoreThanRejectBeforeFallingBackToSSE() throws {
        // WebSocket is served on 8080, SSE and Custom Sync on 80. A firewall blocks 8080: for
        // one group it DROPs (SYNs vanish, the manager waits out giveUpAfter, 10 s), for the
        // other it REJECTs (RST at once: two refusals in a row and the manager moves on).
        let experiment = Self.experiment(
            name: "drop-vs-reject",
            groups: [Self.group("drop"), Self.group("reject")],
            timeline: [
                TimelineEvent(at: .zero, action: .addFirewall(name: "fw", group: "drop", port: 8080, action: .drop)),
                TimelineEvent(at: .zero, action: .addFirewall(name: "fw", group: "reject", port: 8080, action: .reject)),
            ],
            duration: .seconds(30),
            expectations: [
                Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering),
                Expect(kind: .endsOnTransport(group: "drop", transport: .sse, withinMilliseconds: 11_000, notBeforeMilliseconds: 10_000)),
                Expect(kind: .endsOnTransport(group: "reject", transport: .sse, withinMilliseconds: 2_000, notBeforeMilliseconds: nil)),
            ],
            webSocketPort: 8080
        )
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        let drop = try #require(report.groups.first { $0.name == "drop" })
        let reject = try #require(report.groups.first { $0.name == "reject" })
        #expect(drop.byTransport == ["sse": 10])
        #expect(reject.byTransport == ["sse": 10])
        #expect(report.switches.filter { $0.client.hasPrefix("drop-") && $0.to == "sse" }.allSatisfy { $0.reason == "fallbackConnectFailed" })
        #expect(report.switches.filter { $0.client.hasPrefix("reject-") && $0.to == "sse" }.allSatisfy { $0.reason == "fallbackConnectRefused" })
        // The difference in time to fall back is the whole point.
        #expect(try #require(drop.arrivalMsP50) > 5 * (try #require(reject.arrivalMsP50)))
    }

    @Test func aLostUpgradeRequestIsWaitedForNotTakenForSilence() throws {
        // The path upstream breaks 10 ms in, after the SYN and before the client's ACK and
        // upgrade request (sent at 40 ms, when the SYN-ACK arrives), and heals at 3.01 s. The
        // handshake's 40 ms sample gives Linux's RTO, SRTT + max(4·RTTVAR, 200 ms) = 240 ms, so
        // TCP retransmits the request at 0.28, 0.76, 1.72 and 3.64 s; the last one passes, and
        // the 101 and the welcome come back at 3.72 s. The confirm timeout (2.5 s) runs from the 101,
        // so the clients stay on WebSocket. Timed from the TCP connect it would expire at 2.54 s
        // and send every client to SSE as if a proxy had gone silent after the 101.
        let group = ClientGroup(
            name: "office", count: 5, connectSpread: .zero,
            link: LinkPair(both: LinkConfiguration(latency: .milliseconds(20))), manager: RealtimeManagerConfiguration()
        )
        let experiment = Self.experiment(
            name: "lost-upgrade-request",
            groups: [group],
            timeline: [TimelineEvent(at: .milliseconds(10), action: .partition(group: "office", direction: .up), revertAfter: .seconds(3))],
            duration: .seconds(10),
            expectations: [
                Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected),
                Expect(kind: .endsOnTransport(group: "office", transport: .websocket, withinMilliseconds: 4_000, notBeforeMilliseconds: 3_500)),
            ]
        )
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(report.passed, "\(report.expectations)")
        #expect(report.clients.byTransport == ["websocket": 5])
        #expect(report.switches.map(\.reason) == Array(repeating: "initial", count: 5))
    }

    @Test func outageRecoveryLosesNothing() throws {
        // A 15 s partition of both directions in the middle of the run.
        let experiment = Self.experiment(
            name: "outage",
            groups: [Self.group("office")],
            timeline: [
                TimelineEvent(at: .seconds(20), action: .partition(group: "office", direction: .both)),
                TimelineEvent(at: .seconds(35), action: .heal(group: "office", direction: .both)),
            ],
            expectations: [Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .noIncompleteRecovery)]
        )
        let report = try ExperimentRun(experiment: experiment).execute().report
        #expect(report.passed, "\(report.expectations)")
        // Every client measured a recovery. The partition is shorter than the heartbeat
        // timeout (35 s), so WebSocket stays up and TCP's own retransmission repairs it: the
        // next retransmission after the heal comes within one backed-off RTO, which after
        // 15 s of doubling from 200 ms is at most the 12.8 s step.
        #expect(report.recovery.count == 10)
        #expect(report.recovery.unrecovered == 0)
        #expect(report.recovery.maxMs <= 12_800 + 100)
        #expect(report.clients.byTransport == ["websocket": 10])
    }
}
