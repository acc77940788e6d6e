import CrosswindNetwork
import NIOCore
import Testing

@testable import CrosswindExperiment

/// Firewall rules declared in a topology, firewall rules on a middlebox's or the server's links,
/// and a group's NAT changed from the timeline: how they load, and what is refused.
@Suite struct PathRulesLoaderTests {
    /// A topology with groups `office` (behind `corp-proxy`) and `home`; `rules` are the entries
    /// of its `firewall:`, the first on line 10.
    private static func topology(_ rules: String) -> String {
        """
        kind: topology
        version: 1
        name: t
        groups:
          - { name: office, count: 2, link: {} }
          - { name: home, count: 1, link: {} }
        middleboxes:
          - { name: corp-proxy, groups: [office] }
        firewall:
        """ + "\n" + rules + "\n"
    }

    /// An experiment with the topology of ``topology(_:)`` inline (its first rule on line 11) and
    /// `entries` under `timeline:` (the first on line 14 with one rule).
    private static func experiment(rules: String, timeline entries: String) -> String {
        """
        kind: experiment
        version: 1
        name: t
        topology:
          groups:
            - { name: office, count: 2, link: {} }
            - { name: home, count: 1, link: {} }
          middleboxes:
            - { name: corp-proxy, groups: [office] }
          firewall:
        """ + "\n" + rules + "\n" + """
        workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
        timeline:
        """ + "\n" + entries + "\n"
    }

    private func topologyProblems(_ rules: String) -> [String] {
        TestSupport.topologyProblems(Self.topology(rules)).map(\.description)
    }

    private func experimentProblems(rules: String, timeline: String) -> [String] {
        TestSupport.experimentProblems(Self.experiment(rules: rules, timeline: timeline)).map(\.description)
    }

    @Test func aTopologyDeclaresRulesOnGroupsAMiddleboxAndTheServer() throws {
        let topology = try ExperimentLoader.parseTopology(yaml: Self.topology("""
              - { name: egress, middlebox: corp-proxy, port: 443, action: drop }
              - { name: home-out, group: home, port: 80, action: reject, direction: outbound }
              - { name: all-in, server: true, port: 8080, action: drop }
              - { name: both, groups: all, port: 80, action: reject }
            """), file: "net.yaml")
        #expect(topology.firewall == [
            FirewallRule(name: "egress", target: .middlebox("corp-proxy"), port: 443, action: .drop),
            FirewallRule(name: "home-out", target: "home", port: 80, action: .reject, direction: .outbound),
            FirewallRule(name: "all-in", target: .server, port: 8080, action: .drop),
            FirewallRule(name: "both", target: .all, port: 80, action: .reject),
        ])
        #expect(topology.validationProblems().isEmpty)
    }

    @Test func badTopologyRulesAreRefusedWithTheirKeyPath() {
        #expect(topologyProblems("  - { name: egress, middlebox: nowhere, port: 443, action: drop }") == [
            "net.yaml:10:32: firewall[0].middlebox: no middlebox 'nowhere' (middleboxes: corp-proxy)"
        ])
        #expect(topologyProblems("  - { name: lab-in, group: lab, port: 80, action: drop }") == [
            "net.yaml:10:28: firewall[0].group: no client group 'lab' (groups: office, home)"
        ])
        let direction = topologyProblems("  - { name: x, group: home, port: 80, action: drop, direction: sideways }")
        #expect(direction == ["net.yaml:10:64: firewall[0].direction: unknown firewall direction 'sideways' (expected one of: inbound, outbound)"])
        let revert = topologyProblems("  - { name: x, group: home, port: 80, action: drop, for: 5s }")
        #expect(revert.count == 1)
        #expect(revert.first?.contains("firewall[0]") == true)
        #expect(revert.first?.contains("a topology's rule stands from the start") == true)
        #expect(topologyProblems("  - { name: x, middlebox: corp-proxy, group: home, port: 80, action: drop }") == [
            "net.yaml:10:16: firewall[0].middlebox: give one of group, groups, middlebox or server, not several"
        ])
    }

    @Test func aSwiftTopologyGetsTheSameChecks() {
        let topology = Topology(
            name: "t", groups: [ClientGroup(name: "office", count: 1, link: LinkPair())],
            firewall: [FirewallRule(name: "up", target: .middlebox("nowhere"), port: 0, action: .drop)]
        )
        #expect(topology.validationProblems().map(\.description) == [
            "firewall[0].port: must be in 1...65535, got 0",
            "firewall[0].middlebox: no middlebox 'nowhere' (the topology has no middleboxes)",
        ])
    }

    @Test func theTimelineAddsAndRemovesRulesOnAMiddleboxAndTheServer() throws {
        let experiment = try ExperimentLoader.parse(yaml: Self.experiment(
            rules: "    - { name: egress, middlebox: corp-proxy, port: 443, action: drop }",
            timeline: """
              - { at: 5s, firewall: { name: cut, server: true, port: 80, action: reject, direction: outbound, for: 5s } }
              - { at: 20s, removeFirewall: { name: egress, middlebox: corp-proxy } }
              - { at: 30s, firewall: { name: again, middlebox: corp-proxy, port: 443, action: drop } }
              - { at: 40s, removeFirewall: { name: again, middlebox: corp-proxy } }
            """), file: "t.yaml", baseDirectory: ".")
        #expect(experiment.timeline.map(\.action) == [
            .addFirewall(name: "cut", group: .server, port: 80, action: .reject, direction: .outbound),
            .removeFirewall(name: "egress", group: .middlebox("corp-proxy")),
            .addFirewall(name: "again", group: .middlebox("corp-proxy"), port: 443, action: .drop),
            .removeFirewall(name: "again", group: .middlebox("corp-proxy")),
        ])
        #expect(experiment.validationProblems().isEmpty)
    }

    @Test func aRuleIsRemovedOnlyWhereItStands() {
        // The topology's rule is on the proxy's upstream, not on the office's links.
        #expect(experimentProblems(
            rules: "    - { name: egress, middlebox: corp-proxy, port: 443, action: drop }",
            timeline: "  - { at: 20s, removeFirewall: { name: egress, group: office } }"
        ) == [
            "t.yaml:14:40: timeline[0].removeFirewall.name: no firewall 'egress' was added to group 'office' earlier in the timeline or in the topology's firewall"
        ])
        #expect(experimentProblems(
            rules: "    - { name: egress, middlebox: corp-proxy, port: 443, action: drop }",
            timeline: "  - { at: 20s, firewall: { name: x, middlebox: elsewhere, port: 80, action: drop } }"
        ) == ["t.yaml:14:48: timeline[0].firewall.middlebox: no middlebox 'elsewhere' (middleboxes: corp-proxy)"])
    }

    @Test func setNatSwitchesChangesAndRemovesAGroupsNAT() throws {
        let events = try TestSupport.twoGroupTimeline("""
              - { at: 10s, setNat: { group: office, idleTimeout: 30s } }
              - { at: 20s, setNat: { groups: all, idleTimeout: off, for: 10s } }
            """)
        #expect(events == [
            TimelineEvent(at: .seconds(10), action: .setNat(group: "office", idleTimeout: .seconds(30)), sourceLine: 10),
            TimelineEvent(at: .seconds(20), action: .setNat(group: .all, idleTimeout: nil), revertAfter: .seconds(10), sourceLine: 11),
        ])
    }

    @Test func badSetNatEntriesAreRefused() {
        func problems(_ entry: String) -> [String] {
            TestSupport.experimentProblems(TestSupport.twoGroupExperiment("timeline:\n" + entry)).map(\.description)
        }
        #expect(problems("  - { at: 10s, setNat: { group: lab, idleTimeout: 30s } }") == [
            "t.yaml:10:33: timeline[0].setNat.group: no client group 'lab' (groups: office, home)"
        ])
        #expect(problems("  - { at: 10s, setNat: { group: office, idleTimeout: 0s } }") == [
            "t.yaml:10:54: timeline[0].setNat.idleTimeout: must be greater than 0, got 0s"
        ])
        let middlebox = problems("  - { at: 10s, setNat: { middlebox: corp-proxy, idleTimeout: 30s } }")
        #expect(middlebox.first?.contains("unknown key 'middlebox'") == true)
        let missing = problems("  - { at: 10s, setNat: { group: office } }")
        #expect(missing.first?.contains("idleTimeout") == true)
        // Built in Swift: a middlebox has no NAT.
        var experiment = Experiment(
            name: "t", topology: Topology(name: "t", groups: [ClientGroup(name: "g", count: 1, link: LinkPair())]),
            workload: Workload(ratePerSecond: 1, messageBytes: 10, duration: .seconds(10))
        )
        experiment.timeline = [TimelineEvent(at: .seconds(1), action: .setNat(group: .server, idleTimeout: .seconds(5)))]
        #expect(experiment.validationProblems().map(\.description) == [
            "timeline[0].setNat: setNat applies to client groups (their NAT), not to server"
        ])
    }
}
