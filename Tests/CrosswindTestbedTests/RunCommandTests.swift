import Foundation
import Testing

/// The command line's own contract: usage errors are invalid input (2), and every help
/// screen lists the exit statuses.
@Suite(.tags(.externalTool), .serialized) struct RunCommandTests {
    @Test(arguments: [
        (["run", "x.yaml", "--seed", "abc"], "The value 'abc' is invalid for '--seed <seed>'"),
        (["run", "x.yaml", "--frobnicate"], "Unknown option '--frobnicate'"),
        (["run"], "Missing expected argument '<experiment>'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
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
        for command in ["run", "bench", "serve", "proxy", "load"] {
            let help = try runProcess(crosswind, [command, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("Exit status:\n  0  "), "\(command) --help")
            #expect(help.stdout.contains("  2  "), "\(command) --help")
        }
    }
}
