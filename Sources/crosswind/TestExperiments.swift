import ArgumentParser
import CrosswindTestbed
import Foundation

/// `crosswind test`: every experiment under some paths, in parallel processes, with a line
/// per run, a total, and JUnit XML for CI.
struct TestExperiments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run every experiment under the given files and folders and check its expectations (JUnit XML for CI).",
        discussion: ExitStatus.help(
            [
                (ExitStatus.passed, "every run passed"),
                (ExitStatus.expectationFailed, "an expectation failed (and every file was valid)"),
                (ExitStatus.invalidInput, "a file was invalid or a run ended without a report; this wins over 1"),
            ],
            after: """
                Folders are searched recursively for *.yaml and *.yml; topology files are skipped. \
                Each experiment runs at its own seed, or at every seed of --seeds, as a child \
                `crosswind run FILE --seed N`; a failure prints the line that reproduces it.
                """
        )
    )

    @Argument(help: "Experiment files and folders.")
    var paths: [String] = ["Experiments"]

    @Option(help: ArgumentHelp("Write JUnit XML here.", valueName: "file"))
    var junit: String?

    @Option(help: ArgumentHelp("Run every experiment at each seed of A..B (default: each at its own seed).", valueName: "A..B"))
    var seeds: String?

    @Option(help: "Runs at once, each in its own process (the default is the number of processors).")
    var jobs = ProcessPool.defaultJobs

    @Option(help: "Keep every run directory under DIR/EXPERIMENT/SEED (default: a temporary folder, removed).")
    var out: String?

    func validate() throws {
        guard self.jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let seeds = self.seeds {
            do { _ = try SeedRange.parse(seeds) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        let seeds = try self.seeds.map { text in
            do { return try SeedRange.parse(text).seeds() } catch { throw ValidationError("\(error)") }
        }
        let status = try runSuite(paths: self.paths, seeds: seeds, jobs: self.jobs, keep: self.out, junit: self.junit)
        if status != ExitStatus.passed { throw ExitCode(status) }
    }
}

/// Runs the experiments under `paths` as `crosswind test` does (also `crosswind run` on a
/// folder or several files) and returns the exit status.
func runSuite(paths: [String], seeds: [UInt64]?, jobs: Int, keep: String?, junit: String?) throws -> Int32 {
    let suite = ExperimentSuite.discover(paths)
    if suite.entries.isEmpty && suite.invalid.isEmpty {
        printError("no experiment files under \(paths.joined(separator: ", "))"
            + (suite.skippedTopologies.isEmpty ? "" : " (only topology files)"))
        return ExitStatus.invalidInput
    }
    if let keep {
        do {
            try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
        } catch {
            printError("cannot create output directory \(keep): \(error)")
            return ExitStatus.invalidInput
        }
    }
    let clock = ContinuousClock()
    let started = clock.now
    let cases: [ExperimentSuite.Case]
    do {
        cases = try suite.run(seeds: seeds, jobs: jobs, keep: keep)
    } catch {
        printError("\(error)")
        return ExitStatus.invalidInput
    }
    if let junit {
        let xml = JUnitReport.xml(suite, cases: cases, wallSeconds: ProgressLine.seconds(clock.now - started))
        do {
            try Data(xml.utf8).write(to: URL(fileURLWithPath: junit))
        } catch {
            printError("cannot write \(junit): \(error)")
            return ExitStatus.invalidInput
        }
    }
    return suite.exitStatus(cases)
}
