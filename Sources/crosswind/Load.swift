import ArgumentParser
import CrosswindLive
import CrosswindTransport
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A population of Swift clients (the manager over real sockets) against a running crosswind serve."
    )

    @Argument(help: "The server, e.g. http://127.0.0.1:8080")
    var url: String
    @Option(help: "Number of clients.")
    var clients = 100
    @Option(help: "Measured seconds (after the ramp-up).")
    var duration = 10
    @Option(help: "websocket, sse, sync, or auto (start on WebSocket and fall back).")
    var transport = "websocket"
    @Option(help: "Seconds after the window in which messages still in flight count (a buffering proxy delays them).")
    var drain = 1
    @Option(help: "Event-loop threads for the clients.")
    var threads = 2
    @Option(help: "Directory for report.json.")
    var out: String?

    func run() throws {
        guard let components = URLComponents(string: self.url), let host = components.host, let port = components.port ?? (components.scheme == "http" ? 80 : nil) else {
            printError("load: expected a URL like http://127.0.0.1:8080")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.clients > 0, self.duration > 0, self.threads > 0, self.drain >= 0 else {
            printError("load: clients, duration and threads must be positive, drain not negative")
            throw ExitCode(ExitStatus.invalidInput)
        }
        var configuration = LoadGenerator.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.clients = self.clients
        configuration.duration = .seconds(Int64(self.duration))
        configuration.threads = self.threads
        configuration.drain = .seconds(Int64(self.drain))
        switch self.transport {
        case "auto": configuration.method = .websocket; configuration.fallback = true
        case let name:
            guard let method = TransportMethod(rawValue: name) else {
                printError("load --transport \(name): expected websocket, sse, sync or auto")
                throw ExitCode(ExitStatus.invalidInput)
            }
            configuration.method = method
        }
        let result = try LoadGenerator(configuration: configuration).run()
        let (cpuSeconds, peakMiB) = (cpuSecondsUsed(), peakResidentMiB())

        func percentile(_ p: Double) -> Double {
            guard !result.latenciesMicros.isEmpty else { return 0 }
            let index = min(result.latenciesMicros.count - 1, Int((p / 100 * Double(result.latenciesMicros.count)).rounded(.up)) - 1)
            return Double(result.latenciesMicros[max(index, 0)]) / 1000
        }
        let average = result.latenciesMicros.isEmpty ? 0 : Double(result.latenciesMicros.reduce(0, +)) / Double(result.latenciesMicros.count) / 1000
        let maximum = Double(result.latenciesMicros.last ?? 0) / 1000
        let report: [String: Any] = [
            "experiment": "load \(self.url) \(self.transport)",
            "clients": ["total": result.clients, "connected": result.connected, "byTransport": result.byTransport],
            "messages": ["offered": result.offered, "delivered": result.delivered, "lost": max(result.offered - result.delivered, 0), "duplicated": result.duplicated, "reordered": result.reordered],
            "latencyMs": ["avg": average, "p50": percentile(50), "p95": percentile(95), "p99": percentile(99), "max": maximum],
            "throughputMsgPerSec": Double(result.delivered) / result.seconds,
            "connectionSuccessRate": Double(result.connected) / Double(result.clients),
            "resources": ["cpuSeconds": cpuSeconds, "peakRSSMiB": peakMiB],
            "switches": result.switches.map { change -> [String: Any] in
                var entry: [String: Any] = ["client": change.client, "atMs": change.atMs, "to": change.to.rawValue, "reason": change.reason.rawValue]
                if let from = change.from { entry["from"] = from.rawValue }
                return entry
            },
            "endedOn": result.outcomes.map { ["client": $0.client, "transport": $0.transport?.rawValue ?? NSNull()] as [String: Any] },
        ]
        print("load  \(self.url)  transport \(self.transport)  clients \(result.clients)  measured \(String(format: "%.1f", result.seconds)) s")
        print("  clients     \(result.connected)/\(result.clients) connected; open at end: \(result.byTransport.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("  messages    offered \(result.offered)  delivered \(result.delivered)  lost \(max(result.offered - result.delivered, 0))  duplicated \(result.duplicated)  reordered \(result.reordered)")
        for line in Self.switchSummary(result.switches) { print("  switches    \(line)") }
        print(String(format: "  latency ms  avg %.3f  p50 %.3f  p95 %.3f  p99 %.3f  max %.3f  (against the publish schedule)", average, percentile(50), percentile(95), percentile(99), maximum))
        print(String(format: "  resources   %.2f CPU s, peak RSS %.0f MiB (this process)", cpuSeconds, peakMiB))
        if let out = self.out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: "\(out)/report.json"))
        }
    }

    /// One line per kind of switch (`from → to reason`): how many clients made it and how
    /// long after their own start, e.g. `websocket → sse fallbackConnectRefused: 5 clients
    /// after 12.3…40.1 ms`.
    static func switchSummary(_ switches: [LoadGenerator.Switch]) -> [String] {
        var started: [String: Double] = [:]
        var kinds: [String] = []
        var delays: [String: [Double]] = [:]
        for change in switches {
            guard let from = change.from else {
                started[change.client] = change.atMs
                continue
            }
            let kind = "\(from.rawValue) → \(change.to.rawValue) \(change.reason.rawValue)"
            if delays[kind] == nil { kinds.append(kind) }
            delays[kind, default: []].append(change.atMs - (started[change.client] ?? 0))
        }
        return kinds.map { kind in
            let values = delays[kind]!
            return String(format: "%@: %d after %.1f…%.1f ms", kind, values.count, values.min()!, values.max()!)
        }
    }
}
