import CrosswindReport
import CrosswindTransport
import Testing

@testable import CrosswindExperiment

/// The `transport:` and `recovery:` entries of `expect:`.
///
/// Uses ``TestSupport/twoGroupExperiment(_:)``: groups `office` and `home`, `expect:` on line 9 and
/// its first entry on line 10.
@Suite struct TransportRecoveryExpectationTests {
    private func expectations(_ entries: String) throws -> [CrosswindReport.Expectation] {
        try ExperimentLoader.parse(
            yaml: TestSupport.twoGroupExperiment("expect:\n" + entries), file: "t.yaml", baseDirectory: "."
        ).expectations
    }

    private func error(_ entries: String) -> String? {
        TestSupport.experimentError(TestSupport.twoGroupExperiment("expect:\n" + entries))?.description
    }

    @Test func kindsTextsAndLines() throws {
        let result = try expectations("""
              - transport: { group: office, endsOn: sse, within: 30s, notBefore: 5s }
              - transport: { endsOn: websocket }
              - recovery: { p99: { atMost: 20s } }
              - recovery:
                  avg: { atMost: 1.5s }
                  max: { atMost: 1min }
              - recovery: complete
              - transport: { group: home, endsOn: sync, within: 250ms }
            """)
        #expect(result.map(\.kind) == [
            .endsOnTransport(group: "office", transport: .sse, withinMilliseconds: 30_000, notBeforeMilliseconds: 5000),
            .endsOnTransport(group: nil, transport: .websocket, withinMilliseconds: nil, notBeforeMilliseconds: nil),
            .recoveryAtMost(.p99, milliseconds: 20_000),
            .recoveryAtMost(.avg, milliseconds: 1500),
            .recoveryAtMost(.max, milliseconds: 60_000),
            .noIncompleteRecovery,
            .endsOnTransport(group: "home", transport: .sync, withinMilliseconds: 250, notBeforeMilliseconds: nil),
        ])
        #expect(result.map(\.text) == [
            "group office ends on sse not before 5000 ms within 30000 ms",
            "every client ends on websocket",
            "recovery p99 <= 20000 ms",
            "recovery avg <= 1500 ms",
            "recovery max <= 60000 ms",
            "no incomplete recovery",
            "group home ends on sync within 250 ms",
        ])
        #expect(result.map(\.text) == result.map(\.kind.defaultText))
        #expect(result.map(\.sourceLine) == [10, 11, 12, 14, 15, 16, 17])
    }

    @Test func notBeforeMayEqualWithin() throws {
        let result = try expectations("  - transport: { endsOn: sse, within: 10s, notBefore: 10s }")
        #expect(result.map(\.kind) == [
            .endsOnTransport(group: nil, transport: .sse, withinMilliseconds: 10_000, notBeforeMilliseconds: 10_000),
        ])
    }

    @Test(arguments: [
        // recovery.
        ("  - recovery: { p98: { atMost: 1s } }",
         "t.yaml:10:17: expect[0].recovery: unknown key 'p98' (did you mean 'p95' or 'p99'?)"),
        ("  - recovery: { p99: { atLeast: 1s } }",
         "t.yaml:10:24: expect[0].recovery.p99: unknown key 'atLeast' (expected one of: atMost)"),
        ("  - recovery: partial",
         "t.yaml:10:15: expect[0].recovery: expected 'complete', 'incomplete' or { p99: { atMost: 20s } }, got 'partial'"),
        ("  - recovery: { p99: {} }", "t.yaml:10:22: expect[0].recovery.p99: needs a bound: atMost"),
        ("  - recovery: {}", "t.yaml:10:15: expect[0].recovery: needs a statistic (one of: avg, p50, p95, p99, max)"),
        ("  - recovery: { p99: { atMost: 20 } }",
         "t.yaml:10:32: expect[0].recovery.p99.atMost: duration needs a unit (ns, us, ms, s, min, h), got '20'"),
        // transport.
        ("  - transport: { group: lobby, endsOn: sse }",
         "t.yaml:10:25: expect[0].transport.group: no client group 'lobby' (groups: office, home)"),
        ("  - transport: { group: office }", "t.yaml:10:5: expect[0].transport: missing required key 'endsOn'"),
        ("  - transport: { endsOn: pigeon }",
         "t.yaml:10:26: expect[0].transport.endsOn: unknown transport 'pigeon' (expected one of: websocket, sse, sync)"),
        ("  - transport: { endsOn: sse, within: 10s, notBefore: 20s }",
         "t.yaml:10:55: expect[0].transport.notBefore: notBefore (20s) is after within (10s): no client can pass"),
        ("  - transport: { endsOn: sse, within: 0s }", "t.yaml:10:39: expect[0].transport.within: must be greater than 0, got 0s"),
        ("  - transport: { endsOn: sse, by: 1s }",
         "t.yaml:10:31: expect[0].transport: unknown key 'by' (expected one of: group, endsOn, within, notBefore)"),
        ("  - transport: sse", "t.yaml:10:16: expect[0].transport: expected a mapping, got 'sse'"),
        // One expectation per entry.
        ("  - recovery: complete\n    transport: { endsOn: sse }",
         "t.yaml:11:5: expect[0]: one expectation per list entry: start a new '- ' entry for 'transport'"),
    ])
    func expectationProblems(entries: String, expected: String) {
        #expect(error(entries) == expected)
    }
}
