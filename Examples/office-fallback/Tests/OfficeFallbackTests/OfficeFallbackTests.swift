import CrosswindTesting
import Testing

/// Our dashboard's users: an office behind a corporate proxy that does not know WebSocket,
/// and field staff on a lossy mobile link. Whatever the seed, the office must settle on SSE,
/// the field staff must stay on WebSocket, and nobody may lose a message.
@Suite struct OfficeFallbackTests {
    static func ourNetwork() -> Experiment {
        let office = ClientGroup(
            name: "office",
            count: 30,
            connectSpread: .seconds(2),
            link: LinkPair(both: LinkConfiguration(latency: .milliseconds(12), jitter: .milliseconds(2))),
            manager: RealtimeManagerConfiguration()
        )
        // 4G: 45 ms each way, 1 % loss each way, 20 Mbit/s down and 5 Mbit/s up.
        let field = ClientGroup(
            name: "field",
            count: 20,
            connectSpread: .seconds(2),
            link: LinkPair(
                up: LinkConfiguration(latency: .milliseconds(45), jitter: .milliseconds(10), loss: .independent(probability: 0.01), bandwidthBitsPerSecond: 5_000_000),
                down: LinkConfiguration(latency: .milliseconds(45), jitter: .milliseconds(10), loss: .independent(probability: 0.01), bandwidthBitsPerSecond: 20_000_000)
            ),
            manager: RealtimeManagerConfiguration()
        )
        let proxy = MiddleboxSpec(name: "corp-proxy", groups: ["office"], policy: HTTPProxyPolicy(stripUpgrade: true))
        return Experiment(
            name: "our-dashboard",
            topology: Topology(name: "our-network", groups: [office, field], middleboxes: [proxy]),
            workload: Workload(ratePerSecond: 4, messageBytes: 600, duration: .seconds(30)),
            expectations: [
                Expectation(kind: .deliveryComplete),
                Expectation(kind: .noDuplicates),
                Expectation(kind: .noReordering),
                Expectation(kind: .allConnected),
            ]
        )
    }

    @Test(arguments: 1...5 as ClosedRange<UInt64>)
    func everyoneGetsEveryMessageOnTheRightTransport(seed: UInt64) throws {
        let run = try Crosswind.run(Self.ourNetwork(), seed: seed)
        #expect(run.passed, "seed \(seed): \(run.failures)")
        #expect(run.group("office").endedOn == [.sse: 30])
        #expect(run.group("field").endedOn == [.websocket: 20])
        #expect(run.lost == 0)
    }
}
