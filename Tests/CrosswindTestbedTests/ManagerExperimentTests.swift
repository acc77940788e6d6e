import CrosswindExperiment
import CrosswindKernel
import CrosswindTestbed
import NIOCore
import Testing

typealias Expect = CrosswindExperiment.Expectation

/// The RealtimeCommunicationManager over the virtual network: falls back when the network
/// forbids a transport, recovers after outages, and never loses or duplicates a message.
@Suite struct ManagerExperimentTests {
    static func experiment(
        name: String,
        groups: [ClientGroup],
        timeline: [TimelineEvent] = [],
        duration: TimeAmount = .seconds(60),
        expectations: [Expect] = [Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected)]
    ) -> Experiment {
        Experiment(
            name: name,
            seed: 11,
            topology: Topology(name: name, groups: groups),
            workload: Workload(ratePerSecond: 5, messageBytes: 256, start: .seconds(2), duration: duration, drain: .seconds(30)),
            expectations: expectations,
            timeline: timeline
        )
    }

    static func group(_ name: String, count: Int = 10, manager: ManagerSettings = ManagerSettings()) -> ClientGroup {
        ClientGroup(name: name, count: count, connectSpread: .milliseconds(500), link: LinkPair(both: LinkSpec(latency: .milliseconds(20))), manager: manager)
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

    @Test func firewallDropCostsMoreThanRejectBeforeFallingBackToSSE() throws {
        // WebSocket and SSE share port 80 here, so the firewall blocks by port 80 only for the
        // first 30 s... (drop: SYNs vanish; reject: RST at once)
        let experiment = Self.experiment(
            name: "drop-vs-reject",
            groups: [Self.group("drop"), Self.group("reject")],
            timeline: [
                TimelineEvent(at: .zero, action: .addFirewall(name: "fw", group: "drop", port: 80, action: .drop)),
                TimelineEvent(at: .zero, action: .addFirewall(name: "fw", group: "reject", port: 80, action: .reject)),
                TimelineEvent(at: .seconds(40), action: .removeFirewall(name: "fw", group: "drop")),
                TimelineEvent(at: .seconds(40), action: .removeFirewall(name: "fw", group: "reject")),
            ],
            expectations: [Expect(kind: .noDuplicates), Expect(kind: .noReordering)]
        )
        let report = try ExperimentRun(experiment: experiment).execute().report
        print(report.groups, report.switches.prefix(12), report.messages, report.recovery)
        #expect(report.passed)
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
        print(report.groups, report.switches.suffix(12), report.messages, report.recovery)
        #expect(report.passed, "\(report.expectations)")
        #expect(report.recovery.count == 10)
    }
}
