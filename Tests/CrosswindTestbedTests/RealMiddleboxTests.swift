import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import Foundation
import Testing

/// Real middleboxes — Debian's nginx 1.22 and squid 5.7, configured and started by
/// Scripts/middleboxes.py on loopback — between `crosswind serve` and both real clients: the
/// Swift manager (`crosswind load --transport auto`) and the browser's (Web/crosswind/ in
/// headless Chromium, Scripts/middlebox_browser.py). Each scenario names the simulated twin of
/// its middlebox (a group of an experiment in Experiments/); the real clients must end on the
/// transport the simulation predicts, by the same last switch, with every message exactly once.
/// Times are recorded, not judged (beyond a generous bound): predicted and observed, side by
/// side, in runs/middleboxes/predicted-vs-observed.{json,txt}.
@Suite(.tags(.externalTool), .serialized) struct RealMiddleboxTests {
    struct Scenario: Sendable, CustomStringConvertible {
        /// A kind of Scripts/middleboxes.py.
        var middlebox: String
        /// `crosswind serve --rate`.
        var rate: Double
        /// The simulated twin: an experiment and the group behind the matching proxy.
        var experiment: String
        var group: String
        /// What the simulation predicts (checked against the simulation itself too).
        var endsOn: String
        var description: String { "\(self.middlebox) at \(self.rate) msg/s" }
        var name: String { "\(self.middlebox)-rate\(self.rate.formatted())" }
    }

    static let scenarios = [
        // Upgrade not forwarded, the stream's `X-Accel-Buffering: no` honoured: SSE.
        Scenario(middlebox: "nginx-corporate", rate: 10, experiment: "Experiments/middleboxes-loopback.yaml", group: "corporate", endsOn: "sse"),
        // Streams buffered 4 KiB at a time: the welcome passes in the first buffer at 10 msg/s…
        Scenario(middlebox: "nginx-corporate-buffered", rate: 10, experiment: "Experiments/middleboxes-loopback-buffering.yaml", group: "buffering", endsOn: "sse"),
        // … but not at 0.5 msg/s (about 20 s to fill): the SSE confirm timeout expires and Custom
        // Sync takes over. nginx holds the response head back too; the browser's confirm timeout
        // runs from the request (Web/crosswind/sse.js), so it leaves at the same moment.
        Scenario(
            middlebox: "nginx-corporate-buffered", rate: 0.5, experiment: "Experiments/middleboxes-loopback-quiet.yaml", group: "buffering", endsOn: "sync"
        ),
        Scenario(middlebox: "nginx-websocket", rate: 10, experiment: "Experiments/middleboxes-loopback.yaml", group: "upgrading", endsOn: "websocket"),
        // squid's default drops Upgrade and forwards bodies as they come: SSE.
        Scenario(middlebox: "squid", rate: 10, experiment: "Experiments/middleboxes-loopback.yaml", group: "corporate", endsOn: "sse"),
    ]

    static let clients = 5

    @Test(arguments: scenarios)
    func realClientsDecideAsTheSimulationPredicts(scenario: Scenario) throws {
        let predicted = try Self.simulate(scenario)
        #expect(predicted.endsOn == [scenario.endsOn], "the simulation of \(scenario.experiment) group \(scenario.group) ended on \(predicted.endsOn)")
        #expect(predicted.passed, "\(scenario.experiment) failed its own expectations")

        let (server, port) = try Self.startServer(["--rate", String(scenario.rate)])
        defer { stopProcess(server) }
        let (middlebox, proxyPort, software) = try Self.startMiddlebox(scenario.middlebox, upstream: port)
        defer { stopProcess(middlebox) }
        let url = "http://127.0.0.1:\(proxyPort)"

        let swift = try Self.runSwiftClients(url, name: scenario.name)
        #expect(swift.endsOn == Array(repeating: scenario.endsOn, count: Self.clients), "Swift clients ended on \(swift.endsOn)")
        #expect(swift.lastReasons == predicted.lastReasons, "Swift clients' last switches: \(swift.lastReasons), predicted \(predicted.lastReasons)")
        #expect(swift.exactlyOnce, "Swift clients: \(swift.messages)")
        #expect(swift.delays.allSatisfy { $0 < 30_000 }, "Swift switch delays \(swift.delays) ms")

        let browser = try Self.runBrowser(url + "/", origin: port, name: scenario.name)
        #expect(browser.endsOn == [scenario.endsOn], "the browser ended on \(browser.endsOn)")
        #expect(browser.lastReasons == predicted.lastReasons, "the browser's last switch: \(browser.lastReasons), expected \(predicted.lastReasons)")
        #expect(browser.exactlyOnce, "browser: \(browser.messages)")
        #expect(browser.delays.allSatisfy { $0 < 30_000 }, "browser switch delays \(browser.delays) ms")

        try Self.record(Row(scenario: scenario, software: software, predicted: predicted, swift: swift, browser: browser))
    }

    /// squid with `http_upgrade_request_protocols websocket allow all` forwards the upgrade,
    /// but also on origin connections it keeps from earlier requests, and the server upgrades
    /// only a connection's first request (NIO's upgrade handler): such an upgrade is refused
    /// (400, and the connection closed). The Swift clients open no other connections through
    /// the proxy and end on WebSocket; the browser's page load leaves reused connections in
    /// squid's pool, so its end is recorded, not asserted. Every message arrives exactly once
    /// either way, and no request hangs behind a refused upgrade.
    @Test func squidForwardingUpgrades() throws {
        let scenario = Scenario(middlebox: "squid-websocket", rate: 10, experiment: "Experiments/middleboxes-loopback.yaml", group: "upgrading", endsOn: "websocket")
        let predicted = try Self.simulate(scenario)
        let (server, port) = try Self.startServer(["--rate", "10"])
        defer { stopProcess(server) }
        let (middlebox, proxyPort, software) = try Self.startMiddlebox(scenario.middlebox, upstream: port)
        defer { stopProcess(middlebox) }
        let url = "http://127.0.0.1:\(proxyPort)"

        let swift = try Self.runSwiftClients(url, name: scenario.name)
        #expect(swift.endsOn == Array(repeating: "websocket", count: Self.clients), "Swift clients ended on \(swift.endsOn)")
        #expect(swift.exactlyOnce, "Swift clients: \(swift.messages)")
        let browser = try Self.runBrowser(url + "/", origin: port, name: scenario.name)
        #expect(browser.endsOn.allSatisfy { ["websocket", "sse"].contains($0) }, "the browser ended on \(browser.endsOn)")
        #expect(browser.exactlyOnce, "browser: \(browser.messages)")
        try Self.record(Row(scenario: scenario, software: software, predicted: predicted, swift: swift, browser: browser))
    }

    /// squid keeps origin connections for reuse. One that carried a refused upgrade must not
    /// be left open: NIO's decoder stops parsing after an upgrade request, so squid's next
    /// request on it (any client's) would never be answered. Plain requests around refused
    /// upgrades must all be answered.
    @Test func requestsAfterARefusedUpgradeThroughSquidAreAnswered() throws {
        let (server, port) = try Self.startServer(["--rate", "10"])
        defer { stopProcess(server) }
        let (middlebox, proxyPort, _) = try Self.startMiddlebox("squid-websocket", upstream: port)
        defer { stopProcess(middlebox) }
        let script = """
            import socket, sys, urllib.request
            port = int(sys.argv[1])
            def get():
                return str(urllib.request.urlopen(f"http://127.0.0.1:{port}/negotiate", timeout=5).status)
            def upgrade():
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET /ws?topic=metrics HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
                              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n")
                    return s.recv(12)[9:12].decode()
            print(" ".join([get(), upgrade(), get(), upgrade(), get()]))
            """
        let run = try runProcess(try venvPython(), ["-c", script, String(proxyPort)])
        #expect(run.status == 0, "a request was not answered: \(run.stderr.suffix(800))")
        let answers = run.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(answers.count == 5 && answers[0] == "200" && answers[2] == "200" && answers[4] == "200", "\(answers)")
        // squid sent at least one upgrade on a reused origin connection (else this test proves nothing).
        #expect(answers.contains("400"), "\(answers)")
    }

    /// nginx speaks HTTP/1.0 to its upstream by default, so an SSE response has no chunked
    /// encoding and ends only when the connection closes. When the server recycles a stream
    /// (128 KiB here after about seven seconds, with 2000-byte padding at 10 msg/s), the
    /// response must end at the client behind nginx too, or its stream sits open and silent.
    @Test func recycledStreamEndsBehindHTTP10Proxy() throws {
        let (server, port) = try Self.startServer(["--rate", "10", "--padding", "2000"])
        defer { stopProcess(server) }
        let (middlebox, proxyPort, _) = try Self.startMiddlebox("nginx-corporate", upstream: port)
        defer { stopProcess(middlebox) }
        // urllib reads to the end of the response; silence for 30 s (heartbeats come every 25 s) fails it.
        let script = "import sys, urllib.request; print(len(urllib.request.urlopen(sys.argv[1], timeout=30).read()))"
        let run = try runProcess(try venvPython(), ["-c", script, "http://127.0.0.1:\(proxyPort)/events?topic=metrics"])
        #expect(run.status == 0, "the stream did not end: \(run.stderr.suffix(500))")
        #expect((Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 128 * 1024, "read \(run.stdout)")
    }

    // MARK: The three sources

    /// What one source (simulation, Swift clients, browser) showed.
    struct Outcome: Codable {
        /// Per client, the transport open at the end (sorted by client).
        var endsOn: [String]
        /// Per client, the reason of its last transport change.
        var lastReasons: [String]
        /// Per client, the path of transports it went through, e.g. "websocket → sse".
        var paths: [String]
        /// Per client, from its start (its initial choice) to its last change, in ms.
        var delays: [Double]
        var messages: [String: Int]
        var exactlyOnce: Bool
        var passed = true
    }

    /// Runs the simulated twin and summarises its group.
    static func simulate(_ scenario: Scenario) throws -> Outcome {
        let experiment = try ExperimentLoader.load(path: packagePath(scenario.experiment))
        let report = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute().report
        let group = try #require(report.groups.first { $0.name == scenario.group })
        var outcome = Self.summarize(report.switches.filter { $0.client.hasPrefix("\(scenario.group)-") }.map { ($0.client, $0.atMs, $0.to, $0.reason) })
        outcome.endsOn = group.byTransport.sorted { $0.key < $1.key }.flatMap { Array(repeating: $0.key, count: $0.value) }
        outcome.endsOn = Array(Set(outcome.endsOn)).sorted()
        outcome.messages = ["duplicated": report.messages.duplicated, "reordered": report.messages.reordered, "lost": report.messages.lost]
        outcome.exactlyOnce = report.messages.duplicated == 0 && report.messages.reordered == 0
        outcome.passed = report.passed
        return outcome
    }

    /// `crosswind load --transport auto` through the middlebox.
    static func runSwiftClients(_ url: String, name: String) throws -> Outcome {
        let out = try temporaryDirectory("middlebox-load")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try runProcess(try crosswindExecutable(), [
            "load", url, "--clients", String(Self.clients), "--duration", "8", "--drain", "5", "--transport", "auto", "--out", out,
        ])
        guard run.status == 0, let data = FileManager.default.contents(atPath: out + "/report.json"),
            let report = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw SetupError("crosswind load failed (\(run.status)): \(run.stderr.suffix(2000))") }
        let switches = (report["switches"] as? [[String: Any]] ?? []).map {
            ($0["client"] as? String ?? "", $0["atMs"] as? Double ?? 0, $0["to"] as? String ?? "", $0["reason"] as? String ?? "")
        }
        var outcome = Self.summarize(switches)
        let ended = (report["endedOn"] as? [[String: Any]] ?? []).sorted { ($0["client"] as? String ?? "") < ($1["client"] as? String ?? "") }
        outcome.endsOn = ended.map { $0["transport"] as? String ?? "none" }
        let messages = report["messages"] as? [String: Int] ?? [:]
        outcome.messages = messages
        outcome.exactlyOnce = messages["duplicated"] == 0 && messages["reordered"] == 0 && messages["lost"] == 0 && (messages["delivered"] ?? 0) > 0
        return outcome
    }

    /// The dashboard in headless Chromium through the middlebox; the origin is asked for its newest offset.
    static func runBrowser(_ url: String, origin: Int, name: String) throws -> Outcome {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw SetupError("needs /usr/bin/chromium: run Scripts/setup --tests")
        }
        try FileManager.default.createDirectory(atPath: packagePath("runs/middleboxes"), withIntermediateDirectories: true)
        let run = try runProcess(try venvPython(), [
            packagePath("Scripts/middlebox_browser.py"), url, "12", "--server", "http://127.0.0.1:\(origin)", "--drain", "5",
            "--shot", packagePath("runs/middleboxes/\(name).png"),
        ])
        guard run.status == 0, let result = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            throw SetupError("middlebox_browser.py failed (\(run.status)): \(run.stderr.suffix(2000))")
        }
        let switches = (result["switches"] as? [[String: Any]] ?? []).map { ("browser", $0["atMs"] as? Double ?? 0, $0["to"] as? String ?? "", $0["reason"] as? String ?? "") }
        var outcome = Self.summarize(switches)
        let final = result["final"] as? [String: Any] ?? [:]
        outcome.endsOn = [final["state"] as? String == "open" ? final["transport"] as? String ?? "none" : "none"]
        let messages = result["messages"] as? [String: Any] ?? [:]
        outcome.messages = messages.compactMapValues { $0 as? Int }
        outcome.exactlyOnce = messages["repeated"] as? Int == 0 && messages["outOfOrder"] as? Int == 0 && messages["missing"] as? Int == 0
            && messages["sameEpoch"] as? Bool == true && (messages["delivered"] as? Int ?? 0) > 0
        return outcome
    }

    /// Per client: the path, the last reason and the delay from the initial choice to the last change.
    /// `switches` are (client, atMs, to, reason), each client's first one its initial choice.
    static func summarize(_ switches: [(String, Double, String, String)]) -> Outcome {
        var order: [String] = []
        var byClient: [String: [(atMs: Double, to: String, reason: String)]] = [:]
        for (client, atMs, to, reason) in switches {
            if byClient[client] == nil { order.append(client) }
            byClient[client, default: []].append((atMs, to, reason))
        }
        var outcome = Outcome(endsOn: [], lastReasons: [], paths: [], delays: [], messages: [:], exactlyOnce: false)
        for client in order.sorted() {
            let changes = byClient[client]!
            outcome.paths.append(changes.map(\.to).joined(separator: " → "))
            outcome.lastReasons.append(changes.last!.reason)
            outcome.delays.append(((changes.last!.atMs - changes.first!.atMs) * 10).rounded() / 10)
        }
        // Reasons are compared as the set each source produced (five simulated clients, five
        // Swift clients and one browser must agree on why they ended where they did).
        outcome.lastReasons = Array(Set(outcome.lastReasons)).sorted()
        return outcome
    }

    // MARK: Processes

    /// `crosswind serve` on a free loopback port with the dashboard and `options`.
    static func startServer(_ options: [String]) throws -> (Process, Int) {
        try launchServe(["--web", packagePath("Web")] + options)
    }

    /// Starts `Scripts/middleboxes.py run KIND` and returns it, its port and the software's version.
    static func startMiddlebox(_ kind: String, upstream: Int) throws -> (Process, Int, String) {
        let (process, line) = try launch(try venvPython(), [packagePath("Scripts/middleboxes.py"), "run", kind, "--upstream", String(upstream)])
        guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let port = json["port"] as? Int else {
            stopProcess(process)
            throw SetupError("middleboxes.py \(kind) did not start (is \(kind.hasPrefix("nginx") ? "nginx" : "squid") installed? Scripts/setup --tests): '\(line)'")
        }
        return (process, port, json["server"] as? String ?? kind)
    }

    // MARK: The table

    struct Row: Codable {
        var middlebox: String
        var software: String
        var rate: Double
        var simulatedTwin: String
        var predicted: Outcome
        var swift: Outcome
        var browser: Outcome

        init(scenario: Scenario, software: String, predicted: Outcome, swift: Outcome, browser: Outcome) {
            self.middlebox = scenario.middlebox
            self.software = software
            self.rate = scenario.rate
            self.simulatedTwin = "\(scenario.experiment) group \(scenario.group)"
            self.predicted = predicted
            self.swift = swift
            self.browser = browser
        }

        var key: String { "\(self.middlebox)-rate\(self.rate.formatted())" }
    }

    /// Adds the row to runs/middleboxes/predicted-vs-observed.json (rows of earlier scenarios
    /// of this run and earlier runs stay, by key) and renders the text table beside it.
    static func record(_ row: Row) throws {
        let directory = packagePath("runs/middleboxes")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/predicted-vs-observed.json"
        var rows = (FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode([Row].self, from: $0) }) ?? []
        rows.removeAll { $0.key == row.key }
        rows.append(row)
        rows.sort { $0.key < $1.key }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(rows).write(to: URL(fileURLWithPath: path))

        func range(_ values: [Double]) -> String {
            guard let low = values.min(), let high = values.max() else { return "—" }
            return low == high ? String(format: "%.0f", low) : String(format: "%.0f…%.0f", low, high)
        }
        func cell(_ outcome: Outcome) -> String {
            "\(Array(Set(outcome.endsOn)).sorted().joined(separator: "/")) · \(Array(Set(outcome.paths)).sorted().joined(separator: " | ")) · \(outcome.lastReasons.joined(separator: "/")) · \(range(outcome.delays)) ms"
        }
        var text = "Predicted (simulated twin) vs observed (real clients behind the real middlebox).\n"
        text += "Each cell: final transport · path · last reason · time from the client's initial choice to its last switch.\n\n"
        for row in rows {
            text += "\(row.key)  (\(row.software); twin: \(row.simulatedTwin))\n"
            text += "  predicted  \(cell(row.predicted))\n"
            text += "  swift      \(cell(row.swift))  messages \(row.swift.messages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))\n"
            text += "  browser    \(cell(row.browser))  messages \(row.browser.messages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))\n\n"
        }
        try text.write(toFile: directory + "/predicted-vs-observed.txt", atomically: true, encoding: .utf8)
    }
}
