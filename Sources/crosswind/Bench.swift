import ArgumentParser
import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seed workload (clients x rate x size x duration) per transport and report speed, latency and memory.",
        discussion: ExitStatus.help([
            (ExitStatus.passed, "every variant connected every client and delivered every message once"),
            (ExitStatus.expectationFailed, "a variant did not (http-floor, ws-floor: an exchange or a frame was not decoded)"),
            (ExitStatus.invalidInput, "invalid input"),
            (ExitStatus.diverged, "a repetition gave another digest than the first"),
        ])
    )

    @Option(help: "sim (the workload over the virtual network), live (crosswind serve and crosswind load as two processes on loopback), http-floor (only NIO's HTTP codecs, one long-poll exchange per message: the ceiling for sync-longpoll) or ws-floor (only NIO's WebSocket frame codecs, one frame per message: the ceiling for websocket).")
    var mode = "sim"
    @Option(help: "websocket, sse, sync (long-poll and interval polling), sync-longpoll, sync-interval or all.")
    var transport = "websocket"
    @Option(help: "Number of clients.")
    var clients = 1000
    @Option(help: "Messages per second to each client.")
    var rate: Double = 10
    @Option(help: "Message size in bytes.")
    var size = 1024
    @Option(help: "Publishing duration in seconds (of virtual time in sim; measured window in live).")
    var duration = 60
    @Option(help: "Custom Sync interval-polling period in milliseconds.")
    var syncInterval = 2000
    @Option(help: "Seed.")
    var seed: UInt64 = 1
    @Option(help: "Directory for bench.json (and per variant latency.csv; live: each process's report and log).")
    var out: String?
    @Option(help: "live: event loops of crosswind serve (default: one per core).")
    var loops: Int?
    @Option(help: "live: event-loop threads of crosswind load.")
    var threads = 2
    @Option(help: ArgumentHelp("live: a peer server to measure beside crosswind serve (WebSocket only), started as `PEER --port 0 --rate R --padding P`; it prints its 127.0.0.1:PORT on its first line.", valueName: "executable"))
    var peer: String?
    @Option(help: "live with --peer: rounds of crosswind serve and the peer, alternating.")
    var rounds = 3
    @Option(name: .customLong("repeat"), help: "Run each variant this many times; report the fastest and the median wall time (shared machines are noisy).")
    var repetitions = 1

    /// One measured variant: a transport (and for Custom Sync, a polling mode).
    struct Figures: Codable {
        var mode = "sim"
        var variant: String
        var transport: String
        var clients: Int
        var ratePerSecond: Double
        var messageBytes: Int
        var durationSeconds: Int
        var knobs: String
        var wallSeconds: Double
        var medianWallSeconds: Double
        var repetitions: Int
        var virtualSeconds: Double
        var speedup: Double
        var peakRSSMiB: Double
        var events: Int
        var report: Report
        /// The latency CDF from the whole histogram.
        var latencyCDF: [LatencyPoint]
    }

    func run() throws {
        guard ["sim", "live", "http-floor", "ws-floor"].contains(self.mode) else {
            printError("bench --mode \(self.mode): expected sim, live, http-floor or ws-floor")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.clients > 0, self.rate > 0, self.size > 1, self.duration > 0, self.repetitions > 0, self.syncInterval > 0,
            self.threads > 0, self.rounds > 0, (self.loops ?? 1) > 0
        else {
            printError("bench: clients, rate, size, duration, sync-interval, repeat, threads, rounds and loops must be positive")
            throw ExitCode(ExitStatus.invalidInput)
        }
        if self.mode == "live" { return try self.runLive() }
        var base = SimulationBenchmark.Parameters()
        base.clients = self.clients
        base.ratePerSecond = self.rate
        base.messageBytes = self.size
        base.duration = .seconds(Int64(self.duration))
        base.seed = self.seed
        base.syncInterval = .milliseconds(Int64(self.syncInterval))
        if self.mode == "http-floor" || self.mode == "ws-floor" { return try self.runCodecFloor(base) }

        var variants: [(String, SimulationBenchmark.Parameters, String)] = []
        func add(_ kind: TransportMethod) {
            var parameters = base
            parameters.transport = kind
            switch kind {
            case .websocket:
                variants.append(("websocket", parameters, "heartbeat 25 s"))
            case .sse:
                variants.append(("sse", parameters, "prelude 2 KiB, comment heartbeat 25 s, recycle 128 KiB / 10 min"))
            case .sync:
                parameters.syncLongPoll = .seconds(25)
                variants.append(("sync-longpoll", parameters, "long-poll hold 25 s, batch 50"))
                parameters.syncLongPoll = .zero
                variants.append(("sync-interval", parameters, "interval \(self.syncInterval) ms, batch 50"))
            }
        }
        switch self.transport {
        case "all": TransportMethod.allCases.forEach(add)
        case "sync-longpoll", "sync-interval":
            add(.sync)
            variants.removeAll { $0.0 != self.transport }
        case let name:
            guard let kind = TransportMethod(rawValue: name) else {
                printError("bench --transport \(name): expected websocket, sse, sync, sync-longpoll, sync-interval or all")
                throw ExitCode(ExitStatus.invalidInput)
            }
            add(kind)
        }

        var all: [Figures] = []
        for (label, parameters, knobs) in variants {
            let figures = try self.measure(label: label, parameters: parameters, knobs: knobs)
            self.printBlock(figures)
            all.append(figures)
        }
        if all.count > 1 { self.printTable(all) }
        if let out = self.out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try RunOutput.encode(all).write(to: URL(fileURLWithPath: "\(out)/bench.json"))
            for figures in all {
                try LatencyPoint.csv(figures.latencyCDF).write(toFile: "\(out)/latency-\(figures.variant).csv", atomically: true, encoding: .utf8)
            }
        }
        if !all.allSatisfy(\.report.passed) { throw ExitCode(ExitStatus.expectationFailed) }
    }

    /// `--mode http-floor`: as many HTTP exchanges as the workload has messages (a long-poll
    /// client gets one message per response at this rate), through NIO's codecs alone.
    /// `--mode ws-floor`: as many WebSocket frames, through NIO's frame encoder and decoder alone.
    private func runCodecFloor(_ parameters: SimulationBenchmark.Parameters) throws {
        let http = self.mode == "http-floor"
        let messages = Int((Double(self.clients) * self.rate * Double(self.duration)).rounded())
        // The simulated run covers the publishing time plus its set-up and drain.
        let workload = SimulationBenchmark.experiment(parameters).workload
        let virtualSeconds = Double((workload.start + workload.duration + workload.drain).nanoseconds) / 1e9
        let size = self.size
        func floor(_ connections: Int) throws -> Int {
            http
                ? try HTTPCodecFloor.run(count: messages, messageBytes: size, connections: connections)
                : try WebSocketCodecFloor.run(count: messages, messageBytes: size, connections: connections)
        }
        // The floor gives each client its own connection, as a run does; one connection,
        // always in the caches, shows what the codecs cost alone.
        let perClient = try self.timeCodecFloor(messages: messages) { try floor(self.clients) }
        let shared = try self.timeCodecFloor(messages: messages) { try floor(1) }
        let unit = http ? "exchange" : "message"
        print("bench  mode \(self.mode)  \(unit)s \(messages) (clients \(self.clients) x rate \(self.rate)/s x \(self.duration) s)  size \(self.size) B")
        print(http
            ? "  codecs     NIO HTTP/1.1 client and server pipelines (defaults), keep-alive, no network model"
            : "  codecs     NIO WebSocket frame encoder and decoder (as the upgraders install them), no network model")
        print(String(format: "  wall       best %.2f s, median %.2f s of %d runs: %.2f us per ", perClient.best, perClient.median, self.repetitions, perClient.best / Double(messages) * 1e6) + "\(unit) (a connection per client: \(self.clients))")
        print(String(format: "  one conn   best %.2f s, median %.2f s of %d runs: %.2f us per ", shared.best, shared.median, self.repetitions, shared.best / Double(messages) * 1e6) + "\(unit) (the codecs alone, always in the caches)")
        let transport = http ? "sync-longpoll (one exchange per message" : "websocket (one frame per message"
        print("  ceiling    \(transport), " + String(format: "%.0f s virtual) can reach at most %.1fx real time", virtualSeconds, virtualSeconds / perClient.best))
    }

    /// Best and median wall time of `--repeat` floor runs; `run` returns what was decoded.
    private func timeCodecFloor(messages: Int, _ run: () throws -> Int) throws -> (best: Double, median: Double) {
        let clock = ContinuousClock()
        var walls: [Double] = []
        for _ in 0..<self.repetitions {
            let started = clock.now
            let decoded = try run()
            walls.append(seconds(clock.now - started))
            guard decoded == messages else {
                printError("bench --mode \(self.mode): \(decoded) of \(messages) decoded")
                throw ExitCode(ExitStatus.expectationFailed)
            }
        }
        return (walls.min()!, walls.sorted()[walls.count / 2])
    }

    private func measure(label: String, parameters: SimulationBenchmark.Parameters, knobs: String) throws -> Figures {
        let experiment = SimulationBenchmark.experiment(parameters)
        let clock = ContinuousClock()
        var walls: [Double] = []
        var lastResult: RunResult?
        for _ in 0..<self.repetitions {
            let started = clock.now
            let run = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false))
            let result = run.execute()
            walls.append(seconds(clock.now - started))
            if let previous = lastResult, previous.digest != result.digest {
                printError("bench: repetitions of \(label) disagree (digest \(previous.digest) vs \(result.digest))")
                throw ExitCode(ExitStatus.diverged)
            }
            lastResult = result
        }
        let report = lastResult!.report
        // A simulated report always has its simulation figures.
        let virtualSeconds = report.simulation?.virtualSeconds ?? 0
        let sorted = walls.sorted()
        return Figures(
            variant: label, transport: parameters.transport.rawValue, clients: parameters.clients,
            ratePerSecond: parameters.ratePerSecond, messageBytes: parameters.messageBytes,
            durationSeconds: self.duration, knobs: knobs, wallSeconds: sorted[0],
            medianWallSeconds: sorted[sorted.count / 2], repetitions: self.repetitions,
            virtualSeconds: virtualSeconds, speedup: virtualSeconds / sorted[0],
            peakRSSMiB: peakResidentMiB(), events: report.simulation?.events ?? 0, report: report,
            latencyCDF: LatencyPoint.cdf(of: lastResult!.latency)
        )
    }

    private func printBlock(_ f: Figures) {
        let r = f.report
        print("bench  mode sim  transport \(f.variant)  clients \(f.clients)  rate \(f.ratePerSecond)/s  size \(f.messageBytes) B  duration \(f.durationSeconds) s  seed \(self.seed)")
        print("  knobs      link 1 ms each way, no loss; TCP model on (MSS 1460, RTO min 200 ms); \(f.knobs)")
        print("  messages   offered \(r.messages.offered)  delivered \(r.messages.delivered)  lost \(r.messages.lost)  duplicated \(r.messages.duplicated)")
        print("  latency ms avg \(r.latencyMs.avg)  p50 \(r.latencyMs.p50)  p95 \(r.latencyMs.p95)  p99 \(r.latencyMs.p99)  max \(r.latencyMs.max)")
        print("  wire       \(String(format: "%.0f", r.bandwidthBytesPerSec)) B/s  (\(r.wire.packets ?? 0) packets)")
        print("  events     \(f.events)")
        if f.repetitions > 1 {
            print(String(format: "  wall       best %.2f s, median %.2f s of %d runs for %.0f s virtual: %.1fx (best), %.1fx (median) real time", f.wallSeconds, f.medianWallSeconds, f.repetitions, f.virtualSeconds, f.speedup, f.virtualSeconds / f.medianWallSeconds))
        } else {
            print(String(format: "  wall       %.2f s for %.0f s virtual: %.1fx real time", f.wallSeconds, f.virtualSeconds, f.speedup))
        }
        print(String(format: "  memory     peak RSS %.0f MiB (process so far)", f.peakRSSMiB))
    }

    /// The seed analysis's table, per transport, with the knobs it was measured with.
    private func printTable(_ all: [Figures]) {
        print("")
        print("| transport | delivered | latency avg ms | p95 ms | p99 ms | wire MB/s | wall s (best) | x real time | knobs |")
        print("|---|---|---|---|---|---|---|---|---|")
        for f in all {
            let r = f.report
            let delivery = r.messages.offered == 0 ? 0 : Double(r.messages.delivered) / Double(r.messages.offered) * 100
            print(String(format: "| %@ | %.3f %% | %.1f | %.1f | %.1f | %.2f | %.2f | %.1f | %@ |", f.variant, delivery, r.latencyMs.avg, r.latencyMs.p95, r.latencyMs.p99, r.bandwidthBytesPerSec / 1e6, f.wallSeconds, f.speedup, f.knobs))
        }
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

