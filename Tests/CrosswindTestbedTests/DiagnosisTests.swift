import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import Foundation
import Testing

/// Who failed, from a run that breaks clients on purpose: two office clients that are fine, a
/// branch client whose links go down for good at 5.5 s (it misses offsets 6…10), and a client
/// behind a firewall that rejects it from the start (it never connects and misses all ten).
/// The report names exactly those two, with their missing offsets, and so does the summary.
@Suite struct DiagnosisTests {
    static let experiment = """
        kind: experiment
        version: 1
        name: broken-branch
        seed: 3
        topology:
          name: broken-branch
          server: { name: server, port: 80 }
          groups:
            - name: office
              count: 2
              transport: websocket
              link: { latency: 10ms }
            - name: branch
              count: 1
              transport: websocket
              link: { latency: 10ms }
            - name: blocked
              count: 1
              transport: websocket
              link: { latency: 10ms }
        workload: { topic: metrics, rate: 1, size: 64, start: 1s, duration: 10s, drain: 2s }
        timeline:
          - at: 0s
            firewall: { name: fw, group: blocked, port: 80, action: reject }
          - at: 5500ms
            partition: { group: branch, direction: both }
        expect:
          - delivery: complete
          - transport: { group: office, endsOn: websocket }
          - transport: { group: blocked, endsOn: websocket }

        """

    /// The experiment written to a fresh directory; returns the file's path.
    static func file() throws -> String {
        let directory = try temporaryDirectory("diagnosis")
        let path = "\(directory)/broken-branch.yaml"
        try Data(Self.experiment.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func theReportNamesExactlyTheBrokenClients() throws {
        let path = try Self.file()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let outcome = try DeterminismCheck.check(try ExperimentLoader.load(path: path), seed: nil)
        #expect(outcome.isDeterministic)
        let report = outcome.first.report
        #expect(!report.passed)
        #expect(report.failingClients.map(\.client) == ["branch-1", "blocked-1"])
        #expect(report.failingClientsNotListed == nil)
        let branch = report.failingClients[0]
        #expect(branch.violations == [.lost])
        #expect(branch.offered == 10 && branch.delivered == 5 && branch.lost == 5)
        #expect(branch.missing == ["6-10"])
        #expect(branch.transport == "websocket")  // half-open: nothing told it the path died
        let blocked = report.failingClients[1]
        #expect(blocked.violations == [.notConnected, .lost, .wrongTransport])
        #expect(blocked.missing == ["1-10"])
        #expect(blocked.transport == nil && blocked.expectedTransport == "websocket")
        // Per group: who ended where, what they received, how many failed.
        #expect(report.groups.map(\.name) == ["office", "branch", "blocked"])
        #expect(report.groups.map(\.failingClients) == [0, 1, 1])
        #expect(report.groups.map(\.messages.lost) == [0, 5, 10])
        #expect(report.groups.map(\.messages.offered) == [20, 10, 10])
        // The failed expectations say who is behind them.
        let texts = Dictionary(uniqueKeysWithValues: report.expectations.map { ($0.text, $0) })
        #expect(texts["every message delivered"]?.observed == "25 of 40 delivered, 15 lost; by branch-1 (5), blocked-1 (10)")
        #expect(texts["group blocked ends on websocket"]?.observed.hasSuffix("; 1 with nothing open (blocked-1)") == true)
        #expect(texts["group office ends on websocket"]?.passed == true)
    }

    @Test(.tags(.externalTool)) func theSummaryPrintsTheBrokenClients() throws {
        let path = try Self.file()
        let directory = (path as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try runProcess(try crosswindExecutable(), ["run", path, "--out", "\(directory)/out"])
        #expect(run.status == 1, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("  failing     2 clients broke an invariant"))
        #expect(lines.contains("    branch-1 [lost]; delivered 5 of 10, missing 6-10; on websocket at end"))
        #expect(lines.contains("    blocked-1 [notConnected, lost, wrongTransport]; delivered 0 of 10, missing 1-10; never connected (expected websocket)"))
        #expect(lines.contains { $0.hasPrefix("  group       branch: 1 client, open at end: websocket 1; offered 10  delivered 5  lost 5") && $0.hasSuffix("; 1 failing") })
        // report.json says the same, with `transport: null` for the client that never opened.
        let data = try #require(FileManager.default.contents(atPath: "\(directory)/out/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let failing = try #require(report["failingClients"] as? [[String: Any]])
        #expect(failing.map { $0["client"] as? String } == ["branch-1", "blocked-1"])
        #expect(failing[0]["missing"] as? [String] == ["6-10"])
        #expect(failing[1]["transport"] is NSNull)
    }
}
