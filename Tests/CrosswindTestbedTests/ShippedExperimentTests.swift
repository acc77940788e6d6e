import CrosswindExperiment
import CrosswindTestbed
import Foundation
import Testing

/// Every shipped experiment passes its own expectations and replays bit for bit.
@Suite struct ShippedExperimentTests {
    static let experiments = ["Experiments/websocket-baseline.yaml", "Experiments/websocket-lossy-link.yaml"]

    @Test(arguments: experiments)
    func passesAndIsDeterministic(file: String) throws {
        let experiment = try ExperimentLoader.load(path: packagePath(file))
        let outcome = try DeterminismCheck.check(experiment, seed: nil)
        #expect(outcome.isDeterministic, "first divergence: \(String(describing: outcome.divergence)); replay: crosswind run \(file) --check-determinism")
        #expect(outcome.first.digest == outcome.second.digest)
        let report = outcome.first.report
        for expectation in report.expectations {
            #expect(expectation.passed, "\(file): \(expectation.text) — observed \(expectation.observed)")
        }
        #expect(report.passed)
        #expect(report.messages.offered == 100 * 300)
        #expect(report.messages.delivered == report.messages.offered)
        #expect(report.messages.duplicated == 0)
        #expect(report.clients.connected == 100)
    }

    @Test func lossyLinkShowsTheRetransmissionTimer() throws {
        // 2 % loss each way: segments are lost and retransmitted, and the tail pays at least
        // the 200 ms minimum RTO on top of the 40 ms one-way latency.
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/websocket-lossy-link.yaml"))
        let report = try ExperimentRun(experiment: experiment).execute().report
        #expect(report.wire.packetsDropped > 100)
        #expect(report.wire.retransmissions > 100)
        #expect(report.latencyMs.p50 >= 40 && report.latencyMs.p50 < 45)
        #expect(report.latencyMs.p99 >= 240)
        #expect(report.latencyMs.max >= 440)  // at least one backed-off (doubled) timeout
    }

    @Test func aDifferentSeedGivesADifferentDigest() throws {
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/websocket-lossy-link.yaml"))
        let seven = try ExperimentRun(experiment: experiment, options: RunOptions(seed: 7, keepsEvents: false)).execute()
        let eight = try ExperimentRun(experiment: experiment, options: RunOptions(seed: 8, keepsEvents: false)).execute()
        #expect(seven.digest != eight.digest)
        // Both still deliver everything: the seed changes which packets are lost, not the outcome.
        #expect(seven.report.passed && eight.report.passed)
    }

    @Test func digestIsTheSameWithAndWithoutKeptEvents() throws {
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/websocket-baseline.yaml"))
        let kept = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: true)).execute()
        let hashed = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute()
        #expect(kept.digest == hashed.digest)
        #expect(kept.report == hashed.report)
    }
}
