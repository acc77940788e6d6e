import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation

/// `crosswind replay DIR`: runs again what a run directory's `manifest.json` describes and
/// verifies that the same trace comes out.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run a run directory from its manifest.json and verify the trace digest.",
        discussion: ExitStatus.help(
            [
                (ExitStatus.passed, "the replay reproduced the run (same digest, same captures)"),
                (ExitStatus.invalidInput, "no manifest, a malformed one, or an experiment file that does not load"),
                (ExitStatus.diverged, "the replay diverged: it prints the first differing event"),
            ],
            after: """
                The experiment file is read from the path the manifest names (relative to the \
                directory the run was started in). A file whose content changed since the run is \
                named with both hashes, and the replay still runs to show what the change did.
                """
        )
    )

    @Argument(help: "A run directory (written by crosswind run --out, or runs/EXPERIMENT).")
    var directory: String

    func run() throws {
        let manifest: Manifest
        do {
            manifest = try RunReplay.manifest(in: self.directory)
        } catch {
            printError(error.description)
            throw ExitCode(ExitStatus.invalidInput)
        }
        let file = manifest.experimentFile ?? ""
        if manifest.inputs == nil {
            print("note: \(self.directory)/manifest.json records no file hashes (an older crosswind wrote it): cannot tell whether \(file) changed")
        }
        for change in RunReplay.changedInputs(manifest) {
            if let current = change.current {
                print("\(change.path) changed since the run: sha256 \(change.recorded) now \(current)")
            } else {
                print("\(change.path) is missing or unreadable since the run (it had sha256 \(change.recorded))")
            }
        }
        if manifest.version != CrosswindVersion.current {
            print("note: the run was made by crosswind \(manifest.version), this is \(CrosswindVersion.current)")
        }
        let experiment = try loadExperiment(file)
        if experiment.name != manifest.experiment {
            print("note: \(file) now names the experiment \(experiment.name) (the run: \(manifest.experiment))")
        }
        print("replay   \(experiment.name)  seed \(manifest.seed)  from \(self.directory)")

        let pcap = manifest.options?.pcap ?? !manifest.captures.isEmpty
        let scratch: String?
        do {
            scratch = try pcap ? TemporaryDirectory.make("replay") : nil
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        let result: RunResult
        do {
            let run = try ExperimentRun(experiment: experiment, options: RunOptions(seed: manifest.seed, keepsEvents: true, captureDirectory: scratch))
            let progress = ProgressLine()
            if progress.isTerminal {
                run.onProgress = { step in progress.redraw(Run.progressText(step, wallSeconds: progress.elapsedSeconds), throttled: true) }
            }
            result = run.execute()
            progress.clear()
        } catch {
            printError("\(file): \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }

        var diverged = false
        if RunReplay.reproduces(result, manifest) {
            print("digest   \(result.digest)  (\(manifest.events) events): the same as the run")
        } else {
            diverged = true
            print("DIVERGED digest \(result.digest) (\(RunReplay.events(result)) events); the run had \(manifest.digest) (\(manifest.events) events)")
            try self.printFirstDifference(result)
        }
        if let scratch {
            for capture in manifest.captures.sorted() {
                let recorded = FileManager.default.contents(atPath: "\(self.directory)/\(capture)")
                let replayed = FileManager.default.contents(atPath: "\(scratch)/\(capture)")
                if recorded == nil {
                    print("note: \(self.directory)/\(capture) is gone; the replay's capture is not compared")
                } else if recorded != replayed {
                    diverged = true
                    print("DIVERGED capture \(capture) differs from the run's")
                }
            }
        }
        if diverged {
            print("replay: crosswind run \(file) --seed \(manifest.seed)")
            throw ExitCode(ExitStatus.diverged)
        }
        print("replayed: the run is reproduced")
    }

    /// The first event at which the stored `events.jsonl` and the replay differ.
    private func printFirstDifference(_ result: RunResult) throws {
        let events = "\(self.directory)/events.jsonl"
        guard FileManager.default.fileExists(atPath: events) else {
            print("  \(events) is gone: the first divergent event cannot be shown")
            return
        }
        do {
            guard let difference = try RunReplay.firstDifference(of: result, from: events) else {
                print("  every line of \(events) is the same: the traces differ only in what the digest covers beyond the lines (registration order)")
                return
            }
            print("  first divergent event, line \(difference.line) of \(events):")
            print("    run:    \(difference.recorded ?? "(the run's trace ended here)")")
            print("    replay: \(difference.replayed ?? "(the replay's trace ended here)")")
        } catch {
            print("  cannot compare with \(events): \(error)")
        }
    }
}
