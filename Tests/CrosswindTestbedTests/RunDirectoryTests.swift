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
}
