import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import NIOCore
import Testing

/// The network-layer pieces inside whole runs: a NAT that forgets idle flows, firewall rules
/// for one group and one direction, a fault on a proxy's upstream link alone, a link many
/// clients share, and a DPI proxy that drops frames after a budget — each seen acting in the
/// run's trace where it should and nowhere else.
@Suite struct NetworkPathExperimentTests {
    static let link = LinkPair(both: LinkConfiguration(latency: .milliseconds(10)))
    static let noLoss: [Expect] = [Expect(kind: .deliveryComplete), Expect(kind: .noDuplicates), Expect(kind: .noReordering), Expect(kind: .allConnected)]

    static func endsOn(_ group: String, _ transport: TransportMethod, within: Double? = nil) -> Expect {
        Expect(kind: .endsOnTransport(group: group, transport: transport, withinMilliseconds: within, notBeforeMilliseconds: nil))
    }

    static func experiment(_ name: String, groups: [ClientGroup], middleboxes: [MiddleboxSpec] = [], rate: Double = 2, duration: TimeAmount = .seconds(40), timeline: [TimelineEvent] = [], expect: [Expect]) -> Experiment {
        Experiment(
            name: name, seed: 5, topology: Topology(name: name, groups: groups, middleboxes: middleboxes),
            workload: Workload(ratePerSecond: rate, messageBytes: 200, start: .seconds(1), duration: duration, drain: .seconds(15)),
            expectations: expect, timeline: timeline
        )
    }

    /// Runs `experiment` twice (one digest required) and returns the first run's result.
    func run(_ experiment: Experiment) throws -> RunResult {
        let first = try ExperimentRun(experiment: experiment).execute()
        let second = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute()
        #expect(first.digest == second.digest)
        return first
    }

    /// The trace events of `kind` on links whose name satisfies `link`.
    func events(_ result: RunResult, _ kind: String, onLinks link: (String) -> Bool) -> [EventTrace.Event] {
        let trace = result.trace
        return trace.events.filter { event in
            let component = trace.componentName(event.component)
            return trace.kindName(event.kind) == kind && component.hasPrefix("link:") && link(String(component.dropFirst(5)))
        }
    }

    // MARK: NAT

    /// Three clients behind a NAT that forgets flows idle 6 s and three without one, all
    /// pinging every 8 s, on a topic with one update every 20 s.
    static func natExperiment(heartbeatFloor: TimeAmount?) -> Experiment {
        var manager = RealtimeManagerConfiguration()
        manager.heartbeatFloor = heartbeatFloor
        let heartbeat = HeartbeatSettings(interval: .seconds(8), timeout: .seconds(3))
        let evicting = ClientGroup(
            name: "evicting", count: 3, link: Self.link, heartbeat: heartbeat, manager: manager, nat: NATSettings(idleTimeout: .seconds(6))
        )
        let open = ClientGroup(name: "open", count: 3, link: Self.link, heartbeat: heartbeat, manager: manager)
        return Self.experiment(
            "nat", groups: [evicting, open], rate: 0.05, duration: .seconds(100),
            expect: Self.noLoss + [Self.endsOn("evicting", .websocket), Self.endsOn("open", .websocket, within: 1000)]
        )
    }

    @Test func aNATForgetsIdleFlowsAndTheManagerLearnsToKeepThemAlive() throws {
        // Every connection behind the NAT dies between two pings; the lost ping is noticed,
        // the manager halves its ping interval to 4 s and reconnects, and the new connection
        // lives: two connections per client, nothing lost, still on WebSocket.
        let result = try self.run(Self.natExperiment(heartbeatFloor: .seconds(3)))
        #expect(result.report.passed, "\(result.report.expectations)")
        // The NAT dropped packets of the evicting group both ways, and nobody else's.
        let drops = self.events(result, "seg.filter", onLinks: { $0.contains("evicting") })
        #expect(drops.contains { result.trace.componentName($0.component).hasSuffix("->server") })
        #expect(drops.contains { result.trace.componentName($0.component).hasPrefix("link:server->") })
        #expect(self.events(result, "seg.filter", onLinks: { $0.contains("open") }).isEmpty)
        let opens = result.trace.events.filter { result.trace.kindName($0.kind) == "client.open" }
        let evictingOpens = opens.filter { result.trace.componentName($0.component).contains("evicting") }
        #expect(evictingOpens.count == 6)
        #expect(opens.count - evictingOpens.count == 3)

        // Without a floor the ping stays at 8 s: every connection dies, and after two losses
        // the group falls back (to SSE, whose 8 s server heartbeat the NAT cuts too, then sync).
        let fixed = try ExperimentRun(experiment: Self.natExperiment(heartbeatFloor: nil), options: RunOptions(keepsEvents: false)).execute()
        #expect(fixed.report.groups.first { $0.name == "evicting" }?.byTransport["websocket"] == nil)
    }

    // MARK: Firewall by group and direction

    @Test func anOutboundRuleForOneGroupLeavesTheOtherAlone() throws {
        // From the start, the server's answers on port 80 to `blocked` are dropped: its SYN-ACKs
        // never arrive, so it never connects; `allowed` crosses the same server untouched.
        let blocked = ClientGroup(name: "blocked", count: 2, link: Self.link)
        let allowed = ClientGroup(name: "allowed", count: 2, link: Self.link)
        let rule = TimelineEvent(at: .zero, action: .addFirewall(name: "out", group: "blocked", port: 80, action: .drop, direction: .outbound))
        let experiment = Self.experiment("firewall-out", groups: [blocked, allowed], duration: .seconds(10), timeline: [rule], expect: [])
        let result = try self.run(experiment)
        let filtered = self.events(result, "seg.filter", onLinks: { _ in true })
        #expect(!filtered.isEmpty)
        #expect(filtered.allSatisfy { result.trace.componentName($0.component).hasPrefix("link:server->blocked-") })
        expectCutOff(result.report, blocked: "blocked", allowed: "allowed", allowedOnWebSocket: 2)
    }

    @Test func anInboundRejectForOneGroupResetsItsConnectsAlone() throws {
        let rejected = ClientGroup(name: "rejected", count: 2, link: Self.link)
        let allowed = ClientGroup(name: "allowed", count: 2, link: Self.link)
        let rule = TimelineEvent(at: .zero, action: .addFirewall(name: "in", group: "rejected", port: 80, action: .reject))
        let result = try self.run(Self.experiment("firewall-in", groups: [rejected, allowed], duration: .seconds(5), timeline: [rule], expect: []))
        let filtered = self.events(result, "seg.filter", onLinks: { _ in true })
        #expect(!filtered.isEmpty)
        #expect(filtered.allSatisfy { result.trace.componentName($0.component).hasPrefix("link:rejected-") })
    }

    // MARK: A fault on a proxy's upstream link

    @Test func partitioningAProxysUpstreamLeavesItsClientsLinksUp() throws {
        let manager = RealtimeManagerConfiguration()
        let office = ClientGroup(
            name: "office", count: 4, link: Self.link, heartbeat: HeartbeatSettings(interval: .seconds(4), timeout: .seconds(2)), manager: manager
        )
        let proxy = MiddleboxSpec(name: "corp-proxy", groups: ["office"])
        let cut = TimelineEvent(at: .seconds(10), action: .partition(group: .middlebox("corp-proxy"), direction: .both), revertAfter: .seconds(6))
        let experiment = Self.experiment(
            "upstream", groups: [office], middleboxes: [proxy], rate: 5, duration: .seconds(30), timeline: [cut],
            expect: Self.noLoss + [Expect(kind: .noIncompleteRecovery), Self.endsOn("office", .websocket)]
        )
        let result = try self.run(experiment)
        #expect(result.report.passed, "\(result.report.expectations)")
        let down = self.events(result, "seg.drop", onLinks: { _ in true })
        #expect(!down.isEmpty)
        #expect(down.allSatisfy {
            let name = result.trace.componentName($0.component)
            return name == "link:corp-proxy->server" || name == "link:server->corp-proxy"
        })
        // The cut lasted from 10 s to 16 s.
        #expect(down.allSatisfy { $0.timeNanos >= 10_000_000_000 && $0.timeNanos < 16_000_000_000 })
    }

    @Test func partitioningTheServerCutsEveryPathToIt() throws {
        let direct = ClientGroup(name: "direct", count: 2, link: Self.link)
        let behind = ClientGroup(name: "behind", count: 2, link: Self.link)
        let proxy = MiddleboxSpec(name: "corp-proxy", groups: ["behind"])
        let cut = TimelineEvent(at: .seconds(3), action: .partition(group: .server, direction: .down), revertAfter: .seconds(2))
        let result = try self.run(Self.experiment("server-cut", groups: [direct, behind], middleboxes: [proxy], duration: .seconds(8), timeline: [cut], expect: []))
        let names = Set(self.events(result, "seg.drop", onLinks: { _ in true }).map { result.trace.componentName($0.component) })
        #expect(names == ["link:server->direct-1", "link:server->direct-2", "link:server->corp-proxy"])
    }

    // MARK: A shared link

    /// The p99 latency of `count` clients sharing one 2 Mbit/s downlink, each getting four
    /// 200-byte updates a second.
    func sharedLatencyP99(clients count: Int, shared: Bool) throws -> Double {
        let link = LinkPair(both: LinkConfiguration(latency: .milliseconds(10), bandwidthBitsPerSecond: 2_000_000, queueBytes: 1_000_000))
        let group = ClientGroup(name: "office", count: count, link: link, sharedLink: shared)
        let result = try self.run(Self.experiment("shared-\(count)", groups: [group], rate: 4, duration: .seconds(10), expect: Self.noLoss))
        #expect(result.report.passed, "\(result.report.expectations)")
        return result.report.latencyMs.p99
    }

    @Test func aSharedLinksQueueingDelayGrowsWithItsClients() throws {
        // Every update reaches all clients at once: through one shared line the last copy waits
        // behind the others, so the tail latency grows with the number of clients; on lines of
        // their own it does not.
        let alone = try self.sharedLatencyP99(clients: 50, shared: false)
        let ten = try self.sharedLatencyP99(clients: 10, shared: true)
        let fifty = try self.sharedLatencyP99(clients: 50, shared: true)
        #expect(alone < 15)
        #expect(ten > alone)
        #expect(fifty > 3 * ten)
    }

    // MARK: DPI

    @Test func aDPIProxyDropsFramesAfterItsBudgetAndNotBefore() throws {
        // Plain WebSocket clients (no manager) behind a proxy that drops frames starting 5 s
        // after the 101: the server keeps sending frames to the proxy; from then on none
        // leave the proxy for the clients.
        let office = ClientGroup(name: "office", count: 2, link: Self.link, heartbeat: HeartbeatSettings(interval: .seconds(60), timeout: .seconds(10)))
        let proxy = MiddleboxSpec(name: "dpi", groups: ["office"], policy: HTTPProxyPolicy(webSocketTimeBudget: .seconds(5)))
        let result = try self.run(Self.experiment("dpi", groups: [office], middleboxes: [proxy], rate: 5, duration: .seconds(12), expect: []))
        let trace = result.trace
        let payload = { (event: EventTrace.Event) in event.c > 0 }  // seg.tx: seq, ack, len, flags
        let toProxy = self.events(result, "seg.tx", onLinks: { $0 == "server->dpi" }).filter(payload)
        let toClients = self.events(result, "seg.tx", onLinks: { $0.hasPrefix("dpi->office-") }).filter(payload)
        let cutoff: Int64 = 7_000_000_000  // connects at 0 s, upgrade within 0.1 s, budget 5 s, plus slack
        #expect(toProxy.filter { $0.timeNanos > cutoff }.count > 20)
        #expect(toClients.filter { $0.timeNanos > cutoff }.isEmpty, "\(toClients.map { trace.componentName($0.component) })")
        #expect(toClients.filter { $0.timeNanos < 5_000_000_000 }.count > 20)
    }
}
