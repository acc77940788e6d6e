import Foundation
import Testing

/// `crosswind replay DIR`: an untouched run replays (0); an edited experiment is named with
/// both hashes and diverges at a printed event (3); a tampered seed diverges (3); a missing
/// or malformed manifest is invalid input (2).
@Suite(.tags(.externalTool), .serialized) struct ReplayCommandTests {
    @Test func anUntouchedRunReplays() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("replay-same")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try SmallExperiment.write(SmallExperiment.topologyYAML, to: "\(base)/Topologies", as: "desk-5.yaml")
        try SmallExperiment.write(SmallExperiment.yaml(name: "small", topology: "../Topologies/desk-5.yaml"), to: "\(base)/Experiments", as: "small.yaml")
        let run = try runProcess(crosswind, ["run", "Experiments/small.yaml", "--seed", "11", "--out", "runs/a", "--pcap"], in: base)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let manifestData = try #require(FileManager.default.contents(atPath: "\(base)/runs/a/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        let inputs = try #require(manifest["inputs"] as? [[String: String]])
        #expect(inputs == [
            ["path": "Experiments/small.yaml", "sha256": try SmallExperiment.sha256("\(base)/Experiments/small.yaml")],
            ["path": "Topologies/desk-5.yaml", "sha256": try SmallExperiment.sha256("\(base)/Topologies/desk-5.yaml")],
        ])
        let options = try #require(manifest["options"] as? [String: Any])
        #expect(options["seed"] as? Int == 11)
        #expect(options["pcap"] as? Bool == true)

        let replay = try runProcess(crosswind, ["replay", "runs/a"], in: base)
        #expect(replay.status == 0, "\(replay.stdout)\n\(replay.stderr)")
        #expect(replay.stdout.contains("digest   \(manifest["digest"] as? String ?? "?")"))
        #expect(replay.stdout.contains("the run is reproduced"))
        #expect(!replay.stdout.contains("changed since the run"))

        // An edited topology is named, and changes nothing if the edit is a comment.
        let topology = "\(base)/Topologies/desk-5.yaml"
        let before = try SmallExperiment.sha256(topology)
        try (SmallExperiment.topologyYAML + "# a comment\n").write(toFile: topology, atomically: true, encoding: .utf8)
        let commented = try runProcess(crosswind, ["replay", "runs/a"], in: base)
        #expect(commented.status == 0, "\(commented.stdout)")
        #expect(commented.stdout.contains("Topologies/desk-5.yaml changed since the run: sha256 \(before) now \(try SmallExperiment.sha256(topology))"))
    }

    @Test func anEditedExperimentIsNamedAndDivergesAtAnEvent() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("replay-edit")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let file = try SmallExperiment.write(SmallExperiment.yaml(name: "small", rate: 10), to: base, as: "small.yaml")
        let run = try runProcess(crosswind, ["run", "small.yaml", "--out", "run"], in: base)
        #expect(run.status == 0, "\(run.stderr)")
        let before = try SmallExperiment.sha256(file)
        try SmallExperiment.yaml(name: "small", rate: 12).write(toFile: file, atomically: true, encoding: .utf8)

        let replay = try runProcess(crosswind, ["replay", "run"], in: base)
        #expect(replay.status == 3, "\(replay.stdout)\n\(replay.stderr)")
        let lines = replay.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "small.yaml changed since the run: sha256 \(before) now \(try SmallExperiment.sha256(file))")
        #expect(lines.contains { $0.hasPrefix("DIVERGED digest ") })
        // The first divergent event: the stored line as it is in events.jsonl, and the replay's.
        let header = try #require(lines.firstIndex { $0.hasPrefix("  first divergent event, line ") })
        let number = try #require(lines[header].firstMatch(of: /line (\d+) of run\/events.jsonl:$/).flatMap { Int($0.1) })
        let stored = try String(contentsOfFile: "\(base)/run/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines[header + 1] == "    run:    \(stored[number - 1])")
        #expect(lines[header + 2].hasPrefix("    replay: "))
        #expect(lines[header + 2] != "    replay: \(stored[number - 1])")
        #expect(lines.contains("replay: crosswind run small.yaml --seed 3"))
    }

    @Test func aTamperedSeedDiverges() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("replay-seed")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try SmallExperiment.write(SmallExperiment.yaml(name: "small"), to: base, as: "small.yaml")
        #expect(try runProcess(crosswind, ["run", "small.yaml", "--seed", "4", "--out", "run"], in: base).status == 0)
        let path = "\(base)/run/manifest.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"seed\" : 4,"))
        try text.replacingOccurrences(of: "\"seed\" : 4,", with: "\"seed\" : 5,").write(toFile: path, atomically: true, encoding: .utf8)
        let replay = try runProcess(crosswind, ["replay", "run"], in: base)
        #expect(replay.status == 3, "\(replay.stdout)\n\(replay.stderr)")
        #expect(replay.stdout.contains("first divergent event, line "))
        #expect(!replay.stdout.contains("changed since the run"), "the files did not change")
    }

    @Test func aMissingOrMalformedManifestIsInvalidInput() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("replay-bad")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: "\(base)/empty", withIntermediateDirectories: true)
        try SmallExperiment.write("{\"seed\": 1,", to: base, as: "malformed/manifest.json")
        try SmallExperiment.write(#"{"experiment": "small", "seed": 1}"#, to: base, as: "incomplete/manifest.json")
        try SmallExperiment.write(
            #"{"captures":[],"digest":"d","events":1,"experiment":"small","experimentFile":"gone.yaml","seed":1,"version":"0.1.0"}"#,
            to: base, as: "gone/manifest.json"
        )
        let cases: [([String], String)] = [
            (["replay", "empty"], "empty/manifest.json: cannot read the manifest"),
            (["replay", "nowhere"], "nowhere: not a run directory"),
            (["replay", "malformed"], "malformed/manifest.json: malformed manifest"),
            (["replay", "incomplete"], "incomplete/manifest.json: malformed manifest: missing key 'digest'"),
            (["replay", "gone"], "gone.yaml:1:1: "),
            (["replay"], "Missing expected argument"),
        ]
        for (arguments, message) in cases {
            let run = try runProcess(crosswind, arguments, in: base)
            #expect(run.status == 2, "\(arguments): \(run.status) \(run.stdout) \(run.stderr)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }
}
