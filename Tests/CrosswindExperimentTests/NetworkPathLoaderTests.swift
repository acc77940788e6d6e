import CrosswindNetwork
import NIOCore
import Testing

@testable import CrosswindExperiment

/// The keys of the network-layer pieces: a group's `nat:` and `sharedLink:`, a firewall rule's
/// `direction:`, and link actions on a middlebox's or the server's links.
@Suite struct NetworkPathLoaderTests {
    /// Two groups, `office` behind the middlebox `corp-proxy` and `home` direct, and `timeline`.
    private static func experiment(timeline: String) -> String {
        """
        kind: experiment
        version: 1
        name: t
        topology:
          groups:
            - { name: office, count: 2, link: { latency: 20ms } }
            - { name: home, count: 1, link: {} }
          middleboxes:
            - { name: corp-proxy, groups: [office] }
        workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
        timeline:

        """ + timeline + "\n"
    }

    private static func problems(_ timeline: String) -> [String] {
        TestSupport.experimentProblems(experiment(timeline: timeline)).map(\.description)
    }

    @Test func aGroupReadsItsNATAndSharedLink() throws {
        let group = try TestSupport.parsedGroup("nat: { idleTimeout: 350s }\nsharedLink: true\nlink: { bandwidth: 10Mbit, queue: 1MiB }")
        #expect(group.nat == NATSettings(idleTimeout: .seconds(350)))
        #expect(group.sharedLink)
        let plain = try TestSupport.parsedGroup("")
        #expect(plain.nat == nil && !plain.sharedLink)
    }

    @Test func badGroupKeysAreTold() {
        let noBandwidth = TestSupport.experimentProblems(TestSupport.experiment(group: "sharedLink: true")).map(\.description)
        #expect(noBandwidth == ["t.yaml:8:19: topology.groups[0].sharedLink: a shared link needs a bandwidth both ways (the rate its one queue drains at); up and down has none"])
        let oneWay = TestSupport.experimentProblems(TestSupport.experiment(group: "sharedLink: true\nlink: { up: { bandwidth: 1Mbit }, down: {} }"))
        #expect(oneWay.map(\.description).first?.hasSuffix("down has none") == true)
        let zero = TestSupport.experimentProblems(TestSupport.experiment(group: "nat: { idleTimeout: 0s }")).map(\.description)
        #expect(zero == ["t.yaml:8:27: topology.groups[0].nat.idleTimeout: must be greater than 0, got 0s"])
        let missing = TestSupport.experimentProblems(TestSupport.experiment(group: "nat: {}")).map(\.description)
        #expect(missing.count == 1 && missing[0].contains("idleTimeout"))
    }

    @Test func linkActionsMayNameAMiddleboxOrTheServer() throws {
        let timeline = try ExperimentLoader.parse(yaml: Self.experiment(timeline: """
              - { at: 10s, partition: { middlebox: corp-proxy, for: 8s } }
              - { at: 20s, setLink: { server: true, direction: down, latency: 50ms } }
              - { at: 30s, flap: { middlebox: corp-proxy, period: 2s, up: 50%, for: 10s } }
              - { at: 40s, heal: { server: true } }
              - { at: 0s, firewall: { name: out, group: home, port: 80, action: reject, direction: outbound } }
            """), file: "t.yaml", baseDirectory: ".").timeline
        #expect(timeline.map(\.action) == [
            .partition(group: .middlebox("corp-proxy"), direction: .both),
            .setLink(group: .server, direction: .down, link: LinkConfiguration(latency: .milliseconds(50))),
            .flap(group: .middlebox("corp-proxy"), direction: .both, period: .seconds(2), upFraction: 0.5, until: .seconds(40)),
            .heal(group: .server, direction: .both),
            .addFirewall(name: "out", group: "home", port: 80, action: .reject, direction: .outbound),
        ])
        let topology = try ExperimentLoader.parse(yaml: Self.experiment(timeline: "  []"), file: "t.yaml", baseDirectory: ".").topology
        #expect(GroupSelection.middlebox("corp-proxy").names(in: topology) == ["office"])
        #expect(GroupSelection.server.names(in: topology) == ["office", "home"])
    }

    @Test(arguments: [
        ("  - { at: 1s, partition: { middlebox: lobby-proxy } }", "no middlebox 'lobby-proxy' (middleboxes: corp-proxy)"),
        ("  - { at: 1s, partition: { server: false } }", "write server: true to act on the server's links, or leave it out"),
        ("  - { at: 1s, partition: { group: office, middlebox: corp-proxy } }", "give one of group, groups, middlebox or server, not several"),
        ("  - { at: 1s, setNat: { middlebox: corp-proxy, idleTimeout: 30s } }", "unknown key 'middlebox'"),
        ("  - { at: 1s, firewall: { name: f, middlebox: lobby-proxy, port: 80, action: drop } }", "no middlebox 'lobby-proxy' (middleboxes: corp-proxy)"),
        ("  - { at: 1s, firewall: { name: f, group: home, port: 80, action: drop, direction: up } }", "'up'"),
    ])
    func badTargetsAreTold(timeline: String, expected: String) {
        let problems = Self.problems(timeline)
        #expect(problems.contains { $0.contains(expected) }, "\(problems)")
    }
}
