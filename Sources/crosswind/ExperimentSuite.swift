import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The experiment files under some paths, each run at its own seed or at every seed of a
/// range, in child processes: `crosswind test`, and `crosswind run` given a folder or several
/// files.
///
/// Folders are searched recursively for `*.yaml` and `*.yml`; files of `kind: topology` are
/// skipped, files that do not load are invalid (reported, never run). Each run is a child
/// `crosswind run FILE --seed S --out DIR`, so its verdict and figures come from the
/// `report.json` it wrote, exactly as a run started by hand.
struct ExperimentSuite {
    /// An experiment file that loads.
    struct Entry {
        var path: String
        var experiment: Experiment
        /// The run directories' folder name (the experiment's name, made unique).
        var folder: String
    }

    /// A file that does not load, and why (`file:line:column: message`).
    struct InvalidFile {
        var path: String
        var message: String
    }

    /// One run of one experiment at one seed.
    struct Case {
        var entry: Int
        var seed: UInt64
        var outcome: Outcome
        var wallSeconds: Double
    }

    enum Outcome {
        case passed(Report)
        case failed(Report)
        /// The run ended without a report: it could not start (invalid input) or crashed.
        case error(String)
    }

    var entries: [Entry] = []
    var invalid: [InvalidFile] = []
    var skippedTopologies: [String] = []

    /// The experiment files named by `paths` (files, or folders searched recursively), in
    /// path order.
    static func discover(_ paths: [String]) -> ExperimentSuite {
        var suite = ExperimentSuite()
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                suite.invalid.append(InvalidFile(path: path, message: "\(path): no such file or directory"))
                continue
            }
            if isDirectory.boolValue {
                files += Self.yamlFiles(under: path)
            } else {
                files.append(path)
            }
        }
        var seen = Set<String>()
        var folders = Set<String>()
        for file in files where seen.insert(file).inserted {
            do {
                switch try ExperimentLoader.load(anyKindAt: file) {
                case .experiment(let experiment):
                    var folder = experiment.name
                    var suffix = 2
                    while !folders.insert(folder).inserted {
                        folder = "\(experiment.name)-\(suffix)"
                        suffix += 1
                    }
                    suite.entries.append(Entry(path: file, experiment: experiment, folder: folder))
                case .topology:
                    suite.skippedTopologies.append(file)
                }
            } catch {
                suite.invalid.append(InvalidFile(path: file, message: error.description))
            }
        }
        return suite
    }

    /// `*.yaml` and `*.yml` below `folder`, sorted.
    private static func yamlFiles(under folder: String) -> [String] {
        var prefix = folder
        while prefix.count > 1 && prefix.hasSuffix("/") { prefix.removeLast() }
        let relative = FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String } ?? []
        let files = relative.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        // The current directory's files are named as they are (`a.yaml`, not `./a.yaml`).
        return files.map { prefix == "." ? $0 : prefix == "/" ? "/\($0)" : "\(prefix)/\($0)" }
    }

    /// Runs every experiment at each of `seeds` (nil: its own seed), at most `jobs` at once,
    /// printing one line per run in the suite's order as results come in, then a total line.
    /// Run directories go below `keep` (`keep/NAME/SEED`), else into a temporary folder that
    /// is removed at the end.
    func run(seeds: [UInt64]?, jobs: Int, keep: String?) throws -> [Case] {
        let work = try keep ?? TemporaryDirectory.make("test")
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: work) } }

        let plan = self.entries.indices.flatMap { entry in
            (seeds ?? [self.entries[entry].experiment.seed]).map { (entry: entry, seed: $0) }
        }
        let directories = plan.map { "\(work)/\(self.entries[$0.entry].folder)/\($0.seed)" }
        let jobsToRun = plan.indices.map { index in
            ProcessPool.Job(
                arguments: ["run", self.entries[plan[index].entry].path, "--seed", "\(plan[index].seed)", "--out", directories[index]],
                logPath: "\(directories[index])/run.log"
            )
        }
        let width = (self.entries.map(\.experiment.name.count).max() ?? 0, plan.map { "\($0.seed)".count }.max() ?? 0)
        for file in self.invalid { print("INVALID  \(file.message)") }

        var cases = [Case?](repeating: nil, count: plan.count)
        var printed = 0
        let progress = ProgressLine()
        ProcessPool(jobs: jobs).run(jobsToRun) { completion in
            let step = plan[completion.index]
            cases[completion.index] = Case(
                entry: step.entry, seed: step.seed,
                outcome: Self.outcome(of: completion, directory: directories[completion.index]),
                wallSeconds: completion.wallSeconds
            )
            // Read and done with: a trace can run to hundreds of megabytes.
            if keep == nil { try? FileManager.default.removeItem(atPath: directories[completion.index]) }
            progress.clear()
            while printed < cases.count, let done = cases[printed] {
                for line in self.lines(done, width: width) { print(line) }
                printed += 1
            }
            fflush(nil)
            if printed < cases.count {
                progress.redraw("\(ProgressLine.bar(done: cases.count { $0 != nil }, total: cases.count))  \(cases.count { $0 != nil })/\(cases.count) runs")
            }
        }
        progress.clear()
        let finished = cases.compactMap { $0 }
        print(Self.totalLine(finished, invalidFiles: self.invalid.count, skipped: self.skippedTopologies.count, wallSeconds: progress.elapsedSeconds))
        return finished
    }

    /// The run's verdict from its exit status and the `report.json` it wrote.
    static func outcome(of completion: ProcessPool.Completion, directory: String) -> Outcome {
        let log = (try? String(contentsOfFile: "\(directory)/run.log", encoding: .utf8)) ?? ""
        let tail = String(log.trimmingCharacters(in: .whitespacesAndNewlines).suffix(2000))
        if completion.signalled {
            return .error("the run crashed (signal \(completion.status))" + (tail.isEmpty ? "" : ": \(tail)"))
        }
        switch completion.status {
        case ExitStatus.passed, ExitStatus.expectationFailed:
            guard let data = FileManager.default.contents(atPath: "\(directory)/report.json"),
                let report = try? JSONDecoder().decode(Report.self, from: data)
            else { return .error("the run exited with status \(completion.status) but left no readable report.json in \(directory)") }
            guard report.passed == (completion.status == ExitStatus.passed) else {
                return .error("the run exited with status \(completion.status) but its report says passed: \(report.passed)")
            }
            return report.passed ? .passed(report) : .failed(report)
        case 127:
            return .error("could not start \(ProcessPool.selfExecutable()): \(tail)")
        default:
            return .error(tail.isEmpty ? "the run exited with status \(completion.status)" : tail)
        }
    }

    /// The exit status of a suite: 2 when a file was invalid or a run ended without a report
    /// (the suite did not run all it names, so its passes prove less than a failure says), else
    /// 1 when an expectation failed, else 0.
    func exitStatus(_ cases: [Case]) -> Int32 {
        let errors = cases.contains { if case .error = $0.outcome { true } else { false } }
        if errors || !self.invalid.isEmpty { return ExitStatus.invalidInput }
        let failed = cases.contains { if case .failed = $0.outcome { true } else { false } }
        return failed ? ExitStatus.expectationFailed : ExitStatus.passed
    }

    /// `crosswind run FILE --seed S`.
    func replayCommand(_ run: Case) -> String {
        SweepSummary.replayCommand(file: self.entries[run.entry].path, seed: run.seed)
    }

    /// The failed expectations of a run with what was observed, one per line.
    static func failedExpectations(_ report: Report) -> [String] {
        report.expectations.filter { !$0.passed }.map { "\($0.text)  (observed: \($0.observed))" }
    }

    /// The lines of one run; `width` aligns the names and the seeds in columns.
    private func lines(_ run: Case, width: (name: Int, seed: Int)) -> [String] {
        let name = self.entries[run.entry].experiment.name.padding(toLength: width.name, withPad: " ", startingAt: 0)
        let seed = "\(run.seed)".padding(toLength: width.seed, withPad: " ", startingAt: 0)
        let head = "\(name)  seed \(seed)  \(String(format: "%.2f", run.wallSeconds)) s"
        switch run.outcome {
        case .passed:
            return ["PASS     \(head)"]
        case .failed(let report):
            return ["FAIL     \(head)"] + Self.failedExpectations(report).map { "         \($0)" }
                + ["         reproduce: \(self.replayCommand(run))"]
        case .error(let message):
            return ["ERROR    \(head)"] + message.split(separator: "\n").map { "         \($0)" }
        }
    }

    private static func totalLine(_ cases: [Case], invalidFiles: Int, skipped: Int, wallSeconds: Double) -> String {
        var passed = 0
        var failed = 0
        var errors = 0
        for run in cases {
            switch run.outcome {
            case .passed: passed += 1
            case .failed: failed += 1
            case .error: errors += 1
            }
        }
        var parts = ["\(passed) passed", "\(failed) failed"]
        if errors > 0 { parts.append("\(errors) without a report") }
        if invalidFiles > 0 { parts.append("\(invalidFiles) invalid \(invalidFiles == 1 ? "file" : "files")") }
        if skipped > 0 { parts.append("\(skipped) topology \(skipped == 1 ? "file" : "files") skipped") }
        let verdict = failed + errors + invalidFiles == 0 ? "passed" : "FAILED"
        return "total    \(cases.count) runs in \(String(format: "%.2f", wallSeconds)) s: \(parts.joined(separator: ", ")); \(verdict)"
    }
}
