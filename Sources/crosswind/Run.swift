import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment over the virtual network and check its expectations."
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

/// The short human summary on standard output.
enum Summary {
    static func print(_ report: Report, wall: Duration, directory: String?) {
        let out = { (line: String) in Swift.print(line) }
        out("\(report.experiment)  seed \(report.seed)")
        let transports = report.clients.byTransport.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out("  clients     \(report.clients.connected)/\(report.clients.total) connected; open at end: \(transports)")
        let m = report.messages
        out("  messages    offered \(m.offered)  delivered \(m.delivered)  lost \(m.lost)  duplicated \(m.duplicated)  reordered \(m.reordered)")
        let l = report.latencyMs
        out("  latency ms  avg \(l.avg)  p50 \(l.p50)  p95 \(l.p95)  p99 \(l.p99)  max \(l.max)")
        let w = report.wire
        out("  wire        up \(w.bytesUp) B  down \(w.bytesDown) B  packets \(w.packets)  dropped \(w.packetsDropped)  retransmitted \(w.retransmissions)")
        let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        out("  simulated   \(report.simulation.virtualSeconds) s in \(String(format: "%.2f", seconds)) s wall, \(report.simulation.events) events")
        out("  digest      \(report.digest)")
        for expectation in report.expectations {
            out("  \(expectation.passed ? "PASS" : "FAIL")  \(expectation.text)  (\(expectation.observed))")
        }
        if let directory { out("  output      \(directory)") }
        out(report.passed ? "passed" : "FAILED")
    }
}
