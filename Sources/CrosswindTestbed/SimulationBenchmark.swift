import CrosswindExperiment
import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import NIOCore

/// The seed analysis's workload as a simulated experiment: N clients on a LAN-like link
/// (1 ms each way, no loss) receiving `rate` messages of `size` bytes per second each for
/// `duration`, over one of the real transports and the TCP model.
public enum SimulationBenchmark {
    public struct Parameters: Sendable {
        public var clients: Int = 1000
        public var ratePerSecond: Double = 10
        public var messageBytes: Int = 1024
        public var duration: TimeAmount = .seconds(60)
        public var seed: UInt64 = 1
        public var transport: TransportMethod = .websocket
        /// For Custom Sync: long-poll hold (zero: interval polling every `syncInterval`).
        public var syncLongPoll: TimeAmount = .zero
        public var syncInterval: TimeAmount = .seconds(2)
        public init() {}
    }

    /// The experiment the benchmark runs (clients connect over the first second; publishing
    /// starts at 2 s; 2 s of drain).
    public static func experiment(_ parameters: Parameters) -> Experiment {
        let link = LinkConfiguration(latency: .milliseconds(1))
        let group = ClientGroup(
            name: "bench",
            count: parameters.clients,
            transport: parameters.transport,
            connectSpread: .seconds(1),
            link: LinkPair(both: link),
            sync: SyncSettings(interval: parameters.syncInterval, longPoll: parameters.syncLongPoll, batchSize: 50)
        )
        return Experiment(
            name: "bench-sim-\(parameters.transport.rawValue)",
            description: "seed workload over WebSocket in simulation",
            seed: parameters.seed,
            topology: Topology(name: "bench-lan", groups: [group]),
            workload: Workload(
                ratePerSecond: parameters.ratePerSecond,
                messageBytes: parameters.messageBytes,
                start: .seconds(2),
                duration: parameters.duration,
                drain: .seconds(2)
            ),
            expectations: [
                Expectation(kind: .deliveryComplete),
                Expectation(kind: .noDuplicates),
                Expectation(kind: .allConnected),
            ]
        )
    }
}
