import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The `crosswind` command line. Exit statuses (the contract scripts rely on):
/// 0 every expectation held; 1 an expectation failed; 2 invalid input; 3 a run diverged.
@main
struct Crosswind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crosswind",
        abstract: "Real-time transports and a deterministic network-fault testbed.",
        version: CrosswindVersion.current,
        subcommands: [Run.self, Validate.self, Bench.self, Serve.self, Proxy.self, Load.self]
    )
}

/// Exit statuses of the command-line contract.
enum ExitStatus {
    static let passed: Int32 = 0
    static let expectationFailed: Int32 = 1
    static let invalidInput: Int32 = 2
    static let diverged: Int32 = 3
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
