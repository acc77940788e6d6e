import CrosswindReport
import CrosswindTransport
import Foundation
import Testing

/// Who failed: the clients that break an invariant, with their missing offsets, switches and
/// recoveries; the per-group blocks built from every client's own figures; and the bounds
/// that keep a report of a large run readable.
@Suite struct FailingClientTests {
    /// A client of `group` on `transport`, offered 1…100 and holding all but `missing`.
    static func client(
        _ name: String, _ group: String = "office", _ transport: TransportMethod? = .websocket,
        missing: [ClosedRange<UInt64>] = [], connected: Bool = true
    ) -> RunObservation.Client {
        var client = RunObservation.Client(
            name: name, group: group, connected: connected, transport: transport, arrivalMs: 10,
            switches: [Report.Switch(client: name, atMs: 0, from: nil, to: "websocket", reason: "initial")]
        )
        client.account(offered: 1, through: 100, duplicated: 0, reordered: 0) { offset in !missing.contains { $0.contains(offset) } }
        return client
    }

    static func observation(_ clients: [RunObservation.Client], groups: [String] = ["office"]) -> RunObservation {
        RunObservation(
            groups: groups, clients: clients,
            offered: clients.reduce(0) { $0 + $1.offered }, delivered: clients.reduce(0) { $0 + $1.delivered },
            duplicated: 0, reordered: 0, latency: LatencyHistogram(), recoveries: LatencyHistogram(),
            unrecovered: 0, incompleteRecoveries: 0, clientMessages: nil
        )
    }

    static func report(_ observation: RunObservation, _ expectations: [Expect] = []) -> Report {
        Report(
            experiment: "who", seed: 1, digest: "live", observation: observation, expectations: expectations,
            throughputSeconds: 1, bandwidthSeconds: 1, wire: Report.Wire(bytesUp: 0, bytesDown: 0, goodputBytes: 0), transports: [:]
        )
    }

    @Test func missingOffsetsBecomeRanges() {
        // Offered 100…160; 120…131, 140 and 150…160 never arrived.
        var client = RunObservation.Client(name: "office-3", group: "office", connected: true, transport: .sse, arrivalMs: nil, switches: [])
        let gaps: [ClosedRange<UInt64>] = [120...131, 140...140, 150...160]
        client.account(offered: 100, through: 160, duplicated: 2, reordered: 1) { offset in !gaps.contains { $0.contains(offset) } }
        #expect(client.offered == 61)
        #expect(client.delivered == 61 - 12 - 1 - 11)
        #expect(client.missing == gaps)
        #expect(client.missingRangeCount == 3)
        let report = Self.report(Self.observation([client]))
        let failing = try! #require(report.failingClients.first)
        #expect(failing.missing == ["120-131", "140", "150-160"])
        #expect(failing.missingRangesNotListed == nil)
        #expect(failing.lost == 24)
        #expect(failing.violations == [.lost, .duplicated, .reordered])
        // Nothing offered: nothing missing, nothing delivered.
        var late = client
        late.account(offered: 200, through: 160, duplicated: 0, reordered: 0) { _ in true }
        #expect(late.offered == 0 && late.delivered == 0 && late.missing.isEmpty)
    }

    @Test func missingRangesAreCappedWithACount() {
        // Every other offset of 1…60 missing: 30 ranges, the first 20 kept and listed.
        var client = RunObservation.Client(name: "office-1", group: "office", connected: true, transport: .sse, arrivalMs: nil, switches: [])
        client.account(offered: 1, through: 60, duplicated: 0, reordered: 0) { $0 % 2 == 0 }
        #expect(client.missingRangeCount == 30)
        #expect(client.missing.count == RunObservation.missingRangesKept)
        let failing = try! #require(Self.report(Self.observation([client])).failingClients.first)
        #expect(failing.missing.count == 20)
        #expect(failing.missing.first == "1" && failing.missing.last == "39")
        #expect(failing.missingRangesNotListed == 10)
    }

    @Test func onlyClientsThatBreakAnInvariantAreListed() {
        var duplicated = Self.client("office-2")
        duplicated.duplicated = 3
        var stuck = Self.client("office-4", "home", .sse)
        stuck.unrecovered = 1
        stuck.recoveriesMicros = [1_500_000]
        stuck.firstDeliveriesMicros = [200_000, 300_000]
        let clients = [
            Self.client("office-1"),
            duplicated,
            Self.client("office-3", missing: [5...9]),
            stuck,
            Self.client("home-1", "home", nil, missing: [1...100], connected: false),
            Self.client("home-2", "home", .websocket),
        ]
        let observation = Self.observation(clients, groups: ["office", "home"])
        // Group home must end on SSE: home-1 (nothing open) and home-2 (WebSocket) did not.
        let report = Self.report(observation, [Expect(kind: .endsOnTransport(group: "home", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil))])
        #expect(report.failingClients.map(\.client) == ["office-2", "office-3", "office-4", "home-1", "home-2"])
        #expect(report.failingClients.map(\.violations) == [[.duplicated], [.lost], [.unrecovered], [.notConnected, .lost, .wrongTransport], [.wrongTransport]])
        #expect(report.failingClients[1].missing == ["5-9"])
        #expect(report.failingClients[2].recoveryMs == [1500])
        #expect(report.failingClients[2].firstDeliveryMs == [200, 300])
        #expect(report.failingClients[3].expectedTransport == "sse")
        #expect(report.failingClients[3].transport == nil)
        #expect(report.failingClientsNotListed == nil)
        #expect(report.groups.map(\.failingClients) == [2, 3])
        // The expectation's text says where the others ended.
        let ends = try! #require(report.expectations.first)
        #expect(!ends.passed)
        #expect(ends.observed == "1 of 3 on sse, arrived after 10.0…10.0 ms; 1 on websocket (home-2); 1 with nothing open (home-1)")
        // Without the expectation nobody is held to a transport.
        #expect(Self.report(observation).failingClients.map(\.client) == ["office-2", "office-3", "office-4", "home-1"])
    }

    @Test func theOthersAreNamedUpToFive() {
        let clients = (1...8).map { Self.client("office-\($0)", "office", $0 <= 7 ? .sync : .sse) }
        let result = Self.observation(clients).evaluate(Expect(kind: .endsOnTransport(group: "office", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil)))
        #expect(result.observed == "1 of 8 on sse, arrived after 10.0…10.0 ms; 7 on sync (office-1, office-2, office-3, office-4, office-5, …)")
    }

    @Test func failedExpectationsNameTheClientsBehindThem() {
        var twice = Self.client("office-2")
        twice.duplicated = 4
        let observation = Self.observation([Self.client("office-1", missing: [10...12]), twice, Self.client("office-3", missing: [1...1])])
        let delivery = observation.evaluate(Expect(kind: .deliveryComplete))
        #expect(delivery.observed == "296 of 300 delivered, 4 lost; by office-1 (3), office-3 (1)")
        var duplicated = observation
        duplicated.duplicated = 4
        #expect(duplicated.evaluate(Expect(kind: .noDuplicates)).observed == "4 duplicated; by office-2 (4)")
    }

    @Test func theReportListsAHundredAndCountsTheRest() {
        let clients = (1...103).map { Self.client("office-\($0)", missing: [100...100]) }
        let report = Self.report(Self.observation(clients))
        #expect(report.failingClients.count == Report.failingClientsListed)
        #expect(report.failingClients.last?.client == "office-100")
        #expect(report.failingClientsNotListed == 3)
        #expect(report.groups.first?.failingClients == 103)
    }

    @Test func groupsSumTheirClientsOwnFigures() throws {
        var a = Self.client("office-1", missing: [1...4])
        a.recoveriesMicros = [2_000_000]
        a.firstDeliveriesMicros = [500_000]
        a.switches.append(Report.Switch(client: "office-1", atMs: 9, from: "websocket", to: "sse", reason: "fallbackConnectRefused"))
        var b = Self.client("office-2")
        b.reordered = 2
        b.recoveriesMicros = [4_000_000]
        b.firstDeliveriesMicros = [1_000_000]
        let c = Self.client("home-1", "home")
        let report = Self.report(Self.observation([a, b, c], groups: ["office", "home"]))
        let office = report.groups[0]
        #expect(office.messages == Report.Messages(offered: 200, delivered: 196, lost: 4, duplicated: 0, reordered: 2))
        #expect(office.switchesByReason == ["initial": 2, "fallbackConnectRefused": 1])
        #expect(office.recovery.count == 2)
        #expect(office.recovery.maxMs == 4000)
        #expect(office.recovery.firstDeliveryMs.count == 2)
        #expect(office.recovery.firstDeliveryMs.max == 1000)
        #expect(report.groups[1].messages == Report.Messages(offered: 100, delivered: 100, lost: 0, duplicated: 0, reordered: 0))
        #expect(report.groups[1].recovery.count == 0)
        // A failing client in JSON: `transport` always there (null when nothing is open), the
        // counts of what was left out only when something was.
        var gone = Self.client("home-2", "home", nil, missing: [50...50])
        gone.connected = false
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.report(Self.observation([gone], groups: ["home"])).failingClients[0])) as? [String: Any]
        #expect(json?["transport"] is NSNull)
        #expect(Set(json?.keys.map { $0 } ?? []) == [
            "client", "group", "violations", "connected", "transport", "offered", "delivered", "lost", "missing",
            "duplicated", "reordered", "switches", "recoveryMs", "firstDeliveryMs", "unrecovered",
        ])
        #expect(json?["violations"] as? [String] == ["notConnected", "lost"])
    }
}
