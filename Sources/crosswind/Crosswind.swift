import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The `crosswind` command line. Exit statuses (the contract scripts rely on):
/// 0 every expectation held; 1 an expectation failed; 2 invalid input (usage errors
/// included); 3 a replay or determinism check diverged.
@main
struct Crosswind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crosswind",
        abstract: "Real-time transports and a deterministic network-fault testbed.",
        discussion: ExitStatus.help([
            (ExitStatus.passed, "every expectation held (a replay: the run was reproduced)"),
            (ExitStatus.expectationFailed, "an expectation failed"),
            (ExitStatus.invalidInput, "invalid input: a bad file, option or argument"),
            (ExitStatus.diverged, "a replay or a determinism check diverged"),
        ]),
        version: CrosswindVersion.current,
        subcommands: [
            Run.self, TestExperiments.self, Sweep.self, Replay.self, Validate.self, Bench.self, Serve.self, Proxy.self, Load.self, Token.self,
        ]
    )

    /// Parses and runs a command as ArgumentParser does, except that a usage error (unknown
    /// flag, bad value, missing argument) exits with status 2, invalid input, like every
    /// other bad input, instead of EX_USAGE (64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(ExitStatus.invalidInput)
            }
            exit(withError: error)
        }
    }
}

/// Exit statuses of the command-line contract.
enum ExitStatus {
    static let passed: Int32 = 0
    static let expectationFailed: Int32 = 1
    static let invalidInput: Int32 = 2
    static let diverged: Int32 = 3

    /// The exit-status section of a command's help: one line per status it uses.
    static func help(_ statuses: [(Int32, String)], after text: String? = nil) -> String {
        let lines = ["Exit status:"] + statuses.map { "  \($0.0)  \($0.1)" }
        return ([text].compactMap { $0 } + [lines.joined(separator: "\n")]).joined(separator: "\n\n")
    }
}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Loads an experiment or exits with status 2 and `file:line:column: message`.
func loadExperiment(_ path: String) throws -> Experiment {
    do {
        return try ExperimentLoader.load(path: path)
    } catch {
        printError(error.description)
        throw ExitCode(ExitStatus.invalidInput)
    }
}

/// Peak resident set size of this process (getrusage reports KiB on Linux).
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// CPU seconds (user and system) this process has used.
func cpuSecondsUsed() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
