import CrosswindNetwork
import NIOCore
import Testing

@testable import CrosswindExperiment

/// Timeline actions on several groups (`groups: [a, b]`, `groups: all`) and actions that undo
/// themselves (`for:`).
///
/// Uses ``TestSupport/twoGroupExperiment(_:)``: groups `office` and `home`, a run that ends at 72s,
/// `timeline:` on line 9 and its first entry on line 10.
@Suite struct TimelineTargetsTests {
    private func timeline(_ entries: String) throws -> [TimelineEvent] {
        try TestSupport.twoGroupTimeline(entries)
    }

    private func problems(_ entries: String) -> [String] {
        TestSupport.experimentProblems(TestSupport.twoGroupExperiment("timeline:\n" + entries)).map(\.description)
    }

    @Test func groupListsAllAndFor() throws {
        let events = try timeline("""
              - at: 10s
                partition: { groups: [office, home], direction: both, for: 10s }
              - at: 20s
                heal: { groups: all }
              - at: 30s
                setLink: { groups: all, latency: 100ms, for: 5s }
              - at: 0s
                firewall: { name: fw, groups: [home], port: 80, action: reject, for: 1min }
              - at: 5s
                flap: { group: office, period: 2s, up: 50%, for: 20s }
              - at: 40s
                removeFirewall: { name: fw, group: home }
              - at: 50s
                partition: { group: home, direction: up, for: 1.5s }
            """)
        #expect(events == [
            TimelineEvent(
                at: .seconds(10), action: .partition(group: ["office", "home"], direction: .both), revertAfter: .seconds(10),
                sourceLine: 10
            ),
            TimelineEvent(at: .seconds(20), action: .heal(group: .all, direction: .both), sourceLine: 12),
            TimelineEvent(
                at: .seconds(30), action: .setLink(group: .all, direction: .both, link: LinkConfiguration(latency: .milliseconds(100))),
                revertAfter: .seconds(5), sourceLine: 14
            ),
            TimelineEvent(
                at: .zero, action: .addFirewall(name: "fw", group: ["home"], port: 80, action: .reject), revertAfter: .minutes(1),
                sourceLine: 16
            ),
            // A flap's `for` is its `until`, counted from `at`.
            TimelineEvent(
                at: .seconds(5),
                action: .flap(group: "office", direction: .both, period: .seconds(2), upFraction: 0.5, until: .seconds(25)),
                sourceLine: 18
            ),
            TimelineEvent(at: .seconds(40), action: .removeFirewall(name: "fw", group: "home"), sourceLine: 20),
            TimelineEvent(
                at: .seconds(50), action: .partition(group: "home", direction: .up), revertAfter: .milliseconds(1500), sourceLine: 22
            ),
        ])
        #expect(events.map(\.action.group) == [nil, nil, nil, nil, "office", "home", "home"])
        #expect(events.map(\.action.groups) == [["office", "home"], .all, .all, ["home"], "office", "home", "home"])
    }

    @Test func aSelectionNamesItsGroups() throws {
        let topology = Topology(name: "t", groups: [
            ClientGroup(name: "a", count: 1, link: LinkPair()), ClientGroup(name: "b", count: 1, link: LinkPair()),
        ])
        #expect(GroupSelection.all.names(in: topology) == ["a", "b"])
        #expect(GroupSelection.groups(["b", "a"]).names(in: topology) == ["b", "a"])
        #expect(GroupSelection.group("b").names(in: topology) == ["b"])
        #expect(TimelineAction.heal(group: "a", direction: .both).isRevertible == false)
        #expect(TimelineAction.partition(group: .all, direction: .both).isRevertible)
    }

    @Test(arguments: [
        // group and groups: exactly one of them.
        ("  - at: 1s\n    partition: { group: office, groups: [home] }",
         "t.yaml:11:33: timeline[0].partition.groups: give either group (one) or groups (several or all), not both"),
        ("  - at: 1s\n    partition: { groups: [] }", "t.yaml:11:26: timeline[0].partition.groups: needs at least one client group"),
        ("  - at: 1s\n    partition: { groups: [office, lobby] }",
         "t.yaml:11:35: timeline[0].partition.groups[1]: no client group 'lobby' (groups: office, home)"),
        ("  - at: 1s\n    partition: { groups: [office, office] }",
         "t.yaml:11:35: timeline[0].partition.groups[1]: 'office' is listed twice (first at groups[0])"),
        ("  - at: 1s\n    partition: { groups: office }",
         "t.yaml:11:26: timeline[0].partition.groups: expected a list of client group names or 'all', got 'office' (for one group write group: office)"),
        ("  - at: 1s\n    partition: { group: all }",
         "t.yaml:11:25: timeline[0].partition.group: no client group 'all' (groups: office, home); for every group write groups: all"),
        // for: only on what can be undone, and longer than nothing.
        ("  - at: 1s\n    heal: { group: office, for: 10s }",
         "t.yaml:11:28: timeline[0].heal: 'for' does not apply to heal: a repair is not undone (it applies to partition, setLink, firewall, flap, setProxyPolicy and setNat)"),
        ("  - at: 1s\n    partition: { group: office, for: 0s }", "t.yaml:11:38: timeline[0].partition.for: must be greater than 0, got 0s"),
        ("  - at: 1s\n    flap: { group: office, period: 10s, up: 0.5, until: 60s, for: 10s }",
         "t.yaml:11:62: timeline[0].flap.for: give either until or for, not both"),
        // removeFirewall on several groups: each must have had the rule added.
        ("  - at: 1s\n    firewall: { name: fw, group: office, port: 80, action: drop }\n  - at: 2s\n    removeFirewall: { name: fw, groups: [office, home] }",
         "t.yaml:13:29: timeline[1].removeFirewall.name: no firewall 'fw' was added to group 'home' earlier in the timeline"),
    ])
    func problems(entries: String, expected: String) {
        #expect(problems(entries) == [expected])
    }

    @Test func aFirewallOnEveryGroupMayBeRemovedFromEach() throws {
        let events = try timeline("""
              - { at: 1s, firewall: { name: fw, groups: all, port: 80, action: drop } }
              - { at: 2s, removeFirewall: { name: fw, group: home } }
              - { at: 3s, removeFirewall: { name: fw, groups: [office] } }
            """)
        #expect(events.count == 3)
    }
}
