import Foundation
import Testing

/// `crosswind run` around the run itself: the last run kept in `runs/NAME/`, progress only on
/// a terminal, usage errors as invalid input (2), and exit statuses in every help screen.
@Suite(.tags(.externalTool), .serialized) struct RunCommandTests {
    @Test func withoutOutTheLastRunIsKeptUnderRuns() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("run-kept")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try SmallExperiment.write(SmallExperiment.yaml(name: "small", p99AtMostMs: 1), to: base, as: "small.yaml")
        let captured = try runProcess(crosswind, ["run", "small.yaml", "--pcap"], in: base)
        #expect(captured.status == 1)
        #expect(FileManager.default.fileExists(atPath: "\(base)/runs/small/server.pcap"))

        let run = try runProcess(crosswind, ["run", "small.yaml", "--seed", "6"], in: base)
        #expect(run.status == 1)
        // The summary says where the run is and how to replay it.
        #expect(run.stdout.contains("  output      runs/small\n"))
        #expect(run.stdout.contains("inspect runs/small/, or replay: crosswind replay runs/small"))
        for file in ["manifest.json", "report.json", "events.jsonl", "metrics.csv"] {
            #expect(FileManager.default.fileExists(atPath: "\(base)/runs/small/\(file)"), "\(file)")
        }
        // Only this run is there: the capture of the one before is gone.
        #expect(!FileManager.default.fileExists(atPath: "\(base)/runs/small/server.pcap"))
        let report = try String(contentsOfFile: "\(base)/runs/small/report.json", encoding: .utf8)
        #expect(report.contains("\"seed\" : 6"))
        #expect(try runProcess(crosswind, ["replay", "runs/small"], in: base).status == 0)
    }

    /// Progress goes to standard error on a terminal only; `script` gives the run one.
    @Test func progressShowsOnATerminalOnly() throws {
        let crosswind = try crosswindExecutable()
        let base = try temporaryDirectory("run-progress")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try SmallExperiment.write(SmallExperiment.yaml(name: "small"), to: base, as: "small.yaml")
        let plain = try runProcess(crosswind, ["run", "small.yaml", "--out", "plain"], in: base)
        #expect(plain.status == 0)
        #expect(plain.stderr.isEmpty, "\(plain.stderr)")

        let script = try tool("script")
        let terminal = try runProcess(script, ["-qec", "\(crosswind) run small.yaml --out tty", "/dev/null"], in: base)
        #expect(terminal.status == 0, "\(terminal.stdout)")
        #expect(terminal.stdout.contains(/virtual \d+\.\d \/ 8\.0 s  events \d+  wall \d+\.\d s/), "\(terminal.stdout)")
        #expect(terminal.stdout.contains("\r\u{1B}[2K"))
        // Slicing the run for progress changes nothing it records.
        #expect(FileManager.default.contents(atPath: "\(base)/tty/events.jsonl") == FileManager.default.contents(atPath: "\(base)/plain/events.jsonl"))
        #expect(FileManager.default.contents(atPath: "\(base)/tty/report.json") == FileManager.default.contents(atPath: "\(base)/plain/report.json"))
    }

    @Test(arguments: [
        (["run", "x.yaml", "--seed", "abc"], "The value 'abc' is invalid for '--seed <seed>'"),
        (["run", "x.yaml", "--frobnicate"], "Unknown option '--frobnicate'"),
        (["run"], "Missing expected argument '<experiments> ...'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
        (["sweep", "x.yaml", "--seeds"], "Missing value for '--seeds <A..B>'"),
        (["test", "--junit"], "Missing value for '--junit <file>'"),
        (["replay", "a", "b"], "Unexpected argument 'b'"),
    ])
    func usageErrorsAreInvalidInput(arguments: [String], message: String) throws {
        let run = try runProcess(try crosswindExecutable(), arguments)
        #expect(run.status == 2, "\(arguments): \(run.status)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stderr.contains("Usage: crosswind"), "\(run.stderr)")
    }

    @Test func everyHelpScreenListsTheExitStatuses() throws {
        let crosswind = try crosswindExecutable()
        let root = try runProcess(crosswind, ["--help"])
        #expect(root.status == 0)
        for line in ["Exit status:", "  0  ", "  1  an expectation failed", "  2  invalid input", "  3  a replay or a determinism check diverged"] {
            #expect(root.stdout.contains(line), "\(line)")
        }
        for command in ["test", "sweep", "replay"] {
            #expect(root.stdout.contains("  \(command) "), "the command list names \(command)")
        }
        for command in ["run", "test", "sweep", "replay", "bench", "serve", "proxy", "load"] {
            let help = try runProcess(crosswind, [command, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("Exit status:\n  0  "), "\(command) --help")
            #expect(help.stdout.contains("  2  "), "\(command) --help")
        }
    }
}
