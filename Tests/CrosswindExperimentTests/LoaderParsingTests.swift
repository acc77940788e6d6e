import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import Foundation
import NIOCore
import Testing

@testable import CrosswindExperiment

/// Valid input: defaults, the `link:` shorthand, loss models, units and expectation texts.
@Suite struct LoaderParsingTests {
    private func parse(_ yaml: String) throws -> Experiment {
        try ExperimentLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: ".")
    }

    private func firstGroup(_ group: String) throws -> ClientGroup {
        try #require(try parse(TestSupport.experiment(group: group)).topology.groups.first)
    }

    @Test func defaultsAreApplied() throws {
        let experiment = try parse(TestSupport.experiment())
        let expected = Experiment(
            name: "t",
            topology: Topology(
                name: "t",  // an inline topology without a name takes the experiment's
                groups: [ClientGroup(name: "g", count: 2, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(1))))]
            ),
            workload: Workload(ratePerSecond: 5, messageBytes: 100, duration: .seconds(1))
        )
        #expect(experiment == expected)
        // The defaults the brief documents, spelled out.
        #expect(experiment.description == "")
        #expect(experiment.seed == 1)
        #expect(experiment.expectations == [])
        #expect(experiment.sourcePath == nil)
        #expect(experiment.topology.server == ServerSpec(name: "server", port: 80))
        #expect(experiment.workload.topic == "metrics")
        #expect(experiment.workload.start == .seconds(2))
        #expect(experiment.workload.drain == .seconds(5))
        let group = try #require(experiment.topology.groups.first)
        #expect(group.transport == .websocket)
        #expect(group.connectAt == .zero)
        #expect(group.connectSpread == .zero)
        #expect(group.tcp == TCPSettings(
            mss: 1460, initialRTO: .seconds(1), minRTO: .milliseconds(200), maxRTO: .seconds(120),
            synRetries: 6, maxRetransmissions: 15, windowBytes: 65_535
        ))
        #expect(group.heartbeat == HeartbeatSettings(interval: .seconds(25), timeout: .seconds(10)))
        #expect(group.link.up.jitter == .zero)
        #expect(group.link.up.loss == .none)
        #expect(group.link.up.bandwidthBitsPerSecond == nil)
        #expect(group.link.up.queueBytes == 262_144)
    }

    @Test func clientSendsAreReadIntoTheWorkload() throws {
        let experiment = try parse(TestSupport.experiment(workload: "  rate: 5\n  size: 100\n  duration: 1s\n  clientSends: { rate: 2, size: 64 }"))
        #expect(experiment.workload == Workload(
            ratePerSecond: 5, messageBytes: 100, duration: .seconds(1),
            clientSends: ClientSends(ratePerSecond: 2, messageBytes: 64)
        ))
    }

    @Test func linkShorthandAppliesBothWays() throws {
        let group = try firstGroup("link: { latency: 7ms, loss: 1% }")
        #expect(group.link.up == group.link.down)
        #expect(group.link.up == LinkConfiguration(latency: .milliseconds(7), loss: .independent(probability: 0.01)))
        let empty = try firstGroup("link: {}")
        #expect(empty.link == LinkPair())
    }

    @Test func linkPerDirection() throws {
        let group = try firstGroup("""
            link:
              up: { latency: 10ms }
              down: { latency: 30ms, bandwidth: unlimited }
            """)
        #expect(group.link.up == LinkConfiguration(latency: .milliseconds(10)))
        #expect(group.link.down == LinkConfiguration(latency: .milliseconds(30)))
    }

    @Test(arguments: LinkProfile.allCases)
    func everyLinkProfileLoadsByName(profile: LinkProfile) throws {
        let group = try firstGroup("link: { profile: \(profile.rawValue) }")
        #expect(group.link == profile.pair)
        #expect(group.link == LinkPair(profile: profile))
    }

    @Test func aProfileTakesOverridesAndGoesPerDirection() throws {
        // The published 3G figures: 300 ms RTT, 1.6 Mbit/s down, 768 kbit/s up.
        let threeG = LinkProfile.threeG.pair
        #expect(threeG.up.latency == .milliseconds(150) && threeG.down.latency == .milliseconds(150))
        #expect(threeG.down.bandwidthBitsPerSecond == 1_600_000 && threeG.up.bandwidthBitsPerSecond == 768_000)
        // Keys beside the profile override it both ways; the others keep the profile's values.
        let lossy = try firstGroup("link: { profile: 3g, loss: 1.5% }")
        #expect(lossy.link.up.loss == .independent(probability: 0.015) && lossy.link.down.loss == .independent(probability: 0.015))
        #expect(lossy.link.down.bandwidthBitsPerSecond == 1_600_000 && lossy.link.up.latency == .milliseconds(150))
        // Per direction, a profile gives its own side.
        let mixed = try firstGroup("""
            link:
              up: { profile: satellite }
              down: { profile: 4g, jitter: 10ms }
            """)
        #expect(mixed.link.up == LinkProfile.satellite.pair.up)
        #expect(mixed.link.down.bandwidthBitsPerSecond == 9_000_000 && mixed.link.down.jitter == .milliseconds(10))
    }

    @Test func anUnknownProfileSaysWhichExist() throws {
        let message = TestSupport.experimentError(TestSupport.experiment(group: "link: { profile: 5g }"))?.description
        #expect(message == "t.yaml:8:24: topology.groups[0].link.profile: unknown link profile '5g' (expected one of: lan, office-wifi, hotel-wifi, 4g, 3g, satellite)")
    }

    @Test func anchorsAndAliasesAreResolved() throws {
        let group = try firstGroup("""
            link:
              up: &wan { latency: 40ms, loss: 2% }
              down: *wan
            """)
        #expect(group.link == LinkPair(both: LinkConfiguration(latency: .milliseconds(40), loss: .independent(probability: 0.02))))
    }

    @Test func lossModels() throws {
        func loss(_ text: String) throws -> LinkLoss {
            try firstGroup("link: { loss: \(text) }").link.up.loss
        }
        #expect(try loss("{ model: gilbert-elliott, p: 0.01, r: 0.3, lossInGood: 0, lossInBad: 0.5 }")
            == .gilbertElliott(p: 0.01, r: 0.3, lossInGood: 0, lossInBad: 0.5))
        #expect(try loss("{ model: gilbert-elliott, p: 1%, r: 30% }")
            == .gilbertElliott(p: 0.01, r: 0.3, lossInGood: 0, lossInBad: 1))
        #expect(try loss("{ model: independent, probability: 0.02 }") == .independent(probability: 0.02))
        #expect(try loss("{ model: none }") == LinkLoss.none)
        #expect(try loss("0.02") == .independent(probability: 0.02))
        #expect(try loss("2%") == .independent(probability: 0.02))
        #expect(try loss("\"2.5 %\"") == .independent(probability: 0.025))
        #expect(try loss("1") == .independent(probability: 1))
        #expect(try loss("0") == LinkLoss.none)
        #expect(try loss("0%") == LinkLoss.none)
        #expect(try loss("none") == LinkLoss.none)
        let gilbert = LinkLoss.gilbertElliott(p: 0.01, r: 0.99, lossInGood: 0, lossInBad: 1)
        #expect(abs(gilbert.meanLossRate - 0.01) < 1e-12)
    }

    @Test(arguments: [
        ("250us", TimeAmount.microseconds(250)), ("80ms", .milliseconds(80)), ("2s", .seconds(2)),
        ("1.5s", .milliseconds(1500)), ("2min", .minutes(2)), ("0.5us", .nanoseconds(500)),
        ("0s", .zero), ("1.25ms", .microseconds(1250)), ("10 ms", .milliseconds(10)),
    ])
    func durationUnits(text: String, expected: TimeAmount) throws {
        #expect(try Quantity.duration(text).get() == expected)
        #expect(try firstGroup("connectAt: \(text)").connectAt == expected)
    }

    @Test(arguments: [
        ("512bit", 512), ("100kbit", 100_000), ("10Mbit", 10_000_000), ("1Gbit", 1_000_000_000),
        ("100kbps", 100_000), ("10Mbps", 10_000_000), ("1Gbps", 1_000_000_000), ("1.5Mbit", 1_500_000),
    ])
    func bandwidthUnits(text: String, expected: Int) throws {
        #expect(try Quantity.bandwidth(text).get() == expected)
        // The loader also requires at least 1000 bit/s (see LoaderErrorTests).
        if expected >= Schema.Limits.minBandwidthBitsPerSecond {
            #expect(try firstGroup("link: { bandwidth: \(text) }").link.down.bandwidthBitsPerSecond == expected)
        }
    }

    @Test(arguments: [
        ("1500", 1500), ("1500B", 1500), ("64KiB", 65_536), ("1MiB", 1_048_576), ("1.5KiB", 1536), ("100_000", 100_000),
    ])
    func sizeUnits(text: String, expected: Int) throws {
        #expect(try Quantity.size(text).get() == expected)
        #expect(try firstGroup("link: { queue: \(text) }").link.up.queueBytes == expected)
    }

    @Test func tcpAndHeartbeatSettings() throws {
        let group = try firstGroup("""
            tcp: { mss: 536, initialRTO: 3s, minRTO: 1s, maxRTO: 60s, synRetries: 0, maxRetransmissions: 5, window: 64KiB }
            heartbeat: { interval: 1.5s, timeout: 500ms }
            transport: websocket
            connectAt: 1s
            connectSpread: 2s
            """)
        #expect(group.tcp == TCPSettings(
            mss: 536, initialRTO: .seconds(3), minRTO: .seconds(1), maxRTO: .seconds(60),
            synRetries: 0, maxRetransmissions: 5, windowBytes: 65_536
        ))
        #expect(group.heartbeat == HeartbeatSettings(interval: .milliseconds(1500), timeout: .milliseconds(500)))
        #expect(group.tcp.timestamps && group.tcp.congestionControl == .cubic && group.tcp.initialCongestionWindow == 10)
        #expect(group.connectTime(ofClient: 0) == .seconds(1))
        #expect(group.connectTime(ofClient: 1) == .seconds(2))
    }

    @Test func tcpCongestionControlTimestampsAndTimeWait() throws {
        let group = try firstGroup("tcp: { timestamps: false, congestionControl: reno, initialWindow: 4, timeWait: 0s }")
        #expect(!group.tcp.timestamps)
        #expect(group.tcp.congestionControl == .reno)
        #expect(group.tcp.initialCongestionWindow == 4)
        #expect(group.tcp.timeWait == .zero)
        // Anything but the two algorithms, an initial window of no segment or a negative wait
        // is an error, each at its place.
        let problems = TestSupport.experimentProblems(TestSupport.experiment(
            group: "tcp: { congestionControl: bbr, initialWindow: 0, timeWait: -1s }"
        )).map(\.description)
        #expect(problems == [
            "t.yaml:8:33: topology.groups[0].tcp.congestionControl: unknown congestion control 'bbr' (expected one of: cubic, reno)",
            "t.yaml:8:53: topology.groups[0].tcp.initialWindow: must be in 1...1000, got 0",
            "t.yaml:8:66: topology.groups[0].tcp.timeWait: duration must not be negative, got '-1s'",
        ])
    }

    @Test func expectationsAndTheirTexts() throws {
        let experiment = try parse(TestSupport.experiment() + """
            expect:
              - delivery: complete
              - delivery: { atLeast: 0.999 }
              - delivery: { atLeast: 95% }
              - duplicates: none
              - reordered: none
              - connected: all
              - latency: { p99: { atMost: 1500ms, atLeast: 200ms } }
              - latency:
                  avg: { atMost: 0.25ms }
                  max: { atLeast: 2s }
            """)
        #expect(experiment.expectations.map(\.kind) == [
            .deliveryComplete, .deliveryRateAtLeast(0.999), .deliveryRateAtLeast(0.95), .noDuplicates, .noReordering,
            .allConnected, .latencyAtMost(.p99, milliseconds: 1500), .latencyAtLeast(.p99, milliseconds: 200),
            .latencyAtMost(.avg, milliseconds: 0.25), .latencyAtLeast(.max, milliseconds: 2000),
        ])
        #expect(experiment.expectations.map(\.text) == [
            "every message delivered", "delivery rate >= 99.9 %", "delivery rate >= 95 %", "no duplicates",
            "no reordering", "every client connected", "latency p99 <= 1500 ms", "latency p99 >= 200 ms",
            "latency avg <= 0.25 ms", "latency max >= 2000 ms",
        ])
        // The minimal experiment has 12 lines; `expect:` is line 13.
        #expect(experiment.expectations.map(\.sourceLine) == [14, 15, 16, 17, 18, 19, 20, 20, 22, 23])
    }

    @Test func workloadAndHeader() throws {
        let experiment = try parse("""
            kind: experiment
            version: 1
            name: full.Example_1
            description: what it shows
            seed: 18446744073709551615
            topology: { name: net, server: { name: hub, port: 8080 }, groups: [{ name: a, count: 1, link: {} }] }
            workload: { topic: prices.eu, rate: 0.5, size: 1MiB, start: 0s, duration: 2min, drain: 0s }
            """)
        #expect(experiment.name == "full.Example_1")
        #expect(experiment.description == "what it shows")
        #expect(experiment.seed == UInt64.max)
        #expect(experiment.topology.name == "net")
        #expect(experiment.topology.server == ServerSpec(name: "hub", port: 8080))
        #expect(experiment.workload == Workload(
            topic: "prices.eu", ratePerSecond: 0.5, messageBytes: 1_048_576, start: .zero, duration: .minutes(2), drain: .zero
        ))
        #expect(experiment.workload.metricsAt == .minutes(2))
    }

    @Test func referencedTopologyIsResolvedAgainstTheExperimentDirectory() throws {
        try TestSupport.withScratchDirectory("resolve") { root in
            try TestSupport.write("""
                kind: topology
                version: 1
                name: small
                groups: [{ name: a, count: 3, link: { latency: 5ms } }]
                """, to: "Topologies/small.yaml", in: root)
            try TestSupport.write(
                TestSupport.experiment().replacingOccurrences(
                    of: "topology:\n  groups:\n    - name: g\n      count: 2\n      link: { latency: 1ms }\n",
                    with: "topology: ../Topologies/small.yaml\n"
                ),
                to: "Experiments/e.yaml", in: root
            )
            let experiment = try ExperimentLoader.load(path: root + "/Experiments/e.yaml")
            #expect(experiment.topology.name == "small")
            #expect(experiment.topology.groups.map(\.count) == [3])
            #expect(try ExperimentLoader.loadTopology(path: root + "/Topologies/small.yaml") == experiment.topology)
        }
    }

    @Test func pathsResolveLexically() {
        #expect(YAMLDocument.resolve("../Topologies/a.yaml", against: "Experiments") == "Topologies/a.yaml")
        #expect(YAMLDocument.resolve("a.yaml", against: ".") == "a.yaml")
        #expect(YAMLDocument.resolve("/abs/a.yaml", against: "x") == "/abs/a.yaml")
        #expect(YAMLDocument.resolve("../../a.yaml", against: "x") == "../a.yaml")
        #expect(YAMLDocument.resolve("../a.yaml", against: "/r/x/./y") == "/r/x/a.yaml")
        #expect(YAMLDocument.directory(of: "Experiments/e.yaml") == "Experiments")
        #expect(YAMLDocument.directory(of: "e.yaml") == ".")
        #expect(YAMLDocument.directory(of: "/e.yaml") == "/")
    }
}
