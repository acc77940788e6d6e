import CrosswindNetwork
import Foundation
import NIOCore
import Testing

@testable import CrosswindExperiment

/// The `timeline:` list of an experiment: every action, the defaults, and every kind of bad input.
///
/// Uses ``TestSupport/twoGroupExperiment(_:)``: groups `office` and `home`, a run that ends at 72s,
/// `timeline:` on line 9 and its first entry on line 10.
@Suite struct TimelineLoaderTests {
    private func timeline(_ entries: String) throws -> [TimelineEvent] {
        try TestSupport.twoGroupTimeline(entries)
    }

    private func error(_ entries: String) -> String? {
        TestSupport.experimentError(TestSupport.twoGroupExperiment("timeline:\n" + entries))?.description
    }

    @Test func everyActionInFileOrder() throws {
        let events = try timeline("""
              - at: 20s
                partition: { group: office, direction: both }
              - at: 35s
                heal: { group: office }
              - at: 10s
                setLink: { group: home, direction: down, latency: 200ms, loss: 5% }
              - at: 0s
                firewall: { name: block-ws, group: office, port: 80, action: drop }
              - at: 60s
                removeFirewall: { name: block-ws, group: office }
              - at: 5s
                flap: { group: office, direction: up, period: 10s, up: 70%, until: 60s }
              - { at: 71.5s, partition: { group: home, direction: down } }
              - at: 1s
                firewall: { name: reset.all_1, group: home, port: 65535, action: reject }
            """)
        #expect(events == [
            TimelineEvent(at: .seconds(20), action: .partition(group: "office", direction: .both), sourceLine: 10),
            TimelineEvent(at: .seconds(35), action: .heal(group: "office", direction: .both), sourceLine: 12),
            TimelineEvent(
                at: .seconds(10),
                action: .setLink(
                    group: "home", direction: .down,
                    link: LinkConfiguration(latency: .milliseconds(200), loss: .independent(probability: 0.05))
                ),
                sourceLine: 14
            ),
            TimelineEvent(at: .zero, action: .addFirewall(name: "block-ws", group: "office", port: 80, action: .drop), sourceLine: 16),
            TimelineEvent(at: .seconds(60), action: .removeFirewall(name: "block-ws", group: "office"), sourceLine: 18),
            TimelineEvent(
                at: .seconds(5),
                action: .flap(group: "office", direction: .up, period: .seconds(10), upFraction: 0.7, until: .seconds(60)),
                sourceLine: 20
            ),
            TimelineEvent(at: .milliseconds(71_500), action: .partition(group: "home", direction: .down), sourceLine: 22),
            TimelineEvent(
                at: .seconds(1), action: .addFirewall(name: "reset.all_1", group: "home", port: 65535, action: .reject),
                sourceLine: 23
            ),
        ])
        #expect(events.map(\.action.group) == ["office", "office", "home", "office", "office", "office", "home", "home"])
    }

    @Test func defaults() throws {
        let events = try timeline("""
              - at: 1s
                partition: { group: home }
              - at: 2s
                heal: { group: home }
              - at: 3s
                setLink: { group: office }
              - at: 4s
                flap: { group: office, period: 500ms, up: 0.25, until: 2min }
            """)
        #expect(events.map(\.action) == [
            .partition(group: "home", direction: .both),
            .heal(group: "home", direction: .both),
            .setLink(group: "office", direction: .both, link: LinkConfiguration()),
            // `until` may lie beyond the end of the run.
            .flap(group: "office", direction: .both, period: .milliseconds(500), upFraction: 0.25, until: .minutes(2)),
        ])
        #expect(events.map(\.at) == [.seconds(1), .seconds(2), .seconds(3), .seconds(4)])
    }

    @Test func absentOrEmptyTimelineIsEmpty() throws {
        let absent = try ExperimentLoader.parse(yaml: TestSupport.twoGroupExperiment(""), file: "t.yaml", baseDirectory: ".")
        #expect(absent.timeline == [])
        let empty = try ExperimentLoader.parse(yaml: TestSupport.twoGroupExperiment("timeline: []"), file: "t.yaml", baseDirectory: ".")
        #expect(empty.timeline == [])
    }

    @Test func firewallsCanBeRemovedAtTheTimeTheyAreAddedAndAddedAgain() throws {
        let events = try timeline("""
              - at: 10s
                firewall: { name: fw, group: office, port: 80, action: drop }
              - at: 10s
                removeFirewall: { name: fw, group: office }
              - at: 30s
                firewall: { name: fw, group: office, port: 80, action: reject }
              - at: 40s
                removeFirewall: { name: fw, group: office }
            """)
        #expect(events.count == 4)
        #expect(events[3].action == .removeFirewall(name: "fw", group: "office"))
    }

    @Test func groupsMayComeFromATopologyFile() throws {
        try TestSupport.withScratchDirectory("timeline-topology") { root in
            try TestSupport.write("""
                kind: topology
                version: 1
                name: net
                groups: [{ name: branch, count: 1, link: {} }]
                """, to: "net.yaml", in: root)
            let yaml = """
                kind: experiment
                version: 1
                name: t
                topology: net.yaml
                workload: { rate: 1, size: 1, duration: 10s }
                timeline:
                  - { at: 1s, heal: { group: office } }
                """
            #expect(TestSupport.experimentError(yaml, baseDirectory: root)?.description
                == "t.yaml:7:30: timeline[0].heal.group: no client group 'office' (groups: branch)")
            let fixed = yaml.replacingOccurrences(of: "group: office", with: "group: branch")
            let experiment = try ExperimentLoader.parse(yaml: fixed, file: "t.yaml", baseDirectory: root)
            #expect(experiment.timeline == [TimelineEvent(at: .seconds(1), action: .heal(group: "branch", direction: .both), sourceLine: 7)])
        }
    }

    @Test(arguments: [
        // Entry structure: unknown action key, two actions, no action, no `at`, not a mapping.
        ("  - at: 1s\n    partiton: { group: office }",
         "t.yaml:11:5: timeline[0]: unknown key 'partiton' (did you mean 'partition'?)"),
        ("  - at: 1s\n    partition: { group: office }\n    heal: { group: office }",
         "t.yaml:12:5: timeline[0]: one action per list entry: start a new '- at:' entry for 'heal'"),
        ("  - at: 1s",
         "t.yaml:10:5: timeline[0]: needs an action (one of: partition, heal, setLink, firewall, removeFirewall, flap, setProxyPolicy, restartServer, setNat)"),
        ("  - heal: { group: office }", "t.yaml:10:5: timeline[0]: missing required key 'at'"),
        ("  - 20s", "t.yaml:10:5: timeline[0]: expected a mapping, got '20s'"),
        // `at`: the run ends at 72s.
        ("  - at: 72s\n    heal: { group: office }",
         "t.yaml:10:9: timeline[0].at: must be before the run ends at 72s (workload start + duration + drain), got 72s"),
        ("  - at: 1s\n    heal: { group: office }\n  - at: 2min\n    heal: { group: office }",
         "t.yaml:12:9: timeline[1].at: must be before the run ends at 72s (workload start + duration + drain), got 2min"),
        ("  - at: -1s\n    heal: { group: office }", "t.yaml:10:9: timeline[0].at: duration must not be negative, got '-1s'"),
        ("  - at: 5\n    heal: { group: office }", "t.yaml:10:9: timeline[0].at: duration needs a unit (ns, us, ms, s, min, h), got '5'"),
        // Groups and directions.
        ("  - at: 1s\n    heal: { group: lobby }", "t.yaml:11:20: timeline[0].heal.group: no client group 'lobby' (groups: office, home)"),
        ("  - at: 1s\n    heal: {}", "t.yaml:11:5: timeline[0].heal: missing required key 'group'"),
        ("  - at: 1s\n    partition: { group: office, direction: sideways }",
         "t.yaml:11:44: timeline[0].partition.direction: unknown direction 'sideways' (expected one of: up, down, both)"),
        ("  - at: 1s\n    partition: { group: office, port: 80 }",
         "t.yaml:11:33: timeline[0].partition: unknown key 'port' (expected one of: group, groups, middlebox, server, direction, for)"),
        // setLink: the keys and limits of a link spec.
        ("  - at: 1s\n    setLink: { group: office, latncy: 1ms }",
         "t.yaml:11:31: timeline[0].setLink: unknown key 'latncy' (did you mean 'latency'?)"),
        ("  - at: 1s\n    setLink: { group: office, latency: 61s }", "t.yaml:11:40: timeline[0].setLink.latency: must be at most 1min, got 61s"),
        // firewall.
        ("  - at: 1s\n    firewall: { name: fw, group: office, port: 0, action: drop }",
         "t.yaml:11:48: timeline[0].firewall.port: must be in 1...65535, got 0"),
        ("  - at: 1s\n    firewall: { name: fw, group: office, port: 80, action: block }",
         "t.yaml:11:60: timeline[0].firewall.action: unknown firewall action 'block' (expected one of: drop, reject)"),
        ("  - at: 1s\n    firewall: { name: fw, group: office, port: 80 }", "t.yaml:11:5: timeline[0].firewall: missing required key 'action'"),
        // removeFirewall: without a matching firewall earlier in the file, or before it in time.
        ("  - at: 1s\n    removeFirewall: { name: block-ws, group: office }",
         "t.yaml:11:29: timeline[0].removeFirewall.name: no firewall 'block-ws' was added to group 'office' earlier in the timeline"),
        ("  - at: 1s\n    firewall: { name: block-ws, group: home, port: 80, action: drop }\n  - at: 2s\n    removeFirewall: { name: block-ws, group: office }",
         "t.yaml:13:29: timeline[1].removeFirewall.name: no firewall 'block-ws' was added to group 'office' earlier in the timeline"),
        ("  - at: 1s\n    firewall: { name: block-sse, group: office, port: 80, action: reject }\n  - at: 2s\n    removeFirewall: { name: block-ws, group: office }",
         "t.yaml:13:29: timeline[1].removeFirewall.name: no firewall 'block-ws' was added to group 'office' earlier in the timeline (added to it so far: block-sse)"),
        ("  - at: 50s\n    removeFirewall: { name: block-ws, group: office }\n  - at: 10s\n    firewall: { name: block-ws, group: office, port: 80, action: drop }",
         "t.yaml:11:29: timeline[0].removeFirewall.name: no firewall 'block-ws' was added to group 'office' earlier in the timeline"),
        ("  - at: 30s\n    firewall: { name: block-ws, group: office, port: 80, action: drop }\n  - at: 20s\n    removeFirewall: { name: block-ws, group: office }",
         "t.yaml:12:9: timeline[1].at: removes firewall 'block-ws' of group 'office' at 20s, before it is added at 30s (line 10)"),
        // flap.
        ("  - at: 5s\n    flap: { group: office, period: 10s, up: 100%, until: 60s }",
         "t.yaml:11:45: timeline[0].flap.up: must be strictly between 0 and 1 (or 0% and 100%), got 100%"),
        ("  - at: 5s\n    flap: { group: office, period: 10s, up: 0, until: 60s }",
         "t.yaml:11:45: timeline[0].flap.up: must be strictly between 0 and 1 (or 0% and 100%), got 0"),
        ("  - at: 5s\n    flap: { group: office, period: 10s, up: 1.5, until: 60s }",
         "t.yaml:11:45: timeline[0].flap.up: must be strictly between 0 and 1 (or 0% and 100%), got 1.5"),
        ("  - at: 5s\n    flap: { group: office, period: 10s, up: lots, until: 60s }",
         "t.yaml:11:45: timeline[0].flap.up: expected a fraction like 0.7 or 70%, got 'lots'"),
        ("  - at: 20s\n    flap: { group: office, period: 10s, up: 0.5, until: 20s }",
         "t.yaml:11:57: timeline[0].flap.until: must be after at (20s), got 20s"),
        ("  - at: 20s\n    flap: { group: office, period: 10s, up: 0.5, until: 10s }",
         "t.yaml:11:57: timeline[0].flap.until: must be after at (20s), got 10s"),
        ("  - at: 5s\n    flap: { group: office, period: 0s, up: 0.5, until: 60s }",
         "t.yaml:11:36: timeline[0].flap.period: must be greater than 0, got 0s"),
        ("  - at: 5s\n    flap: { group: office, period: 10s, up: 0.5 }", "t.yaml:11:5: timeline[0].flap: missing required key 'until'"),
    ])
    func timelineProblems(entries: String, expected: String) {
        #expect(error(entries) == expected)
    }

    @Test func timelineMustBeAList() {
        #expect(TestSupport.experimentError(TestSupport.twoGroupExperiment("timeline: { at: 1s }"))?.description
            == "t.yaml:9:11: timeline: expected a list, got a mapping")
    }
}
