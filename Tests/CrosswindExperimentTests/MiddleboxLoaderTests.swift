import CrosswindMiddlebox
import CrosswindNetwork
import Foundation
import NIOCore
import Testing

@testable import CrosswindExperiment

/// `middleboxes:` in a topology and the timeline's `setProxyPolicy:` action: defaults, every key,
/// and every kind of bad input with its exact `file:line:column: message`.
@Suite struct MiddleboxLoaderTests {
    /// A topology file with groups `office` (2 clients, name on line 5), `branch` (line 6) and
    /// `home` (line 7); `middleboxes` is appended from line 9 on, so a block entry's `- name:` is
    /// on line 9 (key at column 5, value at 11) and its next key on line 10.
    ///
    /// ```
    /// 1 kind: topology
    /// 2 version: 1
    /// 3 name: net
    /// 4 groups:
    /// 5   - { name: office, count: 2, link: {} }
    /// 6   - { name: branch, count: 1, link: {} }
    /// 7   - { name: home, count: 1, link: {} }
    /// 8 middleboxes:
    /// 9 <middleboxes>
    /// ```
    private static func topology(_ middleboxes: String) -> String {
        """
        kind: topology
        version: 1
        name: net
        groups:
          - { name: office, count: 2, link: {} }
          - { name: branch, count: 1, link: {} }
          - { name: home, count: 1, link: {} }
        middleboxes:

        """ + middleboxes + "\n"
    }

    private func middleboxes(_ text: String) throws -> [MiddleboxSpec] {
        try ExperimentLoader.parseTopology(yaml: Self.topology(text), file: "net.yaml").middleboxes
    }

    /// An experiment whose inline topology has groups `office` and `home` behind the middleboxes
    /// `corp-proxy` and `edge`; the run ends at 72s and the first timeline entry is on line 13.
    ///
    /// ```
    /// 1  kind: experiment
    /// 2  version: 1
    /// 3  name: t
    /// 4  topology:
    /// 5    groups:
    /// 6      - { name: office, count: 2, link: { latency: 20ms } }
    /// 7      - { name: home, count: 1, link: {} }
    /// 8    middleboxes:
    /// 9      - { name: corp-proxy, groups: [office] }
    /// 10     - { name: edge, groups: [home] }
    /// 11 workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
    /// 12 timeline:
    /// 13 <entries>
    /// ```
    private static func proxyExperiment(timeline entries: String) -> String {
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
            - { name: edge, groups: [home] }
        workload: { rate: 5, size: 100, start: 2s, duration: 60s, drain: 10s }
        timeline:

        """ + entries + "\n"
    }

    // MARK: - Parsing

    @Test func defaults() throws {
        let parsed = try middleboxes("  - { name: corp-proxy, groups: [office] }")
        #expect(parsed == [MiddleboxSpec(name: "corp-proxy", groups: ["office"])])
        // The defaults the schema documents, spelled out.
        let middlebox = try #require(parsed.first)
        #expect(middlebox.link == LinkPair(both: LinkConfiguration(latency: .milliseconds(1))))
        #expect(middlebox.policy == HTTPProxyPolicy())
        #expect(middlebox.policy.stripUpgrade == false)
        #expect(middlebox.policy.afterUpgrade == .relay)
        #expect(middlebox.policy.bufferResponseBytes == nil)
        #expect(middlebox.policy.idleTimeout == nil)
        // An empty `policy:` is the same pass-through policy.
        #expect(try middleboxes("  - { name: corp-proxy, groups: [office], policy: {} }") == parsed)
    }

    @Test func everyKey() throws {
        let parsed = try middleboxes("""
              - name: corp-proxy
                kind: http-proxy
                groups: [office, branch]
                link:
                  up: { latency: 2ms }
                  down: { latency: 3ms, bandwidth: 10Mbit }
                policy:
                  stripUpgrade: true
                  afterUpgrade: silence
                  bufferResponses: 64KiB
                  idleTimeout: 60s
              - name: edge
                groups: [home]
                link: { latency: 5ms, loss: 1% }
                policy: { stripUpgrade: false, afterUpgrade: close, bufferResponses: 1, idleTimeout: 250ms }
            """)
        #expect(parsed == [
            MiddleboxSpec(
                name: "corp-proxy", groups: ["office", "branch"],
                link: LinkPair(
                    up: LinkConfiguration(latency: .milliseconds(2)),
                    down: LinkConfiguration(latency: .milliseconds(3), bandwidthBitsPerSecond: 10_000_000)
                ),
                policy: HTTPProxyPolicy(
                    stripUpgrade: true, afterUpgrade: .silence, bufferResponseBytes: 65_536, idleTimeout: .seconds(60)
                )
            ),
            MiddleboxSpec(
                name: "edge", groups: ["home"],
                link: LinkPair(both: LinkConfiguration(latency: .milliseconds(5), loss: .independent(probability: 0.01))),
                policy: HTTPProxyPolicy(
                    stripUpgrade: false, afterUpgrade: .close, bufferResponseBytes: 1, idleTimeout: .milliseconds(250)
                )
            ),
        ])
    }

    @Test func everyCatalogueKey() throws {
        let parsed = try middleboxes("""
              - name: forward
                groups: [office]
                mode: explicit
                port: 8080
                policy:
                  bufferResponses: 32KiB
                  bufferAfter: 60s
                  holdEvents: true
                  holdEventsBytes: 4KiB
                  maxConnectionLifetime: 1h
                  maxResponseTime: 30s
                  blockContentTypes: [text/event-stream, application/x-ndjson]
                  maxConnectionsPerClient: 6
                  dropFramesAfterBytes: 16KiB
                  dropFramesAfter: 20s
                  tls: intercept
                  connectPorts: [443, 8443]
              - { name: edge, groups: [home], mode: transparent, policy: { tls: refuse } }
            """)
        #expect(parsed == [
            MiddleboxSpec(
                name: "forward", groups: ["office"],
                policy: HTTPProxyPolicy(
                    bufferResponseBytes: 32_768, bufferAfter: .seconds(60), holdEvents: true, holdEventsBytes: 4096,
                    maxConnectionLifetime: .hours(1), maxResponseTime: .seconds(30),
                    blockContentTypes: ["text/event-stream", "application/x-ndjson"], maxConnectionsPerClient: 6,
                    webSocketBytesBudget: 16_384, webSocketTimeBudget: .seconds(20), tls: .intercept, connectPorts: [443, 8443]
                ),
                mode: .explicit, port: 8080
            ),
            MiddleboxSpec(name: "edge", groups: ["home"], policy: HTTPProxyPolicy(tls: .refuse)),
        ])
        // An explicit proxy without a port listens on Squid's.
        #expect(try middleboxes("  - { name: p, groups: [office], mode: explicit }").first?.port == 3128)
    }

    @Test func absentOrEmptyMeansNone() throws {
        let absent = try ExperimentLoader.parseTopology(
            yaml: "kind: topology\nversion: 1\nname: net\ngroups: [{ name: a, count: 1, link: {} }]\n", file: "net.yaml"
        )
        #expect(absent.middleboxes == [])
        #expect(try middleboxes("  []") == [])
    }

    /// `middleboxes:` may come before `groups:` in the file, and may sit in an inline topology.
    @Test func keyOrderAndInlineTopology() throws {
        let topology = try ExperimentLoader.parseTopology(yaml: """
            kind: topology
            version: 1
            name: net
            middleboxes: [{ name: p, groups: [a] }]
            groups: [{ name: a, count: 1, link: {} }]
            """, file: "net.yaml")
        #expect(topology.middleboxes == [MiddleboxSpec(name: "p", groups: ["a"])])
        let experiment = try ExperimentLoader.parse(
            yaml: Self.proxyExperiment(timeline: "  []"), file: "t.yaml", baseDirectory: "."
        )
        #expect(experiment.topology.middleboxes.map(\.name) == ["corp-proxy", "edge"])
        #expect(experiment.topology.middleboxes.map(\.groups) == [["office"], ["home"]])
    }

    /// The server and each proxy take a `tcp:` block of their own; without one they keep Linux's
    /// defaults, and a bad value in it is reported at its place.
    @Test func theServerAndAProxyHaveTCPSettings() throws {
        let topology = try ExperimentLoader.parseTopology(yaml: """
            kind: topology
            version: 1
            name: net
            server: { name: hub, tcp: { window: 256KiB, timestamps: false } }
            groups: [{ name: a, count: 1, link: {} }, { name: b, count: 1, link: {} }]
            middleboxes: [{ name: p, groups: [a], tcp: { congestionControl: reno } }, { name: q, groups: [b] }]
            """, file: "net.yaml")
        var server = TCPSettings()
        server.windowBytes = 256 * 1024
        server.timestamps = false
        #expect(topology.server.tcp == server)
        #expect(topology.middleboxes.map(\.tcp.congestionControl) == [.reno, .cubic])
        #expect(topology.middleboxes[1].tcp == TCPSettings())
        #expect(
            TestSupport.topologyError(Self.topology("  - { name: p, groups: [office], tcp: { window: 2GiB } }"))?.description
                == "net.yaml:9:49: middleboxes[0].tcp.window: must be in 1...1048560KiB bytes, got 2147483648"
        )
    }

    /// A client of a group is `<group>-<n>` with `n` in 1...count; names just outside that are free.
    @Test func namesBesideClientNodeNamesAreAllowed() throws {
        let parsed = try middleboxes("""
              - { name: office-3, groups: [office] }
              - { name: office-01, groups: [branch] }
              - { name: home-x, groups: [home] }
            """)
        #expect(parsed.map(\.name) == ["office-3", "office-01", "home-x"])
    }

    @Test(arguments: HTTPProxyPolicy.AfterUpgrade.allCases)
    func everyAfterUpgradeValue(value: HTTPProxyPolicy.AfterUpgrade) throws {
        let parsed = try middleboxes("  - { name: p, groups: [office], policy: { afterUpgrade: \(value.rawValue) } }")
        #expect(parsed.first?.policy == HTTPProxyPolicy(afterUpgrade: value))
    }

    // MARK: - Bad middleboxes

    @Test(arguments: [
        // Policy keys and values (line 11: `    policy: { …`, first key at column 15).
        ("  - name: p\n    groups: [office]\n    policy: { stripUpgrades: true }",
         "net.yaml:11:15: middleboxes[0].policy: unknown key 'stripUpgrades' (did you mean 'stripUpgrade'?)"),
        ("  - name: p\n    groups: [office]\n    policy: { afterUpgrade: drop }",
         "net.yaml:11:29: middleboxes[0].policy.afterUpgrade: unknown afterUpgrade behaviour 'drop' (expected one of: relay, silence, close)"),
        ("  - name: p\n    groups: [office]\n    policy: { bufferResponses: 0 }",
         "net.yaml:11:32: middleboxes[0].policy.bufferResponses: must be in 1...1GiB bytes, got 0"),
        ("  - name: p\n    groups: [office]\n    policy: { bufferResponses: 64KQ }",
         "net.yaml:11:32: middleboxes[0].policy.bufferResponses: unknown size unit 'KQ' in '64KQ' (use B, KB, MB, GB, KiB, MiB, GiB)"),
        ("  - name: p\n    groups: [office]\n    policy: { idleTimeout: 0s }",
         "net.yaml:11:28: middleboxes[0].policy.idleTimeout: must be greater than 0, got 0s"),
        ("  - name: p\n    groups: [office]\n    policy: { stripUpgrade: yes }",
         "net.yaml:11:29: middleboxes[0].policy.stripUpgrade: expected true or false, got 'yes'"),
        ("  - name: p\n    groups: [office]\n    policy: { blockContentTypes: [event-stream] }",
         "net.yaml:11:35: middleboxes[0].policy.blockContentTypes[0]: 'event-stream' is not a media type (expected type/subtype, like text/event-stream)"),
        ("  - name: p\n    groups: [office]\n    policy: { connectPorts: [443, 0] }",
         "net.yaml:11:35: middleboxes[0].policy.connectPorts[1]: must be in 1...65535, got 0"),
        ("  - name: p\n    groups: [office]\n    policy: { tls: decrypt }",
         "net.yaml:11:20: middleboxes[0].policy.tls: unknown TLS handling 'decrypt' (expected one of: tunnel, refuse, intercept)"),
        ("  - name: p\n    groups: [office]\n    policy: { bufferAfter: 30s }",
         "net.yaml:11:28: middleboxes[0].policy.bufferAfter: bufferAfter needs bufferResponses (how many bytes to hold once buffering starts)"),
        ("  - name: p\n    groups: [office]\n    policy: { holdEventsBytes: 1KiB }",
         "net.yaml:11:32: middleboxes[0].policy.holdEventsBytes: holdEventsBytes applies only with holdEvents: true"),
        ("  - name: p\n    groups: [office]\n    policy: { maxConnectionsPerClient: 0 }",
         "net.yaml:11:40: middleboxes[0].policy.maxConnectionsPerClient: must be in 1...10000, got 0"),
        ("  - name: p\n    groups: [office]\n    mode: forward",
         "net.yaml:11:11: middleboxes[0].mode: unknown proxy mode 'forward' (expected one of: transparent, explicit)"),
        ("  - name: p\n    groups: [office]\n    policy: [relay]",
         "net.yaml:11:13: middleboxes[0].policy: expected a mapping, got a list"),
        // Groups (line 10: `    groups: [`, first element at column 14).
        ("  - name: p\n    groups: [office, lobby]",
         "net.yaml:10:22: middleboxes[0].groups[1]: no client group 'lobby' (groups: office, branch, home)"),
        ("  - name: p\n    groups: [office, branch]\n  - name: q\n    groups: [home, branch]",
         "net.yaml:12:20: middleboxes[1].groups[1]: group 'branch' is already behind middlebox 'p' (line 10); a group may be behind at most one middlebox"),
        ("  - name: p\n    groups: [office, office]",
         "net.yaml:10:22: middleboxes[0].groups[1]: 'office' is listed twice (first at groups[0])"),
        ("  - name: p\n    groups: []", "net.yaml:10:13: middleboxes[0].groups: needs at least one client group"),
        ("  - name: p\n    groups: office", "net.yaml:10:13: middleboxes[0].groups: expected a list, got 'office'"),
        ("  - name: p", "net.yaml:9:5: middleboxes[0]: missing required key 'groups'"),
        // Names: invalid, missing, or already a node's.
        ("  - name: Proxy\n    groups: [office]",
         "net.yaml:9:11: middleboxes[0].name: 'Proxy' is not a valid node name (use lowercase letters, digits and '-')"),
        ("  - groups: [office]", "net.yaml:9:5: middleboxes[0]: missing required key 'name'"),
        ("  - name: p\n    groups: [office]\n  - name: p\n    groups: [home]",
         "net.yaml:11:11: middleboxes[1].name: duplicate middlebox name 'p' (already used on line 9)"),
        ("  - name: server\n    groups: [office]",
         "net.yaml:9:11: middleboxes[0].name: 'server' is already the server's name (node names must be unique)"),
        ("  - name: branch\n    groups: [office]",
         "net.yaml:9:11: middleboxes[0].name: 'branch' is already the name of the client group on line 6 (node names must be unique)"),
        ("  - name: office-2\n    groups: [home]",
         "net.yaml:9:11: middleboxes[0].name: 'office-2' is already the name of a client of the group 'office' on line 5 (node names must be unique)"),
        // Kind, unknown keys, link, shape.
        ("  - name: p\n    kind: socks\n    groups: [office]",
         "net.yaml:10:11: middleboxes[0].kind: unknown middlebox kind 'socks' (expected one of: http-proxy)"),
        ("  - name: p\n    groups: [office]\n    listen: 8080",
         "net.yaml:11:5: middleboxes[0]: unknown key 'listen' (expected one of: name, kind, groups, link, policy, mode, port, tcp, sticky)"),
        ("  - name: p\n    groups: [office]\n    link: { latncy: 1ms }",
         "net.yaml:11:13: middleboxes[0].link: unknown key 'latncy' (did you mean 'latency'?)"),
        ("  - name: p\n    groups: [office]\n    link: { latency: 61s }",
         "net.yaml:11:22: middleboxes[0].link.latency: must be at most 1min, got 61s"),
        ("  name: p\n  groups: [office]", "net.yaml:9:3: middleboxes: expected a list, got a mapping"),
    ])
    func middleboxProblems(middleboxes: String, expected: String) {
        #expect(TestSupport.topologyError(Self.topology(middleboxes))?.description == expected)
    }

    /// Middlebox errors inside a topology file referenced by an experiment carry that file's path.
    @Test func problemsInAReferencedTopologyFileNameThatFile() throws {
        try TestSupport.withScratchDirectory("middlebox-topology") { root in
            try TestSupport.write(Self.topology("  - { name: p, groups: [lobby] }"), to: "net.yaml", in: root)
            let yaml = """
                kind: experiment
                version: 1
                name: t
                topology: net.yaml
                workload: { rate: 1, size: 1, duration: 10s }
                """
            #expect(TestSupport.experimentError(yaml, baseDirectory: root)?.description
                == "\(root)/net.yaml:9:25: middleboxes[0].groups[0]: no client group 'lobby' (groups: office, branch, home)")
        }
    }

    // MARK: - setProxyPolicy

    @Test func setProxyPolicy() throws {
        let experiment = try ExperimentLoader.parse(yaml: Self.proxyExperiment(timeline: """
              - at: 60s
                setProxyPolicy: { middlebox: corp-proxy, stripUpgrade: false }
              - at: 10s
                setProxyPolicy:
                  middlebox: edge
                  stripUpgrade: true
                  afterUpgrade: silence
                  bufferResponses: 1MiB
                  idleTimeout: 500ms
              - { at: 20s, setProxyPolicy: { middlebox: edge } }
              - at: 30s
                setProxyPolicy: { middlebox: corp-proxy, afterUpgrade: close }
            """), file: "t.yaml", baseDirectory: ".")
        #expect(experiment.timeline == [
            TimelineEvent(
                at: .seconds(60), action: .setProxyPolicy(middlebox: "corp-proxy", policy: HTTPProxyPolicy()), sourceLine: 13
            ),
            TimelineEvent(
                at: .seconds(10),
                action: .setProxyPolicy(
                    middlebox: "edge",
                    policy: HTTPProxyPolicy(
                        stripUpgrade: true, afterUpgrade: .silence, bufferResponseBytes: 1_048_576, idleTimeout: .milliseconds(500)
                    )
                ),
                sourceLine: 15
            ),
            // `{ middlebox: x }` alone is the pass-through policy: it "removes" the proxy's effects.
            TimelineEvent(at: .seconds(20), action: .setProxyPolicy(middlebox: "edge", policy: HTTPProxyPolicy()), sourceLine: 22),
            TimelineEvent(
                at: .seconds(30),
                action: .setProxyPolicy(middlebox: "corp-proxy", policy: HTTPProxyPolicy(afterUpgrade: .close)),
                sourceLine: 23
            ),
        ])
        #expect(experiment.timeline.map(\.action.group) == [nil, nil, nil, nil])
    }

    @Test(arguments: [
        // Line 14: `    setProxyPolicy: { `, first key at column 23, its value at 34.
        ("  - at: 1s\n    setProxyPolicy: { middlebox: lobby }",
         "t.yaml:14:34: timeline[0].setProxyPolicy.middlebox: no middlebox 'lobby' (middleboxes: corp-proxy, edge)"),
        ("  - at: 1s\n    setProxyPolicy: { middlebox: office }",
         "t.yaml:14:34: timeline[0].setProxyPolicy.middlebox: no middlebox 'office' (middleboxes: corp-proxy, edge)"),
        ("  - at: 1s\n    setProxyPolicy: { stripUpgrade: true }",
         "t.yaml:14:5: timeline[0].setProxyPolicy: missing required key 'middlebox'"),
        ("  - at: 1s\n    setProxyPolicy: { middlebox: edge, group: home }",
         "t.yaml:14:40: timeline[0].setProxyPolicy: unknown key 'group' (expected one of: middlebox, for, stripUpgrade, afterUpgrade, bufferResponses, idleTimeout, bufferAfter, holdEvents, holdEventsBytes, maxConnectionLifetime, maxResponseTime, blockContentTypes, maxConnectionsPerClient, dropFramesAfterBytes, dropFramesAfter, tls, connectPorts)"),
        ("  - at: 1s\n    setProxyPolicy: { middlebox: edge, afterUpgrade: drop }",
         "t.yaml:14:54: timeline[0].setProxyPolicy.afterUpgrade: unknown afterUpgrade behaviour 'drop' (expected one of: relay, silence, close)"),
        ("  - at: 1s\n    setProxyPolicy: { middlebox: edge, bufferResponses: 0 }",
         "t.yaml:14:57: timeline[0].setProxyPolicy.bufferResponses: must be in 1...1GiB bytes, got 0"),
        ("  - at: 1s\n    setProxyPolicy: { middlebox: edge, idleTimeout: 0s }",
         "t.yaml:14:53: timeline[0].setProxyPolicy.idleTimeout: must be greater than 0, got 0s"),
        ("  - at: 1s\n    setProxyPolicy: edge", "t.yaml:14:21: timeline[0].setProxyPolicy: expected a mapping, got 'edge'"),
        ("  - at: 72s\n    setProxyPolicy: { middlebox: edge }",
         "t.yaml:13:9: timeline[0].at: must be before the run ends at 72s (workload start + duration + drain), got 72s"),
    ])
    func setProxyPolicyProblems(entries: String, expected: String) {
        #expect(TestSupport.experimentError(Self.proxyExperiment(timeline: entries))?.description == expected)
    }

    @Test func setProxyPolicyWithoutMiddleboxes() {
        // twoGroupExperiment: `timeline:` on line 9, first entry on line 10.
        let yaml = TestSupport.twoGroupExperiment("timeline:\n  - at: 1s\n    setProxyPolicy: { middlebox: corp-proxy }")
        #expect(TestSupport.experimentError(yaml)?.description
            == "t.yaml:11:34: timeline[0].setProxyPolicy.middlebox: no middlebox 'corp-proxy' (the topology has no middleboxes)")
    }
}
