import CrosswindExperiment
import CrosswindTestbed
import Foundation
import Testing

/// What `crosswind replay` stands on: the manifest records the files a run read with their
/// SHA-256 and the options that shaped it; a changed file is named; a replay's events are
/// compared with the stored `events.jsonl` as text, line by line.
@Suite struct RunReplayTests {
    /// An experiment file in `experiments/` that names a topology in `topologies/`.
    func writeFiles(in base: String) throws -> (experiment: String, topology: String) {
        let topology = try SmallExperiment.write(SmallExperiment.topologyYAML, to: "\(base)/topologies", as: "desk-5.yaml")
        let experiment = try SmallExperiment.write(
            SmallExperiment.yaml(name: "small", topology: "../topologies/desk-5.yaml"), to: "\(base)/experiments", as: "small.yaml"
        )
        return (experiment, topology)
    }

    @Test func theManifestRecordsTheFilesReadAndTheOptions() throws {
        let base = try TemporaryDirectory.make("manifest")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let files = try self.writeFiles(in: base)
        let inputs = try RunInputs.hash(experimentFile: files.experiment)
        // The topology is named as the loader resolves it: against the experiment's folder.
        #expect(inputs.map(\.path) == [files.experiment, files.topology])
        #expect(inputs.map(\.sha256) == [try SmallExperiment.sha256(files.experiment), try SmallExperiment.sha256(files.topology)])

        let experiment = try ExperimentLoader.load(path: files.experiment)
        let result = try ExperimentRun(experiment: experiment, options: RunOptions(seed: 9)).execute()
        try RunOutput.write(result, experiment: experiment, to: "\(base)/run", inputs: inputs, options: Manifest.Options(seed: 9, pcap: false))
        let manifest = try RunReplay.manifest(in: "\(base)/run")
        #expect(manifest.inputs == inputs)
        #expect(manifest.options == Manifest.Options(seed: 9, pcap: false))
        #expect(manifest.seed == 9)
        #expect(manifest.experimentFile == files.experiment)
        #expect(RunReplay.changedInputs(manifest).isEmpty)
        #expect(RunReplay.reproduces(result, manifest))

        // Without inputs given, the writer hashes the files itself.
        try RunOutput.write(result, experiment: experiment, to: "\(base)/run2")
        #expect(try RunReplay.manifest(in: "\(base)/run2").inputs == inputs)

        // An edited topology and a deleted experiment file are both named.
        try (SmallExperiment.topologyYAML + "# edited\n").write(toFile: files.topology, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: files.experiment)
        let changes = RunReplay.changedInputs(manifest)
        #expect(changes == [
            RunReplay.ChangedInput(path: files.experiment, recorded: inputs[0].sha256, current: nil),
            RunReplay.ChangedInput(path: files.topology, recorded: inputs[1].sha256, current: try SmallExperiment.sha256(files.topology)),
        ])
    }

    @Test func olderManifestsWithoutHashesStillRead() throws {
        let base = try TemporaryDirectory.make("manifest")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let old = #"{"captures":[],"digest":"d","events":3,"experiment":"e","experimentFile":"e.yaml","seed":1,"version":"0.1.0"}"#
        try old.write(toFile: "\(base)/manifest.json", atomically: true, encoding: .utf8)
        let manifest = try RunReplay.manifest(in: base)
        #expect(manifest.inputs == nil && manifest.options == nil)
        #expect(RunReplay.changedInputs(manifest).isEmpty)
    }

    @Test func unreadableManifestsAreInvalidRuns() throws {
        let base = try TemporaryDirectory.make("manifest")
        defer { try? FileManager.default.removeItem(atPath: base) }
        func message() throws -> String {
            try #require(throws: RunReplay.InvalidRun.self) { try RunReplay.manifest(in: base) }.description
        }
        #expect(try message().contains("cannot read the manifest"))
        for (text, expected) in [
            ("{\"seed\": ", "malformed manifest"),
            (#"{"experiment": "e", "seed": 1}"#, "missing key 'digest'"),
            (#"{"captures":[],"digest":"d","events":3,"experiment":"e","experimentFile":"e.yaml","seed":"one","version":"0.1.0"}"#, "'seed'"),
            (#"{"captures":[],"digest":"d","events":3,"experiment":"e","seed":1,"version":"0.1.0"}"#, "names no experiment file"),
        ] {
            try text.write(toFile: "\(base)/manifest.json", atomically: true, encoding: .utf8)
            let description = try message()
            #expect(description.hasPrefix("\(base)/manifest.json: "), "\(description)")
            #expect(description.contains(expected), "\(description)")
        }
        let missing = try #require(throws: RunReplay.InvalidRun.self) { try RunReplay.manifest(in: "\(base)/nothing") }
        #expect(missing.description.contains("no such directory"))
    }

    /// The replay's events, rendered by the writer of `events.jsonl`, against the stored lines.
    @Test func theFirstDifferingEventIsFoundAsText() throws {
        let base = try TemporaryDirectory.make("events")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let experiment = try ExperimentLoader.parse(yaml: SmallExperiment.yaml(name: "small"), file: "small.yaml", baseDirectory: ".")
        func run(_ seed: UInt64) throws -> RunResult {
            try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed)).execute()
        }
        let stored = try run(1)
        try RunOutput.write(stored, experiment: experiment, to: base)
        let events = "\(base)/events.jsonl"
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)

        #expect(try RunReplay.firstDifference(of: run(1), from: events) == nil)

        let other = try #require(try RunReplay.firstDifference(of: run(2), from: events))
        #expect(other.line >= 1)
        #expect(other.recorded == String(lines[other.line - 1]))
        #expect(other.replayed != nil && other.replayed != other.recorded)

        // A stored trace cut short: the replay goes on where it ended.
        try (lines.prefix(10).joined(separator: "\n") + "\n").write(toFile: events, atomically: true, encoding: .utf8)
        let cut = try #require(try RunReplay.firstDifference(of: run(1), from: events))
        #expect(cut.line == 11)
        #expect(cut.recorded == nil)
        #expect(cut.replayed == String(lines[10]))
    }
}
