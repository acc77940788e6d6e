import CrosswindTesting
import Foundation
import Testing

/// The Swift API a user's own suite writes experiments with: the model in code, the same file
/// model, the run, and the assertions on its outcome.
@Suite struct CrosswindTestingTests {
    /// An office of `count` managed clients behind a proxy with `policy`, 15 ms away.
    static func office(count: Int = 20, policy: HTTPProxyPolicy, seconds: Int64 = 20) -> Experiment {
        let office = ClientGroup(
            name: "office",
            count: count,
            connectSpread: .seconds(1),
            link: LinkPair(both: LinkConfiguration(latency: .milliseconds(15))),
            manager: RealtimeManagerConfiguration()
        )
        let proxy = MiddleboxSpec(name: "corp-proxy", groups: ["office"], policy: policy)
        return Experiment(
            name: "office-in-code",
            topology: Topology(name: "office", groups: [office], middleboxes: [proxy]),
            workload: Workload(ratePerSecond: 5, messageBytes: 256, duration: .seconds(seconds)),
            expectations: [Expectation(kind: .deliveryComplete), Expectation(kind: .allConnected)]
        )
    }

    @Test func anExperimentBuiltInCodeRunsAndIsJudged() throws {
        // A proxy that strips Upgrade: every client falls back to SSE, nothing is lost.
        let run = try Crosswind.run(Self.office(policy: HTTPProxyPolicy(stripUpgrade: true)), seed: 7)
        #expect(run.passed, "\(run.failures)")
        #expect(run.group("office").endedOn == [.sse: 20])
        #expect(run.group("office").clients == 20)
        #expect(run.endedOn == [.sse: 20])
        #expect(run.lost == 0 && run.duplicated == 0 && run.reordered == 0)
        #expect(run.seed == 7)
        // The same proxy passing WebSocket: everyone stays on it.
        let passing = try Crosswind.run(Self.office(policy: .passThrough), seed: 7)
        #expect(passing.group("office").endedOn == [.websocket: 20])
    }

    @Test func theSameSeedGivesTheSameRunAndAnotherSeedAnotherOne() throws {
        let experiment = Self.office(count: 5, policy: HTTPProxyPolicy(stripUpgrade: true), seconds: 5)
        let first = try Crosswind.run(experiment, seed: 3)
        let again = try Crosswind.run(experiment, seed: 3)
        let other = try Crosswind.run(experiment, seed: 4)
        #expect(first.digest == again.digest)
        #expect(first.report == again.report)
        #expect(first.digest != other.digest)
        #expect(try Crosswind.firstDivergence(experiment, seed: 3) == nil)
    }

    @Test func aFailedExpectationSaysWhatWasObserved() throws {
        // An expectation the proxy makes impossible: the office cannot end on WebSocket.
        var experiment = Self.office(count: 5, policy: HTTPProxyPolicy(stripUpgrade: true), seconds: 5)
        experiment.expectations.append(Expectation(kind: .endsOnTransport(group: "office", transport: .websocket, withinMilliseconds: nil, notBeforeMilliseconds: nil)))
        let run = try Crosswind.run(experiment, seed: 1)
        #expect(!run.passed)
        #expect(run.failures.map(\.text) == ["group office ends on websocket"])
        #expect(run.failures.first?.observed.hasPrefix("0 of 5 on websocket") == true, "\(run.failures)")
        // A group the topology does not have comes back empty, so assertions on it fail visibly.
        #expect(run.group("warehouse") == GroupResult(name: "warehouse", clients: 0, endedOn: [:], switches: 0, arrivalMsMax: nil))
        #expect(run.replayCommand == nil)
    }

    @Test func anExperimentBuiltInCodeIsValidatedLikeAFile() throws {
        // Two mistakes a file would be refused for: no clients, and a timeline event for a
        // group the topology does not have. Both are reported, by key path, before any run.
        var experiment = Self.office(count: 0, policy: .passThrough, seconds: 5)
        experiment.timeline = [TimelineEvent(at: .seconds(2), action: .partition(group: "warehouse", direction: .both))]
        #expect {
            _ = try Crosswind.run(experiment, seed: 1)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("topology.groups[0].count") && text.contains("warehouse")
        }
    }

    @Test func aShippedFileRunsThroughTheSameAPI() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Experiments/fallback-strip-upgrade.yaml").path
        let experiment = try Crosswind.load(path)
        let run = try Crosswind.run(experiment)
        #expect(run.passed, "\(run.failures)")
        #expect(run.seed == experiment.seed)
        #expect(run.group("office").endedOn == [.sse: 50])
        #expect(run.replayCommand == "crosswind run \(path) --seed \(experiment.seed)")
    }

    @Test func aBadFileIsAnErrorWithItsPosition() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crosswind-testing-\(getpid()).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "kind: experiment\nversion: 1\nname: x\nseeed: 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try Crosswind.load(path)
        } throws: { error in
            String(describing: error).hasPrefix("\(path):4:1: ")
        }
    }
}
