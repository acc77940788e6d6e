import Foundation
import Testing

/// Scripts/fidelity/compare.py without root or namespaces (`--simulated-only`): it writes the
/// experiment files of its scenarios, runs them with the built `crosswind`, reads the figures
/// out of the reports and captures (tshark) and writes a table it checks for structure. The
/// live side needs root and the two-namespace lab; it is run by hand (README, "Checked
/// against real Linux").
@Suite(.tags(.externalTool), .serialized) struct FidelityCompareTests {
    @Test func simulatedSideWritesAWellFormedComparison() throws {
        let base = try temporaryDirectory("fidelity")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let run = try runProcess(try tool("python3"), [
            packagePath("Scripts/fidelity/compare.py"), "--simulated-only", "--crosswind", try crosswindExecutable(),
            "--only", "clean,lossy,reject,clean-sse,clean-sync", "--clients", "3", "--seconds", "5", "--out", base,
        ])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")

        let data = try #require(FileManager.default.contents(atPath: "\(base)/comparison.json"))
        let results = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(results.map { $0["scenario"] as? String } == ["clean", "lossy", "reject", "clean-sse", "clean-sync"])
        func figures(_ scenario: String) -> [String: Any] {
            let rows = results.first { $0["scenario"] as? String == scenario }?["rows"] as? [[String: Any]] ?? []
            var out: [String: Any] = [:]
            for row in rows { out[row["figure"] as? String ?? ""] = row["simulated"] }
            return out
        }
        // Clean, 20 ms each way: everything delivered after one way, 10 msg/s to 3 clients.
        let clean = figures("clean")
        #expect(clean["delivery"] as? Double == 1.0)
        let p50 = try #require(clean["latency p50 ms"] as? Double)
        #expect(p50 >= 20 && p50 < 60)
        let throughput = try #require(clean["throughput msg/s"] as? Double)
        #expect(abs(throughput - 30) <= 3)
        #expect(clean["final transports"] as? String == "websocket 3")
        // Connect time and time to first message, from the server's capture (tshark): the
        // handshake's round trip to the 101, and the first message after it.
        let connect = try #require(clean["connect p50 ms"] as? Double)
        #expect(connect >= 40 && connect < 80)
        let firstMessage = try #require(clean["first message p50 ms"] as? Double)
        #expect(firstMessage >= connect && firstMessage < connect + 200)
        // Per transport: the same figures for clients that start on SSE and on Custom Sync
        // (which polls, so its first message may wait for a poll interval).
        for (scenario, transport) in [("clean-sse", "sse"), ("clean-sync", "sync")] {
            let row = figures(scenario)
            #expect(row["final transports"] as? String == "\(transport) 3", "\(scenario)")
            #expect(row["delivery"] as? Double == 1.0, "\(scenario)")
            let connect = try #require(row["connect p50 ms"] as? Double, "\(scenario)")
            #expect(connect >= 40 && connect < 80, "\(scenario)")
            #expect(row["first message p50 ms"] is Double, "\(scenario)")
        }
        // Lossy: the server's capture, read by tshark, gives a retransmission rate.
        #expect(figures("lossy")["retransmissions per 1000 segments"] is Double)
        // Reject: nothing ever connected, so no message figures (null), but a fallback time.
        let reject = figures("reject")
        #expect(reject["delivery"] is NSNull)
        #expect(reject["throughput msg/s"] is NSNull)
        let fallback = try #require(reject["first fallback ms"] as? Double)
        #expect(fallback > 40)
        #expect(reject["connect p50 ms"] is NSNull)
        #expect(reject["first message p50 ms"] is NSNull)

        // The Markdown table: a header, its rule and a row per figure, six cells each, the
        // live column "not run".
        let table = try String(contentsOfFile: "\(base)/comparison.md", encoding: .utf8)
        let lines = table.split(separator: "\n").map(String.init)
        let rowCount = results.reduce(0) { $0 + (($1["rows"] as? [Any])?.count ?? 0) }
        #expect(lines.count == 2 + rowCount)
        #expect(lines.allSatisfy { $0.filter { $0 == "|" }.count == 7 })
        #expect(lines.dropFirst(2).allSatisfy { $0.contains("| not run |") })
        #expect(FileManager.default.fileExists(atPath: "\(base)/clean/simulated/experiment.yaml"))
    }

    @Test func anUnknownScenarioIsAClearError() throws {
        let base = try temporaryDirectory("fidelity-unknown")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let run = try runProcess(try tool("python3"), [
            packagePath("Scripts/fidelity/compare.py"), "--simulated-only", "--crosswind", try crosswindExecutable(),
            "--only", "clean,nosuch", "--out", base,
        ])
        #expect(run.status != 0)
        #expect(run.stderr.contains("unknown scenario ['nosuch']"), "\(run.stderr)")
        #expect(!run.stderr.contains("Traceback"))
        #expect(!FileManager.default.fileExists(atPath: "\(base)/clean"))
    }
}
