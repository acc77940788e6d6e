import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation

/// `crosswind sweep`: one experiment over a range of seeds in parallel processes, shardable
/// across machines, aggregated into `sweep.json` (see ``SweepSummary``).
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment at every seed of a range, in parallel processes, and aggregate the results.",
        discussion: ExitStatus.help(
            [
                (ExitStatus.passed, "every seed passed"),
                (ExitStatus.expectationFailed, "some seed failed an expectation"),
                (ExitStatus.invalidInput, "invalid input, or a seed's run ended without a report"),
            ],
            after: """
                Each seed runs as `crosswind run EXPERIMENT --seed S --out DIR/seeds/S`; DIR/sweep.json \
                and DIR/sweep.txt hold the pass rate, each figure's spread across seeds, and every \
                failing seed with its replay command. --shard K/N runs the seeds S with \
                (S - A) % N == K - 1, so N machines (a CI matrix, a Kubernetes Indexed Job with \
                K = JOB_COMPLETION_INDEX + 1) split a sweep without coordination; \
                `crosswind sweep --merge DIR... --out DIR` merges their outputs into the sweep.json \
                the whole sweep writes.
                """
        )
    )

    @Argument(help: ArgumentHelp("The experiment file; with --merge, the sweep directories (or sweep.json files) to merge; none with --swarm.", valueName: "experiment-or-dir"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("The seeds to run, both included.", valueName: "A..B"))
    var seeds: String?

    @Option(help: "Seeds run at once, each in its own process (the default is the number of processors).")
    var jobs = ProcessPool.defaultJobs

    @Option(help: ArgumentHelp("Run only share K of N (1-based): the seeds S with (S - A) % N == K - 1.", valueName: "K/N"))
    var shard: String?

    @Option(help: "Output directory (default runs/EXPERIMENT-sweep, or runs/EXPERIMENT-sweep-K-of-N for a share).")
    var out: String?

    @Flag(help: "Merge the sweep.json of shares (the inputs) into one, written to --out.")
    var merge = false

    @Flag(help: "Swarm testing: draw a scenario (topology, faults, schedule) from each seed instead of running a file; check the invariants from the trace; write and shrink the failing seeds' experiments (see README, \"Swarm testing\").")
    var swarm = false

    @Flag(help: "With --swarm: draw the small scenarios the test suite runs.")
    var small = false

    @Flag(help: "With --swarm: write failing seeds' experiments without shrinking them.")
    var noShrink = false

    @Option(help: "With --swarm: runs the shrinker may spend on one failing seed.")
    var shrinkRuns = 150

    /// A share's summary file, for the parent that split a swarm sweep over processes.
    @Option(help: ArgumentHelp(visibility: .private))
    var shareFile: String?

    func validate() throws {
        guard self.jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if self.swarm {
            try self.validateSwarm()
            return
        }
        guard !self.small && !self.noShrink else { throw ValidationError("--small and --no-shrink go with --swarm") }
        if self.merge {
            guard self.out != nil else { throw ValidationError("--merge needs --out DIR for the merged sweep") }
            guard self.seeds == nil && self.shard == nil else { throw ValidationError("--merge takes the seeds from the shares: drop --seeds and --shard") }
            return
        }
        guard self.inputs.count == 1 else {
            throw ValidationError("sweep takes one experiment file (got \(self.inputs.count)); to merge shares, pass --merge")
        }
        guard let seeds = self.seeds else { throw ValidationError("sweep needs --seeds A..B") }
        do {
            _ = try SeedRange.parse(seeds)
            _ = try self.shard.map(Shard.parse)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        if self.swarm {
            try self.runSwarm()
            return
        }
        let summary = try self.merge ? self.mergeShares() : self.sweep()
        let directory = self.out ?? Self.defaultDirectory(experiment: summary.experiment, shard: summary.shard)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try RunOutput.encode(summary).write(to: URL(fileURLWithPath: "\(directory)/sweep.json"))
            try Data(summary.text.utf8).write(to: URL(fileURLWithPath: "\(directory)/sweep.txt"))
        } catch {
            printError("cannot write \(directory): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        print(summary.text, terminator: "")
        print("written \(directory)/sweep.json, \(directory)/sweep.txt")
        if summary.errors > 0 { throw ExitCode(ExitStatus.invalidInput) }
        if summary.failed > 0 { throw ExitCode(ExitStatus.expectationFailed) }
    }

    /// `runs/EXPERIMENT-sweep`, or `runs/EXPERIMENT-sweep-K-of-N` for a share.
    static func defaultDirectory(experiment: String, shard: Shard?) -> String {
        "runs/\(experiment)-sweep" + (shard.map { "-\($0.index)-of-\($0.count)" } ?? "")
    }

    /// Runs the seeds of this share and summarises them.
    private func sweep() throws -> SweepSummary {
        let file = self.inputs[0]
        let experiment = try loadExperiment(file)
        let range: SeedRange
        let shard: Shard?
        let inputs: [Manifest.InputFile]
        do {
            range = try SeedRange.parse(self.seeds ?? "")
            shard = try self.shard.map(Shard.parse)
            inputs = try RunInputs.hash(experimentFile: file)
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let seeds = range.seeds(in: shard)
        let directory = self.out ?? Self.defaultDirectory(experiment: experiment.name, shard: shard)
        let jobs = seeds.map { seed in
            ProcessPool.Job(
                arguments: ["run", file, "--seed", "\(seed)", "--out", "\(directory)/seeds/\(seed)"],
                logPath: "\(directory)/seeds/\(seed)/run.log"
            )
        }
        var results: [SweepSummary.SeedResult] = []
        var failed = 0
        let progress = ProgressLine()
        progress.redraw(Self.progressText(done: 0, total: seeds.count, failed: 0, elapsed: 0))
        ProcessPool(jobs: self.jobs).run(jobs) { completion in
            let seed = seeds[completion.index]
            let result = Self.result(seed: seed, completion: completion, directory: "\(directory)/seeds/\(seed)")
            results.append(result)
            if !result.passed { failed += 1 }
            let elapsed = progress.elapsedSeconds
            progress.redraw(Self.progressText(done: results.count, total: seeds.count, failed: failed, elapsed: elapsed))
            progress.log(
                "sweep: seed \(seed) \(result.passed ? "passed" : result.error == nil ? "FAILED" : "ERROR"); "
                    + "\(results.count)/\(seeds.count) done, \(failed) failed, ETA \(ProgressLine.eta(done: results.count, total: seeds.count, elapsed: elapsed))"
            )
        }
        progress.clear()
        return SweepSummary(experiment: experiment.name, experimentFile: file, inputs: inputs, seeds: range, shard: shard, results: results)
    }

    /// A seed's outcome from its run directory; an error line without wall time or paths of
    /// this machine, so `sweep.json` stays reproducible.
    private static func result(seed: UInt64, completion: ProcessPool.Completion, directory: String) -> SweepSummary.SeedResult {
        switch ExperimentSuite.outcome(of: completion, directory: directory) {
        case .passed(let report), .failed(let report):
            return SweepSummary.SeedResult(seed: seed, report: report)
        case .error(let text):
            if completion.signalled {
                return SweepSummary.SeedResult(seed: seed, error: "the run crashed (signal \(completion.status)); see seeds/\(seed)/run.log")
            }
            let last = text.split(separator: "\n").last.map(String.init) ?? "the run exited with status \(completion.status)"
            return SweepSummary.SeedResult(seed: seed, error: last)
        }
    }

    /// `[#####...]  12/40 seeds  1 failed  ETA 0:32`.
    private static func progressText(done: Int, total: Int, failed: Int, elapsed: Double) -> String {
        "\(ProgressLine.bar(done: done, total: total))  \(done)/\(total) seeds  \(failed) failed  ETA \(ProgressLine.eta(done: done, total: total, elapsed: elapsed))"
    }

    /// Reads each input's `sweep.json` and merges them.
    private func mergeShares() throws -> SweepSummary {
        var parts: [SweepSummary] = []
        for input in self.inputs {
            let path = input.hasSuffix(".json") ? input : "\(input)/sweep.json"
            guard let data = FileManager.default.contents(atPath: path) else {
                printError("\(path): cannot read (a sweep directory holds sweep.json)")
                throw ExitCode(ExitStatus.invalidInput)
            }
            do {
                parts.append(try JSONDecoder().decode(SweepSummary.self, from: data))
            } catch {
                printError("\(path): not a sweep.json: \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }
        do {
            let merged = try SweepSummary.merging(parts)
            if let missing = merged.seedsMissing {
                printError("sweep --merge: \(missing.count) seeds of \(merged.seeds.text) are in no share (first \(missing[0])); merged what there is")
            }
            return merged
        } catch {
            printError("sweep --merge: \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
    }
}
