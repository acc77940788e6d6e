import ArgumentParser
import CrosswindReport
import CrosswindTestbed
import NIOCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `bench --mode live`: `crosswind serve` and `crosswind load` as two processes on loopback,
/// the seed's workload, per transport; the load's report (latency against the publish
/// schedule, delivery) plus the CPU seconds and peak RSS of each process. With `--peer`, a
/// peer server takes `serve`'s place every other round, under the same load generator.
extension Bench {
    /// What one process used: CPU seconds (user + system) and peak resident set.
    struct ProcessFigures: Codable {
        var cpuSeconds: Double
        var peakRSSMiB: Double
    }

    /// One live measurement: a server process and a load process.
    struct LiveFigures: Codable {
        var mode = "live"
        var variant: String
        var transport: String
        /// `crosswind serve` or the peer's file name.
        var server: String
        var round: Int
        var serverLoops: Int?
        var loadThreads: Int
        var clients: Int
        var ratePerSecond: Double
        var messageBytes: Int
        var durationSeconds: Int
        var knobs: String
        var report: Report
        var load: ProcessFigures
        var serve: ProcessFigures
        var latencyCDF: [LatencyPoint]
    }

    /// A server under test: `crosswind serve`, or a peer executable.
    enum LiveServer {
        case crosswind
        case peer(String)

        var name: String {
            switch self {
            case .crosswind: return "crosswind serve"
            case .peer(let path): return URL(fileURLWithPath: path).lastPathComponent
            }
        }
    }

    func runLive() throws {
        raiseFileLimit()
        let executable = try selfExecutable()
        var variants: [(label: String, transport: String, knobs: String)] = []
        switch self.transport {
        case "websocket": variants = [("websocket", "websocket", "heartbeat 25 s")]
        case "sse": variants = [("sse", "sse", "prelude 2 KiB, comment heartbeat 25 s, recycle 128 KiB / 10 min")]
        case "sync": variants = [("sync-longpoll", "sync", "long-poll hold 25 s, batch 50")]
        case "all":
            variants = [
                ("websocket", "websocket", "heartbeat 25 s"), ("sse", "sse", "prelude 2 KiB, comment heartbeat 25 s, recycle 128 KiB / 10 min"),
                ("sync-longpoll", "sync", "long-poll hold 25 s, batch 50"),
            ]
        default:
            printError("bench --transport \(self.transport): expected websocket, sse, sync or all")
            throw ExitCode(ExitStatus.invalidInput)
        }
        if let peer = self.peer {
            guard self.transport == "websocket" else {
                printError("bench --peer: the peer serves WebSocket only; pass --transport websocket")
                throw ExitCode(ExitStatus.invalidInput)
            }
            guard FileManager.default.isExecutableFile(atPath: peer) else {
                printError("bench --peer \(peer): not an executable file")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }
        let out = try self.out ?? temporaryDirectoryPath("crosswind-bench-live")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        var all: [LiveFigures] = []
        for variant in variants {
            let servers: [LiveServer] = self.peer.map { [.crosswind, .peer($0)] } ?? [.crosswind]
            for round in 1...(self.peer == nil ? 1 : self.rounds) {
                for server in servers {
                    let figures = try self.measureLive(
                        server: server, executable: executable, variant: variant.label, transport: variant.transport, knobs: variant.knobs,
                        round: round, out: out
                    )
                    self.printLiveBlock(figures)
                    all.append(figures)
                }
            }
        }
        print("")
        print("| server | transport | round | delivered | latency avg / p50 / p95 / p99 / max ms | delivered msg/s | load CPU s, peak RSS | server CPU s, peak RSS |")
        print("|---|---|---|---|---|---|---|---|")
        for f in all {
            let r = f.report
            print(
                String(
                    format: "| %@ | %@ | %d | %d / %d | %.1f / %.1f / %.1f / %.1f / %.1f | %.0f | %.2f s, %.0f MiB | %.2f s, %.0f MiB |",
                    f.server, f.variant, f.round, r.messages.delivered, r.messages.offered, r.latencyMs.avg, r.latencyMs.p50, r.latencyMs.p95,
                    r.latencyMs.p99, r.latencyMs.max, r.throughputMsgPerSec, f.load.cpuSeconds, f.load.peakRSSMiB, f.serve.cpuSeconds, f.serve.peakRSSMiB
                )
            )
        }
        if self.peer != nil { self.printPeerRatios(all) }
        try RunOutput.encode(all).write(to: URL(fileURLWithPath: "\(out)/bench.json"))
        print("\nbench.json, each run's report.json, latency.csv and server log: \(out)")
        if !all.allSatisfy(\.report.passed) { throw ExitCode(ExitStatus.expectationFailed) }
    }

    /// Starts the server, runs the load against it to the end, reads the server's CPU time and
    /// peak RSS from /proc while it still runs, then stops it.
    private func measureLive(
        server: LiveServer, executable: String, variant: String, transport: String, knobs: String, round: Int, out: String
    ) throws -> LiveFigures {
        let name = "\(variant)-\(server.name.replacingOccurrences(of: " ", with: "-"))-\(round)"
        let directory = "\(out)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The demo message is about 84 bytes of JSON before its padding.
        let padding = max(0, self.size - 84)
        var serverArguments = ["--port", "0", "--rate", String(self.rate), "--padding", String(padding)]
        let launched: (process: Process, port: Int)
        switch server {
        case .crosswind:
            serverArguments = ["serve", "--host", "127.0.0.1"] + serverArguments
            if let loops = self.loops { serverArguments += ["--loops", String(loops)] }
            launched = try launchServer(executable, serverArguments, log: "\(directory)/server.log")
        case .peer(let path):
            launched = try launchServer(path, serverArguments, log: "\(directory)/server.log")
        }
        defer { stopChild(launched.process) }
        let load = Process()
        load.executableURL = URL(fileURLWithPath: executable)
        load.arguments = [
            "load", "http://127.0.0.1:\(launched.port)", "--clients", String(self.clients), "--duration", String(self.duration),
            "--transport", transport, "--threads", String(self.threads), "--seed", String(self.seed), "--out", directory,
        ]
        load.standardOutput = try FileHandle(forWritingTo: createEmptyFile("\(directory)/load.txt"))
        load.standardError = load.standardOutput
        try load.run()
        load.waitUntilExit()
        let serveFigures = try processFigures(pid: launched.process.processIdentifier)
        guard let data = FileManager.default.contents(atPath: "\(directory)/report.json") else {
            printError("bench --mode live: crosswind load wrote no report (exit \(load.terminationStatus)); see \(directory)/load.txt")
            throw ExitCode(ExitStatus.expectationFailed)
        }
        let report = try JSONDecoder().decode(Report.self, from: data)
        let cdf = (try? String(contentsOfFile: "\(directory)/latency.csv", encoding: .utf8)).map(parseCDF) ?? []
        return LiveFigures(
            variant: variant, transport: transport, server: server.name, round: round,
            serverLoops: { if case .crosswind = server { return self.loops ?? System.coreCount } else { return nil } }(),
            loadThreads: self.threads, clients: self.clients, ratePerSecond: self.rate, messageBytes: self.size, durationSeconds: self.duration,
            knobs: knobs, report: report,
            load: ProcessFigures(cpuSeconds: report.resources?.cpuSeconds ?? 0, peakRSSMiB: report.resources?.peakRSSMiB ?? 0),
            serve: serveFigures, latencyCDF: cdf
        )
    }

    private func printLiveBlock(_ f: LiveFigures) {
        let r = f.report
        let loops = f.serverLoops.map { " (\($0) loops)" } ?? ""
        print("bench  mode live  server \(f.server)\(loops)  transport \(f.variant)  round \(f.round)  clients \(f.clients)  rate \(f.ratePerSecond)/s  size \(f.messageBytes) B  duration \(f.durationSeconds) s")
        print("  knobs      loopback, load threads \(f.loadThreads); \(f.knobs)")
        print("  clients    \(r.clients.connected)/\(r.clients.total) connected")
        print("  messages   offered \(r.messages.offered)  delivered \(r.messages.delivered)  lost \(r.messages.lost)  duplicated \(r.messages.duplicated)")
        print("  latency ms avg \(r.latencyMs.avg)  p50 \(r.latencyMs.p50)  p95 \(r.latencyMs.p95)  p99 \(r.latencyMs.p99)  max \(r.latencyMs.max)")
        print(String(format: "  load       %.2f CPU s, peak RSS %.0f MiB", f.load.cpuSeconds, f.load.peakRSSMiB))
        print(String(format: "  server     %.2f CPU s, peak RSS %.0f MiB", f.serve.cpuSeconds, f.serve.peakRSSMiB))
    }

    /// Medians over the rounds, crosswind serve against the peer.
    private func printPeerRatios(_ all: [LiveFigures]) {
        func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }
        let ours = all.filter { $0.server == LiveServer.crosswind.name }
        let theirs = all.filter { $0.server != LiveServer.crosswind.name }
        guard let peerName = theirs.first?.server else { return }
        let p99 = (median(ours.map(\.report.latencyMs.p99)), median(theirs.map(\.report.latencyMs.p99)))
        let rate = (median(ours.map(\.report.throughputMsgPerSec)), median(theirs.map(\.report.throughputMsgPerSec)))
        let cpu = (median(ours.map(\.serve.cpuSeconds)), median(theirs.map(\.serve.cpuSeconds)))
        let rss = (median(ours.map(\.serve.peakRSSMiB)), median(theirs.map(\.serve.peakRSSMiB)))
        print("")
        print("crosswind serve / \(peerName), medians of \(ours.count) rounds each (below 1: crosswind serve uses less):")
        print(String(format: "  p99 latency     %.1f ms / %.1f ms = %.2f", p99.0, p99.1, p99.0 / max(p99.1, 0.001)))
        print(String(format: "  delivered msg/s %.0f / %.0f = %.2f (above 1: crosswind serve delivered more)", rate.0, rate.1, rate.0 / max(rate.1, 0.001)))
        print(String(format: "  server CPU s    %.2f / %.2f = %.2f", cpu.0, cpu.1, cpu.0 / max(cpu.1, 0.001)))
        print(String(format: "  server peak RSS %.0f MiB / %.0f MiB = %.2f", rss.0, rss.1, rss.0 / max(rss.1, 0.001)))
    }
}

/// This executable's path (the children are the same build).
private func selfExecutable() throws -> String {
    let resolved = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    guard FileManager.default.isExecutableFile(atPath: resolved) else {
        printError("bench --mode live: cannot find this executable (\(resolved))")
        throw ExitCode(ExitStatus.invalidInput)
    }
    return resolved
}

/// Raises the open-file limit to the hard limit; the server and load processes inherit it
/// (1000 clients are 1000 sockets on each side).
func raiseFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

private func temporaryDirectoryPath(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "\(label)-\(getpid())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func createEmptyFile(_ path: String) -> URL {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    return URL(fileURLWithPath: path)
}

/// Starts a server and reads its port from its first line (`…127.0.0.1:PORT…`); its standard
/// error goes to `log`, and its later standard output is read and dropped.
private func launchServer(_ executable: String, _ arguments: [String], log: String) throws -> (process: Process, port: Int) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: createEmptyFile(log))
    try process.run()
    var line = Data()
    while true {
        let byte = output.fileHandleForReading.readData(ofLength: 1)
        if byte.isEmpty || byte == Data("\n".utf8) { break }
        line.append(byte)
    }
    output.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    let text = String(decoding: line, as: UTF8.self)
    guard let match = text.firstMatch(of: /127\.0\.0\.1:(\d+)/), let port = Int(match.1) else {
        stopChild(process)
        printError("bench --mode live: \(executable) did not start: '\(text)' (see \(log))")
        throw ExitCode(ExitStatus.invalidInput)
    }
    return (process, port)
}

/// SIGTERM, then SIGKILL after two seconds.
private func stopChild(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    for _ in 0..<40 where process.isRunning { usleep(50_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
}

/// CPU seconds and peak RSS of a running process, from /proc (Linux).
private func processFigures(pid: Int32) throws -> Bench.ProcessFigures {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else {
        printError("bench --mode live: the server (pid \(pid)) stopped before the load ended")
        throw ExitCode(ExitStatus.expectationFailed)
    }
    // After the command name: state is field 3, utime 14 and stime 15 (clock ticks).
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    let cpu = ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
    let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        .flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
    return Bench.ProcessFigures(cpuSeconds: (cpu * 100).rounded() / 100, peakRSSMiB: (hwm / 1024 * 10).rounded() / 10)
}

/// Reads `percentile,latencyMs` lines.
private func parseCDF(_ text: String) -> [LatencyPoint] {
    text.split(separator: "\n").dropFirst().compactMap { line in
        let parts = line.split(separator: ",")
        guard parts.count == 2, let percentile = Double(parts[0]), let latency = Double(parts[1]) else { return nil }
        return LatencyPoint(percentile: percentile, latencyMs: latency)
    }
}
