import CrosswindNetwork
import CrosswindReport
import Foundation
import NIOCore
import Testing

@testable import CrosswindExperiment

/// `restartServer:` in a timeline: the action, its default, and bad input, each with a message
/// that says what is wrong and where (``TestSupport/twoGroupExperiment(_:)``: the run ends at
/// 72 s, the first timeline entry is on line 10).
@Suite struct RestartServerLoaderTests {
    private func error(_ entries: String) -> String? {
        TestSupport.experimentError(TestSupport.twoGroupExperiment("timeline:\n" + entries))?.description
    }

    @Test func readsTheActionAndItsDefault() throws {
        let events = try TestSupport.twoGroupTimeline("""
              - at: 30s
                restartServer: { down: 2s, persist: true }
              - { at: 50s, restartServer: { down: 1500ms } }
            """)
        #expect(events == [
            TimelineEvent(at: .seconds(30), action: .restartServer(down: .seconds(2), persist: true), sourceLine: 10),
            TimelineEvent(at: .seconds(50), action: .restartServer(down: .milliseconds(1500), persist: false), sourceLine: 12),
        ])
        #expect(events[0].action.groups == nil)
        #expect(!events[0].action.isRevertible)
    }

    @Test(arguments: [
        ("  - at: 30s\n    restartServer: { down: -2s }",
         "t.yaml:11:28: timeline[0].restartServer.down: duration must not be negative, got '-2s'"),
        ("  - at: 30s\n    restartServer: { down: 0s }",
         "t.yaml:11:28: timeline[0].restartServer.down: must be greater than 0, got 0s"),
        ("  - at: 30s\n    restartServer: { down: 2 }",
         "t.yaml:11:28: timeline[0].restartServer.down: duration needs a unit (ns, us, ms, s, min, h), got '2'"),
        ("  - at: 30s\n    restartServer: {}", "t.yaml:11:5: timeline[0].restartServer: missing required key 'down'"),
        ("  - at: 30s\n    restartServer: { down: 2s, persits: true }",
         "t.yaml:11:32: timeline[0].restartServer: unknown key 'persits' (did you mean 'persist'?)"),
        ("  - at: 30s\n    restartServer: { down: 2s, group: office }",
         "t.yaml:11:32: timeline[0].restartServer: unknown key 'group' (expected one of: down, persist, node)"),
        ("  - at: 30s\n    restartServer: { down: 2s, persist: maybe }",
         "t.yaml:11:41: timeline[0].restartServer.persist: expected true or false, got 'maybe'"),
        ("  - at: 30s\n    restartServer: { down: 2s, for: 5s }",
         "t.yaml:11:32: timeline[0].restartServer: 'for' does not apply to restartServer: a restart is not undone: `down` says when the server is back"),
        ("  - at: 30s\n    restartServer: 2s", "t.yaml:11:20: timeline[0].restartServer: expected a mapping, got '2s'"),
        // The server must be back before the run ends (72 s), and one restart at a time.
        ("  - at: 70s\n    restartServer: { down: 2s }",
         "t.yaml:11:28: timeline[0].restartServer.down: the server must be back before the run ends at 72s, got back at 72s (at + down)"),
        ("  - at: 30s\n    restartServer: { down: 5s }\n  - at: 33s\n    restartServer: { down: 1s }",
         "t.yaml:12:9: timeline[1].at: restarts the server at 33s while it is down from the restart at 30s until 35s (line 10)"),
    ])
    func problems(entries: String, expected: String) {
        #expect(error(entries) == expected)
    }

    @Test func restartsOneAfterAnotherAreFine() throws {
        let events = try TestSupport.twoGroupTimeline("""
              - { at: 35s, restartServer: { down: 5s } }
              - { at: 30s, restartServer: { down: 5s, persist: true } }
            """)
        #expect(events.count == 2)
    }

    @Test func recoveryIncompleteIsAnExpectation() throws {
        let experiment = try ExperimentLoader.parse(
            yaml: TestSupport.twoGroupExperiment("expect:\n  - recovery: incomplete\n  - recovery: complete"), file: "t.yaml", baseDirectory: ".")
        #expect(experiment.expectations.map(\.kind) == [Expectation.Kind.everyRecoveryIncomplete, .noIncompleteRecovery])
        #expect(experiment.expectations.first?.text == "every client told its recovery was incomplete")
        #expect(TestSupport.experimentError(TestSupport.twoGroupExperiment("expect:\n  - recovery: partial"))?.description
            == "t.yaml:10:15: expect[0].recovery: expected 'complete', 'incomplete' or { p99: { atMost: 20s } }, got 'partial'")
    }
}
