import CrosswindReport
import CrosswindTransport
import Testing

/// Every expectation kind judged against a hand-made observation: one that holds and one
/// that does not, with the observed text that explains it.
@Suite struct EvaluationTests {
    /// Two groups, `office` (two clients on SSE, arrived after 400 and 900 ms) and `home`
    /// (one client on WebSocket after 50 ms); 300 messages offered, all delivered once and in
    /// order with latencies 1…300 ms; no outages.
    static func observation() -> RunObservation {
        var latency = LatencyHistogram()
        for millisecond in 1...300 as ClosedRange<UInt64> { latency.record(micros: millisecond * 1000) }
        return RunObservation(
            groups: ["office", "home"],
            clients: [
                client("office-1", "office", .sse, arrivalMs: 400),
                client("office-2", "office", .sse, arrivalMs: 900),
                client("home-1", "home", .websocket, arrivalMs: 50),
            ],
            offered: 300,
            delivered: 300,
            duplicated: 0,
            reordered: 0,
            latency: latency,
            recoveries: LatencyHistogram(),
            unrecovered: 0,
            incompleteRecoveries: 0,
            clientMessages: Report.ClientMessages(offered: 20, delivered: 20, duplicated: 0, unacknowledged: 0)
        )
    }

    static func client(_ name: String, _ group: String, _ transport: TransportMethod?, arrivalMs: Double?, connected: Bool = true) -> RunObservation.Client {
        RunObservation.Client(
            name: name, group: group, connected: connected, transport: transport, arrivalMs: arrivalMs,
            switches: [Report.Switch(client: name, atMs: 0, from: nil, to: "websocket", reason: "initial")]
        )
    }

    func result(_ kind: Expect.Kind, _ observation: RunObservation = observation()) -> Report.ExpectationResult {
        let result = observation.evaluate(Expect(kind: kind))
        #expect(result.text == kind.defaultText)
        return result
    }

    @Test func deliveryComplete() {
        #expect(self.result(.deliveryComplete).passed)
        var short = Self.observation()
        short.delivered = 297
        let failed = self.result(.deliveryComplete, short)
        #expect(!failed.passed)
        #expect(failed.observed == "297 of 300 delivered, 3 lost")
        // Nothing offered is not "everything delivered".
        var nothing = Self.observation()
        nothing.offered = 0
        nothing.delivered = 0
        #expect(!self.result(.deliveryComplete, nothing).passed)
    }

    @Test func deliveryRate() {
        var most = Self.observation()
        most.delivered = 291
        let held = self.result(.deliveryRateAtLeast(0.97), most)
        #expect(held.passed)
        #expect(held.observed == "delivery rate 97.0 %")
        #expect(!self.result(.deliveryRateAtLeast(0.98), most).passed)
    }

    @Test func duplicatesAndReordering() {
        #expect(self.result(.noDuplicates).passed)
        #expect(self.result(.noReordering).passed)
        var bad = Self.observation()
        bad.duplicated = 2
        bad.reordered = 5
        let duplicates = self.result(.noDuplicates, bad)
        #expect(!duplicates.passed && duplicates.observed == "2 duplicated")
        let reordered = self.result(.noReordering, bad)
        #expect(!reordered.passed && reordered.observed == "5 reordered")
    }

    @Test func allConnected() {
        let held = self.result(.allConnected)
        #expect(held.passed && held.observed == "3 of 3 connected")
        var one = Self.observation()
        one.clients[1] = Self.client("office-2", "office", nil, arrivalMs: nil, connected: false)
        let failed = self.result(.allConnected, one)
        // The text names the client that never connected.
        #expect(!failed.passed && failed.observed == "2 of 3 connected; never office-2")
        var none = Self.observation()
        none.clients = []
        #expect(!self.result(.allConnected, none).passed)
    }

    @Test func latencyBounds() {
        // p99 of 1…300 ms is 297 ms (rank ⌈2.97 × 100⌉ = 297, exact above 2048 µs to 0.1 %).
        let held = self.result(.latencyAtMost(.p99, milliseconds: 300))
        #expect(held.passed)
        #expect(held.observed.hasPrefix("p99 297."))
        #expect(!self.result(.latencyAtMost(.p99, milliseconds: 290)).passed)
        #expect(self.result(.latencyAtMost(.max, milliseconds: 300)).passed)
        #expect(!self.result(.latencyAtMost(.avg, milliseconds: 150)).passed)  // avg 150.5
        #expect(self.result(.latencyAtLeast(.p50, milliseconds: 150)).passed)
        #expect(!self.result(.latencyAtLeast(.p50, milliseconds: 160)).passed)
        // With nothing delivered a bound holds vacuously, so it fails.
        var silent = Self.observation()
        silent.delivered = 0
        silent.latency = LatencyHistogram()
        let vacuous = self.result(.latencyAtMost(.p99, milliseconds: 1000), silent)
        #expect(!vacuous.passed && vacuous.observed == "p99 0.0 ms")
    }

    @Test func endsOnTransport() {
        let office = self.result(.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: 1000, notBeforeMilliseconds: 300))
        #expect(office.passed)
        #expect(office.observed == "2 of 2 on sse, arrived after 400.0…900.0 ms")
        // Too slow, too early, the wrong transport, or everyone when one group differs.
        #expect(!self.result(.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: 800, notBeforeMilliseconds: nil)).passed)
        #expect(!self.result(.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: 500)).passed)
        let wrong = self.result(.endsOnTransport(group: "home", transport: .sync, withinMilliseconds: nil, notBeforeMilliseconds: nil))
        // The text says where the others ended, naming them.
        #expect(!wrong.passed && wrong.observed == "0 of 1 on sync, arrived after 0.0…0.0 ms; 1 on websocket (home-1)")
        let everyone = self.result(.endsOnTransport(group: nil, transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil))
        #expect(!everyone.passed && everyone.observed.hasPrefix("2 of 3 on sse"))
        // A client with nothing open at the end is not on the transport, unless its manager
        // was reconnecting it after a cut (the text says how many).
        var closed = Self.observation()
        closed.clients[0].transport = nil
        #expect(!self.result(.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil), closed).passed)
        closed.clients[0].reconnecting = .sse
        let cut = self.result(.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil), closed)
        #expect(cut.passed && cut.observed.hasPrefix("2 of 2 on sse (1 reconnecting it after a cut), arrived after"))
        closed.clients[0].reconnecting = .sync
        #expect(!self.result(.endsOnTransport(group: "office", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil), closed).passed)
        // A group this run does not have cannot hold, and the text says why.
        let missing = self.result(.endsOnTransport(group: "branch", transport: .sse, withinMilliseconds: nil, notBeforeMilliseconds: nil))
        #expect(!missing.passed)
        #expect(missing.observed == "no client in group branch (groups in this run: office, home)")
    }

    @Test func recoveryBounds() {
        var outage = Self.observation()
        for millisecond in [800, 1200, 3000] as [UInt64] { outage.recoveries.record(micros: millisecond * 1000) }
        let held = self.result(.recoveryAtMost(.p99, milliseconds: 3000), outage)
        #expect(held.passed)
        #expect(held.observed == "p99 3000.0 ms over 3 recoveries, 0 unrecovered")
        #expect(!self.result(.recoveryAtMost(.max, milliseconds: 2999), outage).passed)
        #expect(self.result(.recoveryAtMost(.p50, milliseconds: 1201), outage).passed)  // 1200.127: its bucket's edge
        #expect(self.result(.recoveryAtMost(.p95, milliseconds: 3000), outage).passed)
        let average = self.result(.recoveryAtMost(.avg, milliseconds: 1600), outage)
        #expect(!average.passed && average.observed.hasPrefix("avg 1666.667 ms"))
        // One client never recovered: the bound does not hold whatever the others did.
        var stuck = outage
        stuck.unrecovered = 1
        let failed = self.result(.recoveryAtMost(.p99, milliseconds: 60_000), stuck)
        #expect(!failed.passed && failed.observed.hasSuffix("3 recoveries, 1 unrecovered"))
        // No outage at all: nothing shows recovery was measured.
        #expect(!self.result(.recoveryAtMost(.p99, milliseconds: 60_000)).passed)
    }

    @Test func incompleteRecovery() {
        let held = self.result(.noIncompleteRecovery)
        #expect(held.passed && held.observed == "0 incomplete")
        var reset = Self.observation()
        reset.incompleteRecoveries = 4
        let failed = self.result(.noIncompleteRecovery, reset)
        #expect(!failed.passed && failed.observed == "4 incomplete")
    }

    @Test func everyRecoveryIncomplete() {
        // Nobody was told: a restart without history that said nothing would fail here.
        let none = self.result(.everyRecoveryIncomplete)
        #expect(!none.passed && none.observed == "0 of 3 clients told, 0 incomplete; not office-1, office-2, home-1")
        var restarted = Self.observation()
        for index in restarted.clients.indices { restarted.clients[index].incompleteRecoveries = 1 }
        restarted.clients[1].incompleteRecoveries = 2
        restarted.incompleteRecoveries = 4
        let held = self.result(.everyRecoveryIncomplete, restarted)
        #expect(held.passed && held.observed == "3 of 3 clients told, 4 incomplete")
        restarted.clients[2].incompleteRecoveries = 0
        restarted.incompleteRecoveries = 3
        let partly = self.result(.everyRecoveryIncomplete, restarted)
        #expect(!partly.passed && partly.observed == "2 of 3 clients told, 3 incomplete; not home-1")
    }

    @Test func clientSends() {
        let held = self.result(.clientSendsComplete)
        #expect(held.passed && held.observed == "20 of 20 received, 0 twice, 0 unacknowledged")
        for (delivered, duplicated, unacknowledged) in [(19, 0, 0), (20, 1, 0), (20, 0, 2)] {
            var bad = Self.observation()
            bad.clientMessages = Report.ClientMessages(offered: 20, delivered: delivered, duplicated: duplicated, unacknowledged: unacknowledged)
            #expect(!self.result(.clientSendsComplete, bad).passed)
        }
        // A run that sends none it can account for (a live load) fails and says so.
        var unmeasured = Self.observation()
        unmeasured.clientMessages = nil
        let failed = self.result(.clientSendsComplete, unmeasured)
        #expect(!failed.passed)
        #expect(failed.observed.hasPrefix("not measured"))
    }

    @Test func reportPassesOnlyWhenEveryExpectationHolds() {
        let observation = Self.observation()
        let wire = Report.Wire(bytesUp: 1000, bytesDown: 9000, goodputBytes: 3000)
        let good = Report(
            experiment: "e", seed: 1, digest: "live", observation: observation,
            expectations: [Expect(kind: .deliveryComplete), Expect(kind: .allConnected)],
            throughputSeconds: 30, bandwidthSeconds: 40, wire: wire, transports: [:]
        )
        #expect(good.passed && good.expectations.count == 2)
        let bad = Report(
            experiment: "e", seed: 1, digest: "live", observation: observation,
            expectations: [Expect(kind: .deliveryComplete), Expect(kind: .latencyAtMost(.p50, milliseconds: 1))],
            throughputSeconds: 30, bandwidthSeconds: 40, wire: wire, transports: [:]
        )
        #expect(!bad.passed)
        #expect(bad.expectations.map(\.passed) == [true, false])
        let none = Report(
            experiment: "e", seed: 1, digest: "live", observation: observation, expectations: [],
            throughputSeconds: 30, bandwidthSeconds: 40, wire: wire, transports: [:]
        )
        #expect(none.passed && none.expectations.isEmpty)
    }
}
