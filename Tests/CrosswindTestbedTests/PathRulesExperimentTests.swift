import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import CrosswindTransport
import NIOCore
import Testing

/// Firewall rules declared in the topology, rules on a proxy's upstream link, and a NAT the
/// timeline switches on mid-run — each seen acting in the run's trace where and when it should.
@Suite struct PathRulesExperimentTests {
    static let link = LinkPair(both: LinkConfiguration(latency: .milliseconds(10)))

    static func experiment(
        _ name: String, groups: [ClientGroup], middleboxes: [MiddleboxSpec] = [], firewall: [FirewallRule] = [], rate: Double = 2,
        duration: TimeAmount = .seconds(20), timeline: [TimelineEvent] = []
    ) -> Experiment {
        Experiment(
            name: name, seed: 3, topology: Topology(name: name, groups: groups, middleboxes: middleboxes, firewall: firewall),
            workload: Workload(ratePerSecond: rate, messageBytes: 200, start: .seconds(1), duration: duration, drain: .seconds(5)),
            timeline: timeline
        )
    }

    /// Runs `experiment` twice (one digest required) and returns the first run's result.
    func run(_ experiment: Experiment) throws -> RunResult {
        try experiment.validate()
        let first = try ExperimentRun(experiment: experiment).execute()
        let second = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false)).execute()
        #expect(first.digest == second.digest)
        return first
    }

    /// The trace events of `kind` on the links whose name (`from->to`) satisfies `link`.
    func events(_ result: RunResult, _ kind: String, onLinks link: (String) -> Bool = { _ in true }) -> [EventTrace.Event] {
        let trace = result.trace
        return trace.events.filter { event in
            let component = trace.componentName(event.component)
            return trace.kindName(event.kind) == kind && component.hasPrefix("link:") && link(String(component.dropFirst(5)))
        }
    }

    @Test func aTopologyRuleDropsFromTheStart() throws {
        // No timeline: the rule is there before the first SYN, on `blocked`'s links alone.
        let blocked = ClientGroup(name: "blocked", count: 2, link: Self.link)
        let allowed = ClientGroup(name: "allowed", count: 2, link: Self.link)
        let rule = FirewallRule(name: "no-web", target: "blocked", port: 80, action: .drop)
        let result = try self.run(Self.experiment("topology-rule", groups: [blocked, allowed], firewall: [rule]))
        let filtered = self.events(result, "seg.filter")
        #expect(!filtered.isEmpty)
        #expect(filtered.allSatisfy { result.trace.componentName($0.component).hasPrefix("link:blocked-") })
        // The first SYNs, at 0 s, are the first packets dropped.
        #expect(filtered.first?.timeNanos ?? -1 < 100_000_000)
        expectCutOff(result.report, blocked: "blocked", allowed: "allowed", allowedOnWebSocket: 2)
    }

    @Test func aRuleOnAProxysUpstreamStopsItWhileItsClientsReachIt() throws {
        // The proxy's SYNs to the server's port 80 vanish; the office's packets to the proxy pass.
        let office = ClientGroup(name: "office", count: 2, link: Self.link)
        let home = ClientGroup(name: "home", count: 2, link: Self.link)
        let proxy = MiddleboxSpec(name: "corp-proxy", groups: ["office"])
        let rule = FirewallRule(name: "egress", target: .middlebox("corp-proxy"), port: 80, action: .drop)
        let result = try self.run(Self.experiment("upstream-rule", groups: [office, home], middleboxes: [proxy], firewall: [rule]))
        let filtered = self.events(result, "seg.filter")
        #expect(!filtered.isEmpty)
        #expect(filtered.allSatisfy { result.trace.componentName($0.component) == "link:corp-proxy->server" })
        // Client -> proxy: segments sent, none filtered; proxy -> server: nothing gets past the rule.
        #expect(!self.events(result, "seg.tx", onLinks: { $0.hasPrefix("office-") && $0.hasSuffix("->corp-proxy") }).isEmpty)
        #expect(self.events(result, "seg.tx", onLinks: { $0 == "server->corp-proxy" }).isEmpty)
        expectCutOff(result.report, blocked: "office", allowed: "home")

        // Without the rule the same office is served through the proxy.
        let open = try self.run(Self.experiment("upstream-open", groups: [office, home], middleboxes: [proxy]))
        #expect(open.report.groups.first { $0.name == "office" }?.messages.lost == 0)
    }

    @Test func aNATSwitchedOnMidRunForgetsIdleFlowsAfterItsTimeoutAndNotBefore() throws {
        // Pings every 8 s (at about 8, 16, 24 s), an update every 20 s: under a 6 s NAT switched
        // on at 12 s the connections open then are adopted at 12 s, so the 16 s ping passes and
        // nothing is dropped before 18 s; the 8 s gap after it forgets them. Back off at 42 s
        // (`for: 30s`), nothing more is.
        let heartbeat = HeartbeatSettings(interval: .seconds(8), timeout: .seconds(3))
        let natted = ClientGroup(name: "natted", count: 3, link: Self.link, heartbeat: heartbeat)
        let open = ClientGroup(name: "open", count: 2, link: Self.link, heartbeat: heartbeat)
        let switchOn = TimelineEvent(at: .seconds(12), action: .setNat(group: "natted", idleTimeout: .seconds(6)), revertAfter: .seconds(30))
        let experiment = Self.experiment("nat-on", groups: [natted, open], rate: 0.05, duration: .seconds(60), timeline: [switchOn])
        let result = try self.run(experiment)
        let drops = self.events(result, "seg.filter")
        #expect(!drops.isEmpty)
        #expect(drops.allSatisfy { result.trace.componentName($0.component).contains("natted-") })
        #expect(drops.allSatisfy { $0.timeNanos >= 18_000_000_000 && $0.timeNanos < 42_000_000_000 })
    }
}
