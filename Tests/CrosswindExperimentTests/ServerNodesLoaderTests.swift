import Foundation
import NIOCore
import Testing

@testable import CrosswindExperiment

/// `server.nodes`, a middlebox's `sticky` and `restartServer.node`: what they read as, and bad
/// input, each with a message that says what is wrong and where.
@Suite struct ServerNodesLoaderTests {
    /// Three nodes, `office` behind `lb` and `home` behind `edge`; `server`, `lb` and `tail`
    /// (from line 13) vary.
    ///
    /// ```
    ///  1 kind: experiment
    ///  …
    ///  5   server: <server>
    ///  …
    ///  9   middleboxes:
    /// 10     - <lb>
    /// 11     - { name: edge, groups: [home] }
    /// 12 workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
    /// 13 <tail>
    /// ```
    static func experiment(server: String = "{ name: app, nodes: 3 }", lb: String = "{ name: lb, groups: [office] }", tail: String = "") -> String {
        """
        kind: experiment
        version: 1
        name: t
        topology:
          server: \(server)
          groups:
            - { name: office, count: 2, link: { latency: 20ms } }
            - { name: home, count: 1, link: {} }
          middleboxes:
            - \(lb)
            - { name: edge, groups: [home] }
        workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
        \(tail)
        """
    }

    static func error(server: String = "{ name: app, nodes: 3 }", lb: String = "{ name: lb, groups: [office] }", tail: String = "") -> String? {
        TestSupport.experimentError(experiment(server: server, lb: lb, tail: tail))?.description
    }

    @Test func readsNodesStickyAndTheNodeThatRestarts() throws {
        let yaml = Self.experiment(
            lb: "{ name: lb, groups: [office], sticky: true }",
            tail: "timeline:\n  - { at: 30s, restartServer: { node: app-2, down: 2s } }"
        )
        let experiment = try ExperimentLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: ".")
        #expect(experiment.topology.server.nodes == 3)
        #expect(experiment.topology.server.nodeNames == ["app-1", "app-2", "app-3"])
        #expect(experiment.topology.middleboxes.map(\.sticky) == [true, false])
        #expect(experiment.timeline.map(\.action) == [.restartServer(down: .seconds(2), persist: false, node: "app-2")])
        // One node keeps the server's name, and may be named in a restart.
        #expect(ServerSpec(name: "app").nodeNames == ["app"])
    }

    @Test(arguments: [
        (server: "{ name: app, nodes: 0 }", lb: "{ name: lb, groups: [office] }",
         expected: "t.yaml:5:31: topology.server.nodes: must be in 1...16, got 0"),
        (server: "{ name: app, nodes: three }", lb: "{ name: lb, groups: [office] }",
         expected: "t.yaml:5:31: topology.server.nodes: expected an integer, got 'three'"),
        (server: "{ name: app, node: 3 }", lb: "{ name: lb, groups: [office] }",
         expected: "t.yaml:5:24: topology.server: unknown key 'node' (did you mean 'nodes'?)"),
        (server: "{ name: app, nodes: 3 }", lb: "{ name: app-2, groups: [office] }",
         expected: "t.yaml:10:15: topology.middleboxes[0].name: 'app-2' is already the name of a server node (node names must be unique)"),
        (server: "{ name: app }", lb: "{ name: lb, groups: [office], sticky: true }",
         expected: "t.yaml:10:45: topology.middleboxes[0].sticky: sticky applies only with several server nodes (server.nodes above 1)"),
        (server: "{ name: app, nodes: 3 }", lb: "{ name: lb, groups: [office], sticky: sometimes }",
         expected: "t.yaml:10:45: topology.middleboxes[0].sticky: expected true or false, got 'sometimes'"),
    ])
    func topologyProblems(server: String, lb: String, expected: String) {
        #expect(Self.error(server: server, lb: lb) == expected)
    }

    @Test func severalNodesNeedEveryGroupBehindABalancer() {
        let yaml = Self.experiment().replacingOccurrences(of: "    - { name: edge, groups: [home] }\n", with: "")
        #expect(
            TestSupport.experimentError(yaml)?.description
                == "t.yaml:5:31: topology.server.nodes: with 3 server nodes every group must be behind a middlebox, which balances connections over them; not behind one: home"
        )
    }

    @Test(arguments: [
        ("  - { at: 30s, restartServer: { down: 2s } }",
         "t.yaml:14:31: timeline[0].restartServer: the server has 3 nodes: name the one that restarts with node (app-1, app-2, app-3)"),
        ("  - { at: 30s, restartServer: { node: app-4, down: 2s } }",
         "t.yaml:14:39: timeline[0].restartServer.node: no server node 'app-4' (nodes: app-1, app-2, app-3)"),
        ("  - { at: 30s, restartServer: { node: app-1, down: 2s, persist: true } }",
         "t.yaml:14:65: timeline[0].restartServer.persist: persist does not apply to a node of several: they share the log, which outlives every node"),
        ("  - { at: 30s, restartServer: { node: App-1, down: 2s } }",
         "t.yaml:14:39: timeline[0].restartServer.node: 'App-1' is not a valid node name (use lowercase letters, digits and '-')"),
        // Nodes restart independently, but one node not while it is down.
        ("  - { at: 30s, restartServer: { node: app-1, down: 5s } }\n  - { at: 32s, restartServer: { node: app-1, down: 1s } }",
         "t.yaml:15:11: timeline[1].at: restarts the server node app-1 at 32s while it is down from the restart at 30s until 35s (line 14)"),
    ])
    func restartProblems(entries: String, expected: String) {
        #expect(Self.error(tail: "timeline:\n" + entries) == expected)
    }

    @Test func twoNodesMayBeDownAtOnce() throws {
        let yaml = Self.experiment(
            tail: "timeline:\n  - { at: 30s, restartServer: { node: app-1, down: 5s } }\n  - { at: 32s, restartServer: { node: app-2, down: 5s } }"
        )
        #expect(try ExperimentLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: ".").timeline.count == 2)
    }
}
