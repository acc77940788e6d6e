import ArgumentParser
import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import Foundation
import NIOCore

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment over the virtual network and check its expectations.",
        discussion: ExitStatus.help(
            [
                (ExitStatus.passed, "every expectation held"),
                (ExitStatus.expectationFailed, "an expectation failed"),
                (ExitStatus.invalidInput, "invalid input (a bad file or option); with several files, this wins over 1"),
                (ExitStatus.diverged, "--check-determinism: the two runs diverged"),
            ],
            after: """
                Without --out, the run is kept in runs/EXPERIMENT/ (replaced by the next run of it), \
                so a failure can be inspected, or replayed with `crosswind replay runs/EXPERIMENT`. \
                Given a folder or several files, every experiment among them runs as `crosswind test` \
                runs them, with the same output and exit statuses.
                """
        )
    )

    @Argument(help: "The experiment file (YAML); or folders and several files, run like `crosswind test`.")
    var experiments: [String]

    @Option(help: "Seed for every random stream (default: the experiment's seed).")
    var seed: UInt64?

    @Option(help: "Directory for manifest.json, report.json, events.jsonl, metrics.csv and captures (default runs/EXPERIMENT).")
    var out: String?

    @Flag(help: "Write pcap captures (the server's view) into the output directory.")
    var pcap = false

    @Flag(help: "Run twice in this process and compare traces; exit 3 on the first divergent event.")
    var checkDeterminism = false

    @Flag(help: "Also check the swarm invariants from the trace (README, \"Swarm testing\"); exit 1 on a violation.")
    var swarmCheck = false

    /// The files `run` writes into a run directory (captures are named by the manifest).
    static let runFiles = ["manifest.json", "report.json", "events.jsonl", "metrics.csv", "server.log"]

    func run() throws {
        if self.isSuite {
            guard !self.pcap && !self.checkDeterminism && !self.swarmCheck else {
                printError("run: --pcap, --check-determinism and --swarm-check take one experiment file (got \(self.experiments.joined(separator: " ")))")
                throw ExitCode(ExitStatus.invalidInput)
            }
            let status = try runSuite(paths: self.experiments, seeds: self.seed.map { [$0] }, jobs: ProcessPool.defaultJobs, keep: self.out, junit: nil)
            if status != ExitStatus.passed { throw ExitCode(status) }
            return
        }
        try self.runOne(self.experiments[0])
    }

    /// Several paths, or a folder: a suite.
    private var isSuite: Bool {
        var isDirectory: ObjCBool = false
        return self.experiments.count > 1
            || (FileManager.default.fileExists(atPath: self.experiments[0], isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    private func runOne(_ file: String) throws {
        let inputs: [Manifest.InputFile]
        let experiment = try loadExperiment(file)
        do {
            inputs = try RunInputs.hash(experimentFile: file)
        } catch {
            printError("\(file): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let seed = self.seed ?? experiment.seed
        let directory = self.out ?? "runs/\(experiment.name)"
        do {
            if self.out == nil { try Self.removeRunFiles(in: directory) }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            printError("cannot create output directory \(directory): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
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
                    print("  replay: crosswind run \(file) --seed \(seed) --check-determinism")
                    throw ExitCode(ExitStatus.diverged)
                }
                print("determinism check passed: two runs, one digest \(outcome.first.digest)")
                result = outcome.first
            } else {
                let run = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: true, captureDirectory: captureDirectory))
                let progress = ProgressLine()
                if progress.isTerminal {
                    run.onProgress = { step in
                        progress.redraw(Self.progressText(step, wallSeconds: progress.elapsedSeconds), throttled: true)
                    }
                }
                result = run.execute()
                progress.clear()
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("\(file): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let wall = clock.now - started
        do {
            try RunOutput.write(result, experiment: experiment, to: directory, inputs: inputs, options: Manifest.Options(seed: self.seed, pcap: self.pcap))
        } catch {
            printError("cannot write \(directory): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        Summary.print(result.report, wall: wall, directory: directory)
        var violated = false
        if self.swarmCheck {
            let budget = SwarmBudget(experiment: experiment)
            let violations = SwarmChecker(budget: budget).check(SwarmTraceReader.events(of: result.trace))
            print("swarm check: heal at \(Double(budget.healNanos) / 1e9) s, budget \(Double(budget.budgetNanos) / 1e9) s: \(violations.isEmpty ? "every invariant held" : "\(violations.count) violations")")
            for violation in violations.prefix(20) { print("  \(violation)") }
            violated = !violations.isEmpty
        }
        if violated && result.report.passed {
            print("inspect \(directory)/events.jsonl")
            throw ExitCode(ExitStatus.expectationFailed)
        }
        if !result.report.passed {
            print("inspect \(directory)/, or replay: crosswind replay \(directory)")
            throw ExitCode(ExitStatus.expectationFailed)
        }
    }

    /// `virtual 12.3 / 37.0 s  events 1234567  wall 4.2 s`.
    static func progressText(_ step: RunProgress, wallSeconds: Double) -> String {
        let reached = Double(step.virtualTime.nanoseconds) / 1e9
        let end = Double(step.end.nanoseconds) / 1e9
        return String(format: "virtual %.1f / %.1f s  events %d  wall %.1f s", reached, end, step.events, wallSeconds)
    }

    /// Removes what an earlier run left in `directory`, so the kept run is only this one (a
    /// capture of the previous run must not pass for this run's).
    static func removeRunFiles(in directory: String) throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: "\(directory)/manifest.json") else { return }
        var files = Self.runFiles
        if let data = manager.contents(atPath: "\(directory)/manifest.json"),
            let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
        {
            files += manifest.captures.filter { !$0.contains("/") }
        }
        for file in files where manager.fileExists(atPath: "\(directory)/\(file)") {
            try manager.removeItem(atPath: "\(directory)/\(file)")
        }
    }
}
