import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// `crosswind test` (and `crosswind run` on a folder) as CI runs it: a line per experiment and
/// seed, the exit status, and JUnit XML that a parser reads back with the right counts,
/// names, failure text and a reproduce line that does reproduce.
@Suite(.tags(.externalTool), .serialized) struct TestCommandTests {
    /// A folder with two experiments (one cannot pass), a third one level down, a topology
    /// file (skipped), a file that is not YAML by name (ignored) and, with `invalid`, a file
    /// with an unknown key.
    func writeSuite(in base: String, invalid: Bool) throws -> String {
        let folder = "\(base)/suite"
        try SmallExperiment.write(SmallExperiment.yaml(name: "calm"), to: folder, as: "calm.yaml")
        try SmallExperiment.write(SmallExperiment.yaml(name: "strict", p99AtMostMs: 1), to: folder, as: "strict.yaml")
        try SmallExperiment.write(SmallExperiment.yaml(name: "nested", seed: 5), to: folder, as: "more/nested.yml")
        try SmallExperiment.write(SmallExperiment.topologyYAML, to: folder, as: "desk-5.yaml")
        try SmallExperiment.write("not an experiment\n", to: folder, as: "notes.txt")
        if invalid {
            try SmallExperiment.write("kind: experiment\nversion: 1\nname: x\nseeed: 3\n", to: folder, as: "broken.yaml")
        }
        return folder
    }

    @Test func junitListsEveryRunWithFailuresAndErrors() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("test-junit")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let folder = try self.writeSuite(in: base, invalid: true)
        let run = try runProcess(crosswind, ["test", folder, "--junit", "\(base)/junit.xml", "--seeds", "1..2", "--jobs", "2"])

        // An invalid file and a failed expectation: the invalid file wins (exit 2).
        #expect(run.status == 2, "\(run.stdout)\n\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        for (verdict, name, seed) in [("PASS", "calm", 1), ("PASS", "calm", 2), ("FAIL", "strict", 1), ("FAIL", "strict", 2), ("PASS", "nested", 1), ("PASS", "nested", 2)] {
            #expect(lines.contains { $0.range(of: #"^\#(verdict) +\#(name) +seed \#(seed) +\d+\.\d\d s$"#, options: .regularExpression) != nil }, "\(verdict) \(name) \(seed) in\n\(run.stdout)")
        }
        #expect(lines.contains { $0.hasPrefix("INVALID  \(folder)/broken.yaml:4:1: unknown key 'seeed'") })
        #expect(lines.contains("         reproduce: crosswind run \(folder)/strict.yaml --seed 2"))
        let total = try #require(lines.last)
        #expect(total.hasPrefix("total    6 runs in "))
        #expect(total.hasSuffix(": 4 passed, 2 failed, 1 invalid file, 1 topology file skipped; FAILED"))

        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: "\(base)/junit.xml"))
        let root = try #require(document.rootElement())
        #expect(root.name == "testsuites")
        #expect(root.attribute(forName: "tests")?.stringValue == "7")
        #expect(root.attribute(forName: "failures")?.stringValue == "2")
        #expect(root.attribute(forName: "errors")?.stringValue == "1")
        let suites = root.elements(forName: "testsuite")
        #expect(suites.map { $0.attribute(forName: "name")?.stringValue ?? "" } == ["calm", "nested", "strict", "\(folder)/broken.yaml"])
        #expect(suites.map { $0.attribute(forName: "file")?.stringValue ?? "" } == ["calm.yaml", "more/nested.yml", "strict.yaml", "broken.yaml"].map { "\(folder)/\($0)" })
        for suite in suites.prefix(3) {
            let cases = suite.elements(forName: "testcase")
            #expect(cases.map { $0.attribute(forName: "name")?.stringValue } == ["seed 1", "seed 2"])
            #expect(suite.attribute(forName: "tests")?.stringValue == "2")
            for testcase in cases {
                let time = try #require(Double(testcase.attribute(forName: "time")?.stringValue ?? ""))
                #expect(time > 0 && time < 120)
            }
        }
        let strict = suites[2]
        #expect(strict.attribute(forName: "failures")?.stringValue == "2")
        for (index, testcase) in strict.elements(forName: "testcase").enumerated() {
            let failure = try #require(testcase.elements(forName: "failure").first)
            let message = try #require(failure.attribute(forName: "message")?.stringValue)
            #expect(message.hasPrefix("latency p99 <= 1 ms  (observed: p99 "))
            #expect(message.hasSuffix("; reproduce: crosswind run \(folder)/strict.yaml --seed \(index + 1)"))
            #expect(failure.stringValue?.contains("\nreproduce: crosswind run \(folder)/strict.yaml --seed \(index + 1)") == true)
        }
        #expect(suites[0].elements(forName: "testcase").allSatisfy { $0.children?.isEmpty ?? true }, "passing cases carry no failure")
        let error = try #require(suites[3].elements(forName: "testcase").first?.elements(forName: "error").first)
        #expect(error.attribute(forName: "message")?.stringValue?.hasPrefix("\(folder)/broken.yaml:4:1: unknown key 'seeed'") == true)

        // The reproduce line reproduces: the same failure, observed value and all.
        let failure = try #require(strict.elements(forName: "testcase").first?.elements(forName: "failure").first?.attribute(forName: "message")?.stringValue)
        let command = try #require(failure.components(separatedBy: "reproduce: crosswind ").last).split(separator: " ").map(String.init)
        let again = try runProcess(crosswind, command + ["--out", "\(base)/again"])
        #expect(again.status == 1)
        let observed = try #require(failure.components(separatedBy: "(observed: ").last?.components(separatedBy: ")").first)
        #expect(again.stdout.contains("FAIL  latency p99 <= 1 ms  (\(observed))"), "\(again.stdout)")
    }

    @Test func exitStatusesFollowTheWorstRun() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("test-status")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let folder = try self.writeSuite(in: base, invalid: false)
        // Each experiment at its own seed: calm 3, nested 5, strict 3.
        let failing = try runProcess(crosswind, ["test", folder, "--jobs", "1"])
        #expect(failing.status == 1, "\(failing.stdout)\n\(failing.stderr)")
        #expect(failing.stdout.contains("seed 5"))
        #expect(failing.stdout.split(separator: "\n").filter { $0.hasPrefix("PASS") || $0.hasPrefix("FAIL") }.count == 3)

        let passing = try runProcess(crosswind, ["test", "\(folder)/calm.yaml", "\(folder)/more"])
        #expect(passing.status == 0, "\(passing.stdout)\n\(passing.stderr)")
        #expect(passing.stdout.hasSuffix(": 2 passed, 0 failed; passed\n"))

        // `run` on a folder or several files is `test`: the same lines and statuses.
        let asRun = try runProcess(crosswind, ["run", folder])
        #expect(asRun.status == 1)
        #expect(asRun.stdout.contains("FAIL     strict  seed 3"))
        let twoFiles = try runProcess(crosswind, ["run", "\(folder)/calm.yaml", "\(folder)/more/nested.yml", "--seed", "8"])
        #expect(twoFiles.status == 0, "\(twoFiles.stdout)\n\(twoFiles.stderr)")
        #expect(twoFiles.stdout.contains("calm    seed 8"))
        #expect(twoFiles.stdout.contains("nested  seed 8"))
        let pcap = try runProcess(crosswind, ["run", folder, "--pcap"])
        #expect(pcap.status == 2)
        #expect(pcap.stderr.contains("take one experiment file"))
    }

    /// Without paths, `test` runs `Experiments/` of the current directory.
    @Test func defaultsToTheExperimentsFolder() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("test-default")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try SmallExperiment.write(SmallExperiment.yaml(name: "calm"), to: "\(base)/Experiments", as: "calm.yaml")
        let run = try runProcess(crosswind, ["test", "--out", "kept"], in: base)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.hasPrefix("PASS     calm  seed 3"))
        // --out keeps each run directory, replayable.
        #expect(FileManager.default.fileExists(atPath: "\(base)/kept/calm/3/report.json"))
        let replay = try runProcess(crosswind, ["replay", "kept/calm/3"], in: base)
        #expect(replay.status == 0, "\(replay.stdout)\n\(replay.stderr)")
    }

    @Test func badInvocationsAreInvalidInput() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("test-bad")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try SmallExperiment.write(SmallExperiment.topologyYAML, to: base, as: "only-topology.yaml")
        let cases: [([String], String)] = [
            (["test", base], "no experiment files under \(base) (only topology files)"),
            (["test", "\(base)/missing"], "\(base)/missing: no such file or directory"),
            (["test", base, "--seeds", "3..1"], "--seeds '3..1'"),
            (["test", base, "--jobs", "0"], "--jobs must be at least 1"),
            (["test", base, "--jobs", "many"], "'many' is invalid"),
        ]
        for (arguments, message) in cases {
            let run = try runProcess(crosswind, arguments)
            #expect(run.status == 2, "\(arguments): \(run.status) \(run.stderr)")
            #expect((run.stdout + run.stderr).contains(message), "\(arguments): \(run.stdout) \(run.stderr)")
        }
    }
}
