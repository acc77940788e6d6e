import ArgumentParser
import CrosswindExperiment
import CrosswindTestbed
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seed workload (clients x rate x size x duration) and report speed and memory."
    )

    @Option(help: "sim (virtual network, this version) or live.")
    var mode = "sim"
    @Option(help: "websocket (this version), sse, sync or all.")
    var transport = "websocket"
    @Option(help: "Number of clients.")
    var clients = 1000
    @Option(help: "Messages per second to each client.")
    var rate: Double = 10
    @Option(help: "Message size in bytes.")
    var size = 1024
    @Option(help: "Publishing duration in seconds of virtual time.")
    var duration = 60
    @Option(help: "Seed.")
    var seed: UInt64 = 1
    @Option(help: "Directory for bench.json.")
    var out: String?
    @Option(name: .customLong("repeat"), help: "Run this many times and report the fastest and the median wall time (shared machines are noisy).")
    var repetitions = 1

    func run() throws {
        guard self.mode == "sim" else {
            printError("bench --mode \(self.mode): only 'sim' is available in this version")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.transport == "websocket" else {
            printError("bench --transport \(self.transport): only 'websocket' is available in this version")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.clients > 0, self.rate > 0, self.size > 1, self.duration > 0, self.repetitions > 0 else {
            printError("bench: clients, rate, size, duration and repeat must be positive")
            throw ExitCode(ExitStatus.invalidInput)
        }
        var parameters = SimulationBenchmark.Parameters()
        parameters.clients = self.clients
        parameters.ratePerSecond = self.rate
        parameters.messageBytes = self.size
        parameters.duration = .seconds(Int64(self.duration))
        parameters.seed = self.seed
        let experiment = SimulationBenchmark.experiment(parameters)

        let clock = ContinuousClock()
        var walls: [Double] = []
        var setups: [Double] = []
        var lastResult: RunResult?
        for _ in 0..<self.repetitions {
            let started = clock.now
            let run = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false))
            let built = clock.now
            let result = run.execute()
            let finished = clock.now
            walls.append(seconds(finished - started))
            setups.append(seconds(built - started))
            if let previous = lastResult, previous.digest != result.digest {
                printError("bench: repetitions disagree (digest \(previous.digest) vs \(result.digest))")
                throw ExitCode(ExitStatus.diverged)
            }
            lastResult = result
        }
        let result = lastResult!
        let sorted = walls.sorted()
        let wall = sorted[0]
        let median = sorted[sorted.count / 2]
        let setup = setups.min()!
        let virtual = result.report.simulation.virtualSeconds
        let peakMiB = peakResidentMiB()

        let r = result.report
        print("bench  mode sim  transport websocket  clients \(self.clients)  rate \(self.rate)/s  size \(self.size) B  duration \(self.duration) s  seed \(self.seed)")
        print("  knobs      link 1 ms each way, no loss; TCP model on (MSS 1460, RTO min 200 ms); heartbeat 25 s")
        print("  messages   offered \(r.messages.offered)  delivered \(r.messages.delivered)  lost \(r.messages.lost)  duplicated \(r.messages.duplicated)")
        print("  latency ms avg \(r.latencyMs.avg)  p50 \(r.latencyMs.p50)  p95 \(r.latencyMs.p95)  p99 \(r.latencyMs.p99)  max \(r.latencyMs.max)")
        print("  wire       \(String(format: "%.0f", r.bandwidthBytesPerSec)) B/s  (\(r.wire.packets) packets)")
        print("  events     \(r.simulation.events)")
        if self.repetitions > 1 {
            print(String(format: "  wall       best %.2f s, median %.2f s of %d runs (set-up %.2f s) for %.0f s virtual: %.1fx (best), %.1fx (median) real time", wall, median, self.repetitions, setup, virtual, virtual / wall, virtual / median))
        } else {
            print(String(format: "  wall       %.2f s (set-up %.2f s) for %.0f s virtual: %.1fx real time", wall, setup, virtual, virtual / wall))
        }
        print(String(format: "  memory     peak RSS %.0f MiB", peakMiB))
        if let out = self.out {
            struct BenchFigures: Codable {
                var mode: String
                var transport: String
                var clients: Int
                var ratePerSecond: Double
                var messageBytes: Int
                var durationSeconds: Int
                var wallSeconds: Double
                var medianWallSeconds: Double
                var repetitions: Int
                var virtualSeconds: Double
                var speedup: Double
                var peakRSSMiB: Double
                var events: Int
                var report: Report
            }
            let figures = BenchFigures(
                mode: "sim", transport: "websocket", clients: self.clients, ratePerSecond: self.rate,
                messageBytes: self.size, durationSeconds: self.duration, wallSeconds: wall,
                medianWallSeconds: median, repetitions: self.repetitions,
                virtualSeconds: virtual, speedup: virtual / wall, peakRSSMiB: peakMiB,
                events: r.simulation.events, report: r
            )
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try RunOutput.encode(figures).write(to: URL(fileURLWithPath: "\(out)/bench.json"))
        }
        if !r.passed { throw ExitCode(ExitStatus.expectationFailed) }
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Peak resident set size of this process (getrusage reports KiB on Linux).
private func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
