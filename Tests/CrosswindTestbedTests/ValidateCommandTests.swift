import Foundation
import Testing

/// `crosswind validate` and `run` on a file with several problems: every problem on standard
/// error, one `file:line:column: message` line each, in file order, and exit status 2.
@Suite struct ValidateCommandTests {
    static let yaml = """
        kind: experiment
        version: 1
        name: three problems
        topology:
          groups:
            - { name: office, count: 2, link: { laytency: 20ms, bandwidth: 10MBps } }
        workload: { rate: 5, size: 512, duration: 60s }

        """

    @Test func everyProblemOfAFileIsReported() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("validate-all")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = "\(base)/bad.yaml"
        try Self.yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let expected = [
            "\(path):3:7: name: 'three problems' is not a valid name (use letters, digits, '.', '_' and '-')",
            "\(path):6:41: topology.groups[0].link: unknown key 'laytency' (did you mean 'latency'?)",
            "\(path):6:68: topology.groups[0].link.bandwidth: 'MBps' is ambiguous: write Mbps or Mbit/s for bits per second, MB/s for bytes per second",
        ]
        for command in ["validate", "run"] {
            let run = try runProcess(crosswind, [command, path])
            #expect(run.status == 2, "\(command): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").map(String.init) == expected, "\(command)")
        }
        // A good file beside it is still checked and named.
        let good = packagePath("Experiments/outage-recovery.yaml")
        let both = try runProcess(crosswind, ["validate", good, path])
        #expect(both.status == 2)
        #expect(both.stdout.contains("ok  \(good)"))
        #expect(both.stderr.split(separator: "\n").count == 3)
    }

    @Test func theReferenceIsTheCommittedOne() throws {
        let run = try runProcess(try crosswindExecutable(), ["validate", "--reference"])
        #expect(run.status == 0)
        #expect(run.stdout == (try String(contentsOfFile: packagePath("docs/experiment-format.md"), encoding: .utf8)))
    }
}
