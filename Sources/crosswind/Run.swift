import ArgumentParser
import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment over the virtual network and check its expectations.",
        discussion: ExitStatus.help([
            (ExitStatus.passed, "every expectation held"),
            (ExitStatus.expectationFailed, "an expectation failed"),
            (ExitStatus.invalidInput, "invalid input (a bad file or option)"),
            (ExitStatus.diverged, "--check-determinism: the two runs diverged"),
        ])
    )

    @Argument(help: "The experiment file (YAML).")
    var experiment: String

    @Option(help: "Seed for every random stream (default: the experiment's seed).")
    var seed: UInt64?

    @Option(help: "Directory for manifest.json, report.json, events.jsonl, metrics.csv and captures.")
    var out: String?

    @Flag(help: "Write pcap captures (the server's view) into the output directory (default runs/EXPERIMENT).")
    var pcap = false

    @Flag(help: "Run twice in this process and compare traces; exit 3 on the first divergent event.")
    var checkDeterminism = false

    func run() throws {
        let experiment = try loadExperiment(self.experiment)
        let seed = self.seed ?? experiment.seed
        let directory = self.out ?? (self.pcap ? "runs/\(experiment.name)" : nil)
        if let directory {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                printError("cannot create output directory \(directory): \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }
        let captureDirectory = self.pcap ? directory : nil
        let clock = ContinuousClock()
        let started = clock.now
        let result: RunResult
        do {
            if self.checkDeterminism {
                let outcome = try DeterminismCheck.check(experiment, seed: seed, captureDirectory: captureDirectory)
                if let divergence = outcome.divergence {
                    print("determinism check FAILED for \(experiment.name) seed \(seed)")
                    print("  digests: \(outcome.first.digest) vs \(outcome.second.digest)")
                    print("  first divergent event #\(divergence.index):")
                    print("    run 1: \(divergence.first ?? "(no event)")")
                    print("    run 2: \(divergence.second ?? "(no event)")")
                    print("  replay: crosswind run \(self.experiment) --seed \(seed) --check-determinism")
                    throw ExitCode(ExitStatus.diverged)
                }
                print("determinism check passed: two runs, one digest \(outcome.first.digest)")
                result = outcome.first
            } else {
                result = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: directory != nil, captureDirectory: captureDirectory)).execute()
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("\(self.experiment): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let wall = clock.now - started
        if let directory {
            do {
                try RunOutput.write(result, experiment: experiment, to: directory)
            } catch {
                printError("cannot write \(directory): \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }
        Summary.print(result.report, wall: wall, directory: directory)
        if !result.report.passed { throw ExitCode(ExitStatus.expectationFailed) }
    }
}
