import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation

/// `crosswind sweep --swarm --seeds A..B`: a scenario drawn from each seed, run, checked from
/// its trace, and when it fails, written out and shrunk (README, "Swarm testing").
extension Sweep {
    func validateSwarm() throws {
        guard self.inputs.isEmpty else {
            throw ValidationError("--swarm draws its scenarios from the seeds: drop the experiment file (\(self.inputs.joined(separator: " ")))")
        }
        guard !self.merge else { throw ValidationError("--swarm and --merge do not go together") }
        guard let seeds = self.seeds else { throw ValidationError("sweep --swarm needs --seeds A..B") }
        guard self.shrinkRuns >= 1 else { throw ValidationError("--shrink-runs must be at least 1") }
        do {
            _ = try SeedRange.parse(seeds)
            _ = try self.shard.map(Shard.parse)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func runSwarm() throws {
        let range: SeedRange
        let shard: Shard?
        do {
            range = try SeedRange.parse(self.seeds ?? "")
            shard = try self.shard.map(Shard.parse)
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let directory = self.out ?? "runs/swarm-\(range.first)-\(range.last)" + (shard.map { "-\($0.index)-of-\($0.count)" } ?? "")
        let seeds = range.seeds(in: shard)
        let clock = ContinuousClock()
        let started = clock.now
        let summary: SwarmSummary
        if self.jobs > 1 && seeds.count > 1 {
            summary = try self.swarmInShares(range: range, shard: shard, directory: directory)
        } else {
            summary = try self.swarmHere(seeds: seeds, range: range, directory: directory)
        }
        let wall = clock.now - started
        let summaryPath = self.shareFile ?? "\(directory)/swarm.json"
        do {
            try FileManager.default.createDirectory(atPath: (summaryPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try RunOutput.encode(summary).write(to: URL(fileURLWithPath: summaryPath))
        } catch {
            printError("cannot write \(summaryPath): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        print(summary.text, terminator: "")
        let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        print(String(format: "wall %.1f s (%.3f s a seed, %d jobs); written %@", seconds, seconds / Double(max(summary.runs, 1)), self.jobs, summaryPath))
        if summary.failed > 0 { throw ExitCode(ExitStatus.expectationFailed) }
    }

    /// Runs the seeds one after the other in this process.
    private func swarmHere(seeds: [UInt64], range: SeedRange, directory: String) throws -> SwarmSummary {
        let size: SwarmGenerator.Size = self.small ? .small : .standard
        var summary = SwarmSummary(seeds: range.text, size: size.rawValue)
        let progress = ProgressLine()
        for (index, seed) in seeds.enumerated() {
            let scenario = SwarmGenerator.scenario(seed: seed, size: size)
            let outcome: SwarmRunner.Outcome
            do {
                outcome = try SwarmRunner.run(scenario)
            } catch {
                // A drawn scenario the loader refuses is a bug of the generator: say which seed.
                printError("swarm seed \(seed): the drawn experiment is invalid: \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
            var failure: SwarmSummary.Failure?
            if !outcome.passed {
                progress.clear()
                failure = try self.writeFailure(scenario, outcome: outcome, directory: directory)
                print("swarm: seed \(seed) FAILED (\(failure!.invariants.joined(separator: ", "))); replay: \(failure!.replay)")
            }
            summary.add(outcome, scenario: scenario, incompleteResumes: outcome.incompleteResumes, failure: failure)
            let elapsed = progress.elapsedSeconds
            progress.redraw(
                "\(ProgressLine.bar(done: index + 1, total: seeds.count))  \(index + 1)/\(seeds.count) seeds  \(summary.failed) failed  ETA \(ProgressLine.eta(done: index + 1, total: seeds.count, elapsed: elapsed))",
                throttled: true
            )
        }
        progress.clear()
        return summary
    }

    /// Writes a failing seed's experiment, shrinks it and writes the shrunk one.
    private func writeFailure(_ scenario: SwarmScenario, outcome: SwarmRunner.Outcome, directory: String) throws -> SwarmSummary.Failure {
        let failures = "\(directory)/failures"
        let file = "\(failures)/\(scenario.name).yaml"
        do {
            try FileManager.default.createDirectory(atPath: failures, withIntermediateDirectories: true)
            try Data(scenario.yaml.utf8).write(to: URL(fileURLWithPath: file))
        } catch {
            printError("cannot write \(file): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        var shrunkFile: String?
        var shrunkFaults: Int?
        var replayFile = file
        if !self.noShrink {
            let result = SwarmShrinker(maximumRuns: self.shrinkRuns).shrink(scenario, outcome: outcome)
            let path = "\(failures)/\(result.scenario.name).yaml"
            do {
                try Data(result.scenario.yaml.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                printError("cannot write \(path): \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
            shrunkFile = path
            shrunkFaults = result.scenario.faults.count
            replayFile = path
        }
        let invariants = outcome.invariants.map(\.rawValue)
        return SwarmSummary.Failure(
            seed: scenario.seed, invariants: invariants, violations: outcome.violations.prefix(5).map(\.description),
            failedExpectations: outcome.failedExpectations, file: file, shrunkFile: shrunkFile, faults: scenario.faults.count,
            shrunkFaults: shrunkFaults, replay: "crosswind run \(replayFile) --swarm-check"
        )
    }

    /// Splits the seeds into `jobs` shares, each run by a child `crosswind sweep --swarm
    /// --jobs 1 --shard K/N`, and merges their `swarm.json`.
    private func swarmInShares(range: SeedRange, shard: Shard?, directory: String) throws -> SwarmSummary {
        guard shard == nil else {
            printError("sweep --swarm: --shard runs one share in this process; give --jobs 1 with it")
            throw ExitCode(ExitStatus.invalidInput)
        }
        let count = min(self.jobs, range.count)
        let jobs = (1...count).map { index in
            var arguments = [
                "sweep", "--swarm", "--seeds", range.text, "--shard", "\(index)/\(count)", "--jobs", "1",
                "--out", directory, "--shrink-runs", "\(self.shrinkRuns)",
            ]
            if self.small { arguments.append("--small") }
            if self.noShrink { arguments.append("--no-shrink") }
            arguments += ["--share-file", "\(directory)/shares/\(index).json"]
            return ProcessPool.Job(arguments: arguments, logPath: "\(directory)/shares/\(index).log")
        }
        var parts: [SwarmSummary] = []
        var broken: [String] = []
        ProcessPool(jobs: count).run(jobs) { completion in
            let path = "\(directory)/shares/\(completion.index + 1).json"
            if completion.status <= 1, !completion.signalled, let data = FileManager.default.contents(atPath: path),
                let part = try? JSONDecoder().decode(SwarmSummary.self, from: data)
            {
                parts.append(part)
            } else {
                broken.append("share \(completion.index + 1) ended with status \(completion.status); see \(directory)/shares/\(completion.index + 1).log")
            }
        }
        guard broken.isEmpty else {
            for line in broken { printError("sweep --swarm: \(line)") }
            throw ExitCode(ExitStatus.invalidInput)
        }
        return SwarmSummary.merging(parts, seeds: range.text)
    }
}
