import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindExperiment

/// The files shipped in Topologies/ and Experiments/ load, validate and hold the documented values.
@Suite struct ShippedFilesTests {
    @Test func everyShippedFileValidates() throws {
        let topologies = try TestSupport.yamlFiles(in: "Topologies")
        let experiments = try TestSupport.yamlFiles(in: "Experiments")
        #expect(topologies.count >= 2)
        #expect(experiments.count >= 2)
        for path in topologies {
            #expect(throws: Never.self, "\(path)") { try ExperimentLoader.validate(path: path) }
            #expect(throws: Never.self, "\(path)") { _ = try ExperimentLoader.loadTopology(path: path) }
            guard case .topology = try ExperimentLoader.load(anyKindAt: path) else {
                Issue.record("\(path) is not told as a topology")
                continue
            }
        }
        for path in experiments {
            #expect(throws: Never.self, "\(path)") { try ExperimentLoader.validate(path: path) }
            let experiment = try ExperimentLoader.load(path: path)
            #expect(experiment.sourcePath == path)
            #expect(!experiment.description.isEmpty, "\(path) needs a description")
            #expect(!experiment.expectations.isEmpty, "\(path) needs expectations")
            guard case .experiment = try ExperimentLoader.load(anyKindAt: path) else {
                Issue.record("\(path) is not told as an experiment")
                continue
            }
        }
    }

    @Test func lossyLinkExperimentHasTheDocumentedValues() throws {
        let path = TestSupport.packageRoot + "/Experiments/websocket-lossy-link.yaml"
        let experiment = try ExperimentLoader.load(path: path)
        #expect(experiment.name == "websocket-lossy-link")
        #expect(experiment.seed == 7)
        #expect(experiment.sourcePath == path)

        let link = LinkConfiguration(
            latency: .milliseconds(40), jitter: .milliseconds(2), loss: .independent(probability: 0.02),
            bandwidthBitsPerSecond: 20_000_000, queueBytes: 262_144
        )
        var down = link
        down.bandwidthBitsPerSecond = 50_000_000
        let expectedTopology = Topology(
            name: "lossy-wan-100",
            server: ServerSpec(name: "server", port: 80),
            groups: [
                ClientGroup(
                    name: "office", count: 100, transport: .websocket, connectAt: .zero, connectSpread: .seconds(1),
                    link: LinkPair(up: link, down: down),
                    tcp: TCPSettings(mss: 1460, initialRTO: .seconds(1), minRTO: .milliseconds(200), synRetries: 6, maxRetransmissions: 15),
                    heartbeat: HeartbeatSettings(interval: .seconds(25), timeout: .seconds(10))
                )
            ]
        )
        #expect(experiment.topology == expectedTopology)
        #expect(experiment.topology.clientCount == 100)
        #expect(
            experiment.workload
                == Workload(topic: "metrics", ratePerSecond: 10, messageBytes: 1024, start: .seconds(3), duration: .seconds(30), drain: .seconds(10))
        )
        #expect(experiment.expectations.map(\.kind) == [
            .deliveryComplete, .noDuplicates, .noReordering, .allConnected,
            .latencyAtMost(.p50, milliseconds: 150),
            .latencyAtLeast(.p99, milliseconds: 200),
            .latencyAtMost(.p99, milliseconds: 3000),
        ])
        #expect(experiment.expectations.map(\.text) == [
            "every message delivered", "no duplicates", "no reordering", "every client connected",
            "latency p50 <= 150 ms", "latency p99 >= 200 ms", "latency p99 <= 3000 ms",
        ])
        #expect(experiment.expectations.allSatisfy { $0.sourceLine != nil })
        // The topology loads identically on its own.
        let topology = try ExperimentLoader.loadTopology(path: TestSupport.packageRoot + "/Topologies/lossy-wan-100.yaml")
        #expect(topology == expectedTopology)
    }

    @Test func baselineExperimentHasTheDocumentedValues() throws {
        let experiment = try ExperimentLoader.load(path: TestSupport.packageRoot + "/Experiments/websocket-baseline.yaml")
        #expect(experiment.name == "websocket-baseline")
        #expect(experiment.seed == 1)
        #expect(experiment.topology.name == "lan-100")
        let group = try #require(experiment.topology.groups.first)
        #expect(experiment.topology.groups.count == 1)
        #expect(group.count == 100)
        #expect(group.connectSpread == .milliseconds(500))
        let lan = LinkConfiguration(latency: .microseconds(250), loss: .none, bandwidthBitsPerSecond: 1_000_000_000)
        #expect(group.link == LinkPair(both: lan))
        #expect(
            experiment.workload
                == Workload(ratePerSecond: 10, messageBytes: 1024, start: .seconds(2), duration: .seconds(30), drain: .seconds(5))
        )
        #expect(experiment.expectations.map(\.kind) == [
            .deliveryComplete, .noDuplicates, .noReordering, .allConnected, .latencyAtMost(.p99, milliseconds: 5),
        ])
    }
}
