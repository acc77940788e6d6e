import CrosswindExperiment
import CrosswindKernel
import CrosswindReport
import CrosswindTestbed
import Foundation
import Testing

/// What a run directory holds agrees with itself: the manifest, the report and
/// `events.jsonl` describe the same trace.
@Suite struct RunDirectoryTests {
    @Test func manifestReportAndEventsCountTheSameEvents() throws {
        // Managed clients reconnect when the world is torn down after the measurement; none
        // of that reaches the trace, so every count is the one the digest covers.
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/outage-recovery.yaml"))
        let result = try ExperimentRun(experiment: experiment).execute()
        let directory = try temporaryDirectory("run-directory")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try RunOutput.write(result, experiment: experiment, to: directory)
        let manifest = try JSONDecoder().decode(Manifest.self, from: try #require(FileManager.default.contents(atPath: "\(directory)/manifest.json")))
        let lines = String(decoding: try #require(FileManager.default.contents(atPath: "\(directory)/events.jsonl")), as: UTF8.self)
            .split(separator: "\n").count
        let reported = try #require(result.report.simulation?.events)
        #expect(manifest.events == reported)
        #expect(lines == reported)
        #expect(result.trace.count == reported)
        #expect(manifest.digest == result.report.digest)
    }

    @Test func serverLogIsStampedWithVirtualTime() throws {
        // The proxy strips Upgrade, so the server rejects every client's first WebSocket
        // request: each line is stamped with the virtual time of the rejection (within the
        // run's 52 s), and two runs write the same log.
        let experiment = try ExperimentLoader.load(path: packagePath("Experiments/fallback-strip-upgrade.yaml"))
        let first = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute()
        let second = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute()
        #expect(!first.serverLog.isEmpty)
        #expect(first.serverLog == second.serverLog)
        let seconds = first.serverLog.compactMap { $0.split(separator: " ").first.flatMap { Double($0) } }
        #expect(seconds.count == first.serverLog.count)
        #expect(seconds.allSatisfy { $0 >= 0 && $0 <= (first.report.simulation?.virtualSeconds ?? 0) }, "\(first.serverLog.prefix(3))")
    }
}
