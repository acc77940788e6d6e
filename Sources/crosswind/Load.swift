import ArgumentParser
import CrosswindExperiment
import CrosswindLive
import CrosswindReport
import CrosswindTLS
import CrosswindTestbed
import CrosswindTransport
import Foundation
import NIOCore

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A population of Swift clients (the manager over real sockets) against a running crosswind serve.",
        discussion: ExitStatus.help(
            [
                (ExitStatus.passed, "every expectation held"),
                (ExitStatus.expectationFailed, "an expectation failed (without --expect: a client did not connect, or a message was lost)"),
                (ExitStatus.invalidInput, "invalid input (a bad URL, option or --expect file)"),
            ],
            after: """
                Writes the same report.json as a simulated run (digest `live`). With --expect, the \
                expectations of an experiment file are checked against the live run; without it, \
                every client must connect and receive every message.
                """
        )
    )

    @Argument(help: "The server, e.g. http://127.0.0.1:8080 (https://… speaks TLS, as --tls does)")
    var url: String
    @Flag(help: "Speak TLS (https, wss) to the server, checking its certificate: signed by a trusted CA (--ca, else the system's) and naming the URL's host.")
    var tls = false
    @Option(help: ArgumentHelp("PEM certificates of the CA(s) to trust for TLS instead of the system's.", valueName: "file"))
    var ca: String?
    @Option(help: "Number of clients.")
    var clients = 100
    @Option(help: "An access token every client presents (for a serve started with a token secret).")
    var token: String?
    @OptionGroup var tokenSecret: TokenSecretOptions
    @Option(help: "With a token secret: seconds each token minted at a connection attempt lives.")
    var tokenTTL = 300
    @Option(help: "Measured seconds (after the ramp-up).")
    var duration = 10
    @Option(help: "websocket, sse, sync, or auto (start on WebSocket and fall back).")
    var transport = "websocket"
    @Option(help: "Seconds after the window in which messages still in flight count (a buffering proxy delays them).")
    var drain = 1
    @Option(help: "Seconds over which the clients start, evenly spread (many thousands of connects in one second overflow a listen backlog).")
    var rampUp = 1
    @Option(help: "Event-loop threads for the clients.")
    var threads = 2
    @Option(help: "Seed the clients' random streams derive from (by client name).")
    var seed: UInt64 = 1
    @Option(help: "An experiment file whose expectations are checked against this run.")
    var expect: String?
    @Option(help: "The clients' group name, which expectations naming a group refer to.")
    var group = "load"
    @Option(help: "Directory for report.json and latency.csv (the latency CDF: percentile, ms).")
    var out: String?

    func run() throws {
        let defaultPorts = ["http": 80, "https": 443]
        guard let components = URLComponents(string: self.url), let host = components.host, let scheme = components.scheme?.lowercased(),
            let port = components.port ?? defaultPorts[scheme], defaultPorts[scheme] != nil
        else {
            printError("load: expected a URL like http://127.0.0.1:8080 or https://localhost:8443")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.clients > 0, self.duration > 0, self.threads > 0, self.drain >= 0, self.rampUp > 0 else {
            printError("load: clients, duration, threads and ramp-up must be positive, drain not negative")
            throw ExitCode(ExitStatus.invalidInput)
        }
        var configuration = LoadGenerator.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.clients = self.clients
        configuration.duration = .seconds(Int64(self.duration))
        configuration.threads = self.threads
        configuration.drain = .seconds(Int64(self.drain))
        configuration.rampUp = .seconds(Int64(self.rampUp))
        configuration.seed = self.seed
        configuration.tls = try self.tlsSettings(scheme: scheme)
        configuration.log = { line in printError("load: \(line)") }
        if let secret = try self.tokenSecret.secret(command: "load") {
            guard self.token == nil, self.tokenTTL > 0 else {
                printError("load: give --token or a token secret, not both; --token-ttl must be positive")
                throw ExitCode(ExitStatus.invalidInput)
            }
            // A fresh token at every connection attempt, as a client that refreshes its own.
            let tokens = AccessTokens(secret: secret)
            let ttl = Int64(self.tokenTTL)
            configuration.accessToken = { tokens.sign(subject: "load", expiresAt: secondsSince1970() + ttl) }
        } else if let token = self.token {
            configuration.accessToken = { token }
        }
        configuration.group = self.group
        configuration.experiment = "load \(self.url) \(self.transport)"
        switch self.transport {
        case "auto": configuration.method = .websocket; configuration.fallback = true
        case let name:
            guard let method = TransportMethod(rawValue: name) else {
                printError("load --transport \(name): expected websocket, sse, sync or auto")
                throw ExitCode(ExitStatus.invalidInput)
            }
            configuration.method = method
        }
        if let file = self.expect {
            configuration.expectations = try loadExperiment(file).expectations
            guard !configuration.expectations.isEmpty else {
                printError("\(file): no expectations (an `expect:` list) to check")
                throw ExitCode(ExitStatus.invalidInput)
            }
        } else {
            // A load run that connected nobody, or lost messages, has not passed.
            configuration.expectations = [Expectation(kind: .allConnected), Expectation(kind: .deliveryComplete)]
        }
        if let out = self.out {
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            } catch {
                printError("cannot create output directory \(out): \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }
        let result = try LoadGenerator(configuration: configuration).run()
        var report = result.report
        report.resources = Report.Resources(cpuSeconds: round3(cpuSecondsUsed()), peakRSSMiB: round3(peakResidentMiB()))
        if let out = self.out {
            do {
                try RunOutput.encode(report).write(to: URL(fileURLWithPath: "\(out)/report.json"))
                try LatencyPoint.csv(LatencyPoint.cdf(of: result.observation.latency)).write(toFile: "\(out)/latency.csv", atomically: true, encoding: .utf8)
            } catch {
                printError("cannot write \(out)/report.json: \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }
        var details = Self.switchSummary(report.switches).map { "  switches    \($0)" }
        let r = report.recovery
        if r.count > 0 || r.unrecovered > 0 {
            details.append("  recovery    \(r.count) recovered  p50 \(r.p50Ms) ms  p99 \(r.p99Ms) ms  max \(r.maxMs) ms  \(r.unrecovered) unrecovered")
        }
        details.append(String(format: "  window      %.1f s measured, latency against the publish schedule", result.windowSeconds))
        Summary.print(report, wall: nil, directory: self.out, details: details)
        if !report.passed { throw ExitCode(ExitStatus.expectationFailed) }
    }

    /// The TLS settings of --tls (or an https URL) and --ca; nil for plain HTTP.
    private func tlsSettings(scheme: String) throws -> TLSClientSettings? {
        guard self.tls || scheme == "https" else {
            guard self.ca == nil else {
                printError("load: --ca is for TLS: add --tls or give an https:// URL")
                throw ExitCode(ExitStatus.invalidInput)
            }
            return nil
        }
        do {
            return try TLSClientSettings(caFile: self.ca)
        } catch {
            printError("load: TLS: \(error)")
            throw ExitCode(ExitStatus.invalidInput)
        }
    }

    /// One line per kind of switch (`from → to reason`): how many clients made it and how
    /// long after their own start, e.g. `websocket → sse fallbackConnectRefused: 5 after
    /// 12.3…40.1 ms`.
    static func switchSummary(_ switches: [Report.Switch]) -> [String] {
        var started: [String: Double] = [:]
        var kinds: [String] = []
        var delays: [String: [Double]] = [:]
        for change in switches {
            guard let from = change.from else {
                started[change.client] = change.atMs
                continue
            }
            let kind = "\(from) → \(change.to) \(change.reason)"
            if delays[kind] == nil { kinds.append(kind) }
            delays[kind, default: []].append(change.atMs - (started[change.client] ?? 0))
        }
        return kinds.map { kind in
            let values = delays[kind]!
            return String(format: "%@: %d after %.1f…%.1f ms", kind, values.count, values.min()!, values.max()!)
        }
    }
}
