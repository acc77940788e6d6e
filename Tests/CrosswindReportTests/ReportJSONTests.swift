import CrosswindReport
import CrosswindTransport
import Foundation
import Testing

/// The names `report.json` carries (DESIGN.md's contract for scripts), in a simulated-style
/// report and a live-style one, and the blocks a report derives from its observation.
@Suite struct ReportJSONTests {
    /// The keys every report has, simulated or live.
    static let common: Set<String> = [
        "experiment", "seed", "digest", "passed", "expectations", "clients", "messages", "latencyMs",
        "throughputMsgPerSec", "bandwidthBytesPerSec", "connectionSuccessRate", "wire", "switches",
        "transports", "recovery", "incompleteRecoveries", "groups", "failingClients",
    ]

    static func report() -> Report {
        var observation = EvaluationTests.observation()
        observation.clients[0].switches.append(Report.Switch(client: "office-1", atMs: 12.5, from: "websocket", to: "sse", reason: "fallbackConnectRefused"))
        observation.recoveries.record(micros: 2_500_000)
        return Report(
            experiment: "keys", seed: 7, digest: "live", observation: observation,
            expectations: [Expect(kind: .deliveryComplete), Expect(kind: .latencyAtMost(.p99, milliseconds: 1))],
            throughputSeconds: 30, bandwidthSeconds: 40,
            wire: Report.Wire(bytesUp: 1000, bytesDown: 9000, goodputBytes: 3000),
            transports: [:]
        )
    }

    static func json(_ report: Report) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try #require(try JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any])
    }

    @Test func simulatedReportKeys() throws {
        var report = Self.report()
        report.wire = Report.Wire(bytesUp: 1000, bytesDown: 9000, packets: 40, packetsDropped: 1, retransmissions: 2, goodputBytes: 3000)
        report.serverErrors = 0
        report.simulation = Report.SimulationFigures(virtualSeconds: 45, events: 1234)
        let json = try Self.json(report)
        #expect(Set(json.keys) == Self.common.union(["clientMessages", "serverErrors", "simulation"]))
        let wire = try #require(json["wire"] as? [String: Any])
        #expect(Set(wire.keys) == ["bytesUp", "bytesDown", "packets", "packetsDropped", "retransmissions", "goodputBytes"])
        let simulation = try #require(json["simulation"] as? [String: Any])
        #expect(Set(simulation.keys) == ["virtualSeconds", "events"])
        let sends = try #require(json["clientMessages"] as? [String: Any])
        #expect(Set(sends.keys) == ["offered", "delivered", "duplicated", "unacknowledged"])
    }

    @Test func liveReportKeys() throws {
        var report = Self.report()
        report.clientMessages = nil
        report.resources = Report.Resources(cpuSeconds: 1.5, peakRSSMiB: 40)
        report.endedOn = [Report.ClientEnd(client: "load-1", transport: "websocket"), Report.ClientEnd(client: "load-2", transport: nil)]
        let json = try Self.json(report)
        #expect(Set(json.keys) == Self.common.union(["resources", "endedOn"]))
        let wire = try #require(json["wire"] as? [String: Any])
        #expect(Set(wire.keys) == ["bytesUp", "bytesDown", "goodputBytes"])
        let resources = try #require(json["resources"] as? [String: Any])
        #expect(Set(resources.keys) == ["cpuSeconds", "peakRSSMiB"])
        // A client with nothing open keeps its key, as null.
        let ended = try #require(json["endedOn"] as? [[String: Any]])
        #expect(ended.count == 2)
        #expect(ended[0]["transport"] as? String == "websocket")
        #expect(ended[1]["transport"] is NSNull)
        let decoded = try JSONDecoder().decode(Report.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
    }

    @Test func blockKeysAndValues() throws {
        let json = try Self.json(Self.report())
        #expect(json["digest"] as? String == "live")
        #expect(json["seed"] as? Int == 7)
        #expect(json["passed"] as? Bool == false)
        let expectations = try #require(json["expectations"] as? [[String: Any]])
        #expect(expectations.map { Set($0.keys) } == Array(repeating: ["text", "passed", "observed"], count: 2))
        #expect(expectations.map { $0["passed"] as? Bool } == [true, false])
        let clients = try #require(json["clients"] as? [String: Any])
        #expect(Set(clients.keys) == ["total", "connected", "byTransport"])
        #expect(clients["byTransport"] as? [String: Int] == ["sse": 2, "websocket": 1])
        let messages = try #require(json["messages"] as? [String: Any])
        #expect(Set(messages.keys) == ["offered", "delivered", "lost", "duplicated", "reordered"])
        let latency = try #require(json["latencyMs"] as? [String: Any])
        #expect(Set(latency.keys) == ["avg", "p50", "p95", "p99", "max"])
        #expect(latency["max"] as? Double == 300)
        let recovery = try #require(json["recovery"] as? [String: Any])
        #expect(Set(recovery.keys) == ["count", "p50Ms", "p99Ms", "maxMs", "unrecovered", "firstDeliveryMs"])
        #expect(recovery["count"] as? Int == 1)
        #expect(recovery["maxMs"] as? Double == 2500)
        // Every client's switches, client by client; `from` absent on the initial choice.
        let switches = try #require(json["switches"] as? [[String: Any]])
        #expect(switches.map { $0["client"] as? String } == ["office-1", "office-1", "office-2", "home-1"])
        #expect(Set(switches[0].keys) == ["client", "atMs", "to", "reason"])
        #expect(Set(switches[1].keys) == ["client", "atMs", "from", "to", "reason"])
        // 300 delivered over 30 s; 10 000 bytes over 40 s; everyone connected.
        #expect(json["throughputMsgPerSec"] as? Double == 10)
        #expect(json["bandwidthBytesPerSec"] as? Double == 250)
        #expect(json["connectionSuccessRate"] as? Double == 1)
        let groups = try #require(json["groups"] as? [[String: Any]])
        #expect(groups.map { $0["name"] as? String } == ["office", "home"])
        #expect(groups[0]["arrivalMsP50"] as? Double == 400)
        #expect(groups[0]["arrivalMsMax"] as? Double == 900)
        #expect(groups[0]["switches"] as? Int == 3)
        #expect(Set(groups[0].keys) == [
            "name", "clients", "byTransport", "arrivalMsP50", "arrivalMsMax", "switches",
            "switchesByReason", "messages", "recovery", "failingClients",
        ])
    }

    @Test func transportFiguresSumEveryManager() {
        #expect(Report.TransportFigures.summing([]).isEmpty)
        let idle = Dictionary(uniqueKeysWithValues: TransportMethod.allCases.map { ($0, TransportPerformance()) })
        let figures = Report.TransportFigures.summing([idle, idle])
        #expect(figures.keys.sorted() == ["sse", "sync", "websocket"])
        #expect(figures.values.allSatisfy { $0 == .zero })
    }
}
