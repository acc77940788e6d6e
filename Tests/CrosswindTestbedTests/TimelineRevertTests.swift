import CrosswindExperiment
import CrosswindKernel
import CrosswindReport
import CrosswindTestbed
import NIOCore
import Testing

/// Timeline actions on several groups at once, and actions that undo themselves (`for:`), run over
/// the virtual network: the cut reaches every named group, heals by itself after `for`, the heal
/// is an event of the trace, and recovery is measured from it.
@Suite struct TimelineRevertTests {
    /// Managed clients in `groups` (three each, 20 ms each way), publishing from 2 s to 42 s, metrics
    /// at 72 s; `timeline` is the text of the timeline's entries.
    static func experiment(groups: [String], timeline: String) throws -> Experiment {
        let groupLines = groups.map { "    - { name: \($0), count: 3, connectSpread: 300ms, link: { latency: 20ms }, manager: {} }" }
        let yaml = """
            kind: experiment
            version: 1
            name: timeline-revert
            seed: 5
            topology:
              groups:
            \(groupLines.joined(separator: "\n"))
            workload: { rate: 5, size: 256, start: 2s, duration: 40s, drain: 30s }
            timeline:
            \(timeline)
            expect:
              - delivery: complete
              - duplicates: none
              - reordered: none
              - recovery: complete
            """
        return try ExperimentLoader.parse(yaml: yaml, file: "timeline-revert.yaml", baseDirectory: ".")
    }

    /// The trace lines of `kind`.
    static func lines(_ trace: EventTrace, kind: String) -> [String] {
        trace.events.filter { trace.kindName($0.kind) == kind }.map(trace.line)
    }

    /// Virtual seconds of each message delivered to a client of `group`.
    static func deliveries(_ trace: EventTrace, group: String) -> [Double] {
        trace.events.filter { event in
            trace.kindName(event.kind) == "client.message" && trace.componentName(event.component).hasPrefix("client:\(group)-")
        }.map { Double($0.timeNanos) / 1e9 }
    }

    @Test func aPartitionOfTwoGroupsForTenSecondsHealsByItself() throws {
        let experiment = try Self.experiment(
            groups: ["a", "b", "c"], timeline: "  - at: 15s\n    partition: { groups: [a, b], direction: both, for: 10s }"
        )
        #expect(experiment.timeline.first?.revertAfter == .seconds(10))
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic)
        let result = outcome.first
        #expect(result.report.passed, "\(result.report.expectations)")
        // The cut at 15 s and the heal 10 s later, both in the trace.
        #expect(Self.lines(result.trace, kind: "timeline.action") == ["15.000000 timeline timeline.action action=\"partition [a, b] both\""])
        #expect(Self.lines(result.trace, kind: "timeline.revert") == ["25.000000 timeline timeline.revert action=\"partition [a, b] both\""])
        // Both named groups were cut: nothing reached them while their links were down (a
        // message in flight at 15 s lands within one latency), and messages flow again after.
        for group in ["a", "b"] {
            let times = Self.deliveries(result.trace, group: group)
            #expect(!times.contains { $0 > 15.1 && $0 < 25 }, "group \(group)")
            #expect(times.contains { $0 > 25 && $0 < 42 }, "group \(group)")
        }
        // The group left out was not: it kept receiving throughout.
        #expect(Self.deliveries(result.trace, group: "c").contains { $0 > 16 && $0 < 24 })
        // Recovery is measured from the heal, for each client of both groups (and only those).
        #expect(result.report.recovery.count == 6)
        #expect(result.report.recovery.unrecovered == 0)
        #expect(result.report.recovery.maxMs > 0 && result.report.recovery.maxMs < 17_000)
    }

    @Test func allReachesEveryGroup() throws {
        let experiment = try Self.experiment(
            groups: ["a", "b", "c"], timeline: "  - at: 15s\n    partition: { groups: all, for: 5s }"
        )
        let result = try ExperimentRun(experiment: experiment).execute()
        #expect(result.report.passed, "\(result.report.expectations)")
        for group in ["a", "b", "c"] {
            let times = Self.deliveries(result.trace, group: group)
            #expect(!times.contains { $0 > 15.1 && $0 < 20 }, "group \(group)")
            #expect(times.contains { $0 > 20 && $0 < 42 }, "group \(group)")
        }
        #expect(result.report.recovery.count == 9)
        #expect(Self.lines(result.trace, kind: "timeline.revert") == ["20.000000 timeline timeline.revert action=\"partition all both\""])
    }

    @Test func aLinkChangeGoesBackToWhatItWas() throws {
        // Two seconds of 1 s latency each way, then the 20 ms links again.
        let experiment = try Self.experiment(
            groups: ["a"], timeline: "  - at: 10s\n    setLink: { group: a, latency: 1s, for: 2s }"
        )
        let result = try ExperimentRun(experiment: experiment).execute()
        let messages = result.trace.events.filter { result.trace.kindName($0.kind) == "client.message" }
        let latency = { (from: Double, to: Double) -> [Int64] in
            messages.filter { Double($0.timeNanos) / 1e9 > from && Double($0.timeNanos) / 1e9 < to }
                .compactMap { event in result.trace.fields(event).first { $0.0 == "latencyUs" }?.1 }
        }
        #expect(latency(11, 12).allSatisfy { $0 >= 1_000_000 })
        #expect(!latency(11, 12).isEmpty)
        #expect(latency(16, 40).allSatisfy { $0 < 100_000 })
        #expect(Self.lines(result.trace, kind: "timeline.revert") == ["12.000000 timeline timeline.revert action=\"setLink a both\""])
    }

    @Test func withoutForNothingIsUndone() throws {
        // Without `for:` there is no revert in the trace (the shipped experiments keep their digests).
        let experiment = try Self.experiment(
            groups: ["a"], timeline: "  - at: 15s\n    partition: { group: a }\n  - at: 25s\n    heal: { group: a }"
        )
        let result = try ExperimentRun(experiment: experiment).execute()
        #expect(Self.lines(result.trace, kind: "timeline.revert") == [])
        #expect(Self.lines(result.trace, kind: "timeline.action").count == 2)
        #expect(result.report.recovery.count == 3)
    }
}
