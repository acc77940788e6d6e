import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindExperiment

/// Experiments built in Swift get the loader's checks: `validate()` throws every problem at once,
/// each naming its key path, in the loader's words.
@Suite struct ModelValidationTests {
    /// The minimal experiment of ``TestSupport/experiment(group:workload:)``, as loaded.
    private func minimal() throws -> Experiment {
        try ExperimentLoader.parse(yaml: TestSupport.experiment(), file: "t.yaml", baseDirectory: ".")
    }

    @Test func everyShippedExperimentIsValidInSwiftToo() throws {
        for path in try TestSupport.yamlFiles(in: "Experiments") {
            let experiment = try ExperimentLoader.load(path: path)
            #expect(experiment.validationProblems() == [], "\(path)")
            #expect(throws: Never.self) { try experiment.validate() }
        }
        for path in try TestSupport.yamlFiles(in: "Topologies") {
            #expect(try ExperimentLoader.loadTopology(path: path).validationProblems() == [], "\(path)")
        }
    }

    @Test func everyProblemAtOnceWithItsPath() throws {
        var experiment = try minimal()
        experiment.topology.groups.append(
            ClientGroup(name: "home", count: 0, link: LinkPair(up: LinkConfiguration(loss: .independent(probability: 1.5))))
        )
        experiment.workload.ratePerSecond = 0
        experiment.timeline = [
            TimelineEvent(at: .seconds(1), action: .partition(group: ["g", "lobby"], direction: .both), revertAfter: .seconds(2)),
            TimelineEvent(at: .seconds(2), action: .heal(group: .all, direction: .both), revertAfter: .seconds(1)),
        ]
        let error = #expect(throws: ExperimentError.self) { try experiment.validate() }
        #expect(error?.problems.map(\.description) == [
            "topology.groups[1].count: must be in 1...100000, got 0",
            "topology.groups[1].link.up.loss: probability must be in 0...1 (or 0%...100%), got 1.5",
            "workload.rate: must be greater than 0 and at most 10000 messages per second, got 0",
            "timeline[0].partition.groups[1]: no client group 'lobby' (groups: g, home)",
            "timeline[1].heal.for: 'for' does not apply to heal: a repair is not undone (it applies to partition, setLink, firewall, flap, setProxyPolicy and setNat)",
        ])
        #expect(error?.problems.map(\.path) == [
            "topology.groups[1].count", "topology.groups[1].link.up.loss", "workload.rate", "timeline[0].partition.groups[1]",
            "timeline[1].heal.for",
        ])
        // No file, no position.
        #expect(error?.problems.allSatisfy { $0.file == nil && $0.line == nil && $0.column == nil } == true)
    }

    /// The same mistake, in a file and in Swift: the same path and the same words.
    @Test(arguments: [
        ("link: { up: { latency: 61s }, down: {} }", "topology.groups[0].link.up.latency: must be at most 1min, got 61s"),
        ("link: { up: {}, down: { loss: 1.5 } }", "topology.groups[0].link.down.loss: probability must be in 0...1 (or 0%...100%), got 1.5"),
        ("connectSpread: 200h", "topology.groups[0].connectSpread: must be at most 24h, got 200h"),
        ("tcp: { minRTO: 3min }", "topology.groups[0].tcp.minRTO: minRTO (3min) must not exceed maxRTO (2min)"),
        ("tcp: { mss: 10 }", "topology.groups[0].tcp.mss: must be in 64...65495, got 10"),
        ("heartbeat: { timeout: 0s }", "topology.groups[0].heartbeat.timeout: must be greater than 0, got 0s"),
        ("sync: { batchSize: 0 }", "topology.groups[0].sync.batchSize: must be in 1...1000, got 0"),
        ("manager: { backoff: { base: 2s, cap: 1s } }", "topology.groups[0].manager.backoff.cap: cap (1s) must be at least base (2s)"),
        ("manager: { defaultMethod: sse, fallbackMethods: [sse] }",
         "topology.groups[0].manager.fallbackMethods[0]: 'sse' is the defaultMethod; list only the transports to fall back to"),
    ])
    func theLoaderAndTheValidationSayTheSame(group: String, message: String) throws {
        // From the file.
        #expect(TestSupport.experimentError(TestSupport.experiment(group: group))?.message == message)
        // Built in Swift.
        var experiment = try minimal()
        var built = experiment.topology.groups[0]
        switch group {
        case let text where text.contains("latency: 61s"): built.link.up.latency = .seconds(61)
        case let text where text.contains("loss: 1.5"): built.link.down.loss = .independent(probability: 1.5)
        case "connectSpread: 200h": built.connectSpread = .hours(200)
        case let text where text.contains("minRTO"): built.tcp.minRTO = .minutes(3)
        case let text where text.contains("mss"): built.tcp.mss = 10
        case let text where text.contains("heartbeat"): built.heartbeat.timeout = .zero
        case let text where text.contains("batchSize"): built.sync.batchSize = 0
        case let text where text.contains("backoff"):
            var manager = RealtimeManagerConfiguration()
            manager.backoff.base = .seconds(2)
            manager.backoff.cap = .seconds(1)
            built.manager = manager
        default:
            var manager = RealtimeManagerConfiguration()
            manager.defaultMethod = .sse
            manager.fallbackMethods = [.sse]
            built.manager = manager
        }
        experiment.topology.groups[0] = built
        #expect(experiment.validationProblems().map(\.message) == [message])
    }

    @Test func namesAndReferences() throws {
        var experiment = try minimal()
        experiment.topology.groups.append(ClientGroup(name: "g", count: 1, link: LinkPair()))
        experiment.topology.middleboxes = [MiddleboxSpec(name: "g-2", groups: ["lobby"])]
        experiment.timeline = [
            TimelineEvent(at: .seconds(1), action: .setProxyPolicy(middlebox: "proxy", policy: .passThrough)),
            TimelineEvent(at: .seconds(2), action: .removeFirewall(name: "fw", group: "g")),
        ]
        experiment.expectations = [
            Expectation(kind: .endsOnTransport(group: "lobby", transport: .sse, withinMilliseconds: 1000, notBeforeMilliseconds: 2000)),
            Expectation(kind: .latencyAtLeast(.p99, milliseconds: 200)),
            Expectation(kind: .latencyAtMost(.p99, milliseconds: 100)),
        ]
        #expect(experiment.validationProblems().map(\.description) == [
            "topology.groups[1].name: duplicate group name 'g' (already used at topology.groups[0].name)",
            "topology.middleboxes[0].name: 'g-2' is already the name of a client of the group 'g' at topology.groups[0].name (node names must be unique)",
            "topology.middleboxes[0].groups[0]: no client group 'lobby' (groups: g, g)",
            "timeline[0].setProxyPolicy.middlebox: no middlebox 'proxy' (middleboxes: g-2)",
            "timeline[1].removeFirewall.name: no firewall 'fw' was added to group 'g' earlier in the timeline",
            "expect[0].transport.group: no client group 'lobby' (groups: g, g)",
            "expect[0].transport.notBefore: notBefore (2s) is after within (1s): no client can pass",
            "expect[1].latency.p99.atLeast: atLeast (200ms) is greater than atMost (100ms): no latency can pass",
        ])
    }

    @Test func valuesOutsideWhatAFileCanSay() throws {
        // Negative durations and sums that would overflow cannot come from a file; built in Swift
        // they are caught before a run tries them.
        var experiment = try minimal()
        experiment.workload.start = .nanoseconds(-1)
        experiment.workload.duration = .nanoseconds(.max)
        experiment.topology.groups[0].connectSpread = .hours(200)
        experiment.timeline = [TimelineEvent(at: .seconds(1), action: .flap(group: "g", direction: .both, period: .zero, upFraction: 1, until: .zero))]
        #expect(experiment.validationProblems().map(\.description) == [
            "topology.groups[0].connectSpread: must be at most 24h, got 200h",
            "workload.start: duration must not be negative, got -1ns",
            "workload.duration: must be at most 168h, got 9223372036854775807ns",
            "timeline[0].flap.period: must be greater than 0, got 0s",
            "timeline[0].flap.up: must be strictly between 0 and 1 (or 0% and 100%), got 1",
            "timeline[0].flap.until: must be after at (1s), got 0s",
        ])
    }

    @Test func aTopologyValidatesOnItsOwn() {
        let topology = Topology(name: "net", groups: [])
        #expect(topology.validationProblems().map(\.description) == ["groups: needs at least one client group"])
        #expect(throws: ExperimentError.self) { try topology.validate() }
    }
}
