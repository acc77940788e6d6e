import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
@testable import CrosswindTestbed
import CrosswindTransport
import Foundation
import NIOCore
import Testing

/// `events.jsonl` in names: close and switch reasons, transports, TCP states, flags, errors
/// and verdicts read as words, and a connection is named after its client and the middlebox
/// on its path, so the proxy's side of it is tied to the client.
@Suite struct TraceNamesTests {
    /// One client behind a proxy that strips `Upgrade`: its WebSocket attempts are refused
    /// and it falls back to SSE.
    static func proxied() -> Experiment {
        let group = ClientGroup(name: "office", count: 1, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(10))), manager: RealtimeManagerConfiguration())
        return Experiment(
            name: "proxied",
            topology: Topology(name: "proxied", groups: [group], middleboxes: [MiddleboxSpec(name: "corp-proxy", groups: ["office"], policy: HTTPProxyPolicy(stripUpgrade: true))]),
            workload: Workload(ratePerSecond: 2, messageBytes: 64, start: .seconds(1), duration: .seconds(5), drain: .seconds(2))
        )
    }

    /// The events of a run as rendered for events.jsonl, parsed back.
    static func events(_ experiment: Experiment) throws -> [[String: Any]] {
        let result = try ExperimentRun(experiment: experiment).execute()
        var lines = EventLines(result.trace)
        return try result.trace.events.map { event in
            try #require(try JSONSerialization.jsonObject(with: Data(lines.line(event).utf8)) as? [String: Any])
        }
    }

    @Test func aProxiedConnectionIsNamedAfterItsClientOnBothSides() throws {
        let events = try Self.events(Self.proxied())
        func states(_ component: String) -> [(conn: String, from: String, to: String)] {
            events.filter { $0["component"] as? String == component && $0["event"] as? String == "tcp.state" }
                .map { ($0["conn"] as? String ?? "?", $0["from"] as? String ?? "?", $0["to"] as? String ?? "?") }
        }
        // The client's first connection, as the client, the proxy and the server see it.
        let client = states("tcp:office-1")
        #expect(client.first.map { [$0.conn, $0.from, $0.to] } == ["office-1#1 via corp-proxy", "synSent", "established"])
        let proxy = states("tcp:corp-proxy")
        #expect(proxy.contains { $0 == ("office-1#1 via corp-proxy", "synReceived", "established") })
        #expect(proxy.contains { $0 == ("office-1#1 via corp-proxy upstream", "synSent", "established") })
        let server = states("tcp:server")
        #expect(server.contains { $0 == ("office-1#1 via corp-proxy upstream", "synReceived", "established") })
        // Every connection of every stack is named, and the client numbers its own.
        #expect(events.filter { ($0["event"] as? String)?.hasPrefix("tcp.") == true && $0["conn"] != nil }.allSatisfy { $0["conn"] is String })
        #expect(client.contains { $0.conn == "office-1#2 via corp-proxy" })
    }

    @Test func reasonsTransportsAndFlagsReadAsNames() throws {
        let events = try Self.events(Self.proxied())
        let switches = events.filter { $0["event"] as? String == "client.switch" }
        #expect(switches.first?["from"] is NSNull)
        #expect(switches.first?["to"] as? String == "websocket")
        #expect(switches.first?["reason"] as? String == "initial")
        #expect(switches.dropFirst().first.map { [$0["from"] as? String, $0["to"] as? String, $0["reason"] as? String] } == ["websocket", "sse", "fallbackConnectRefused"])
        let flags = Set(events.compactMap { $0["event"] as? String == "seg.tx" ? $0["flags"] as? String : nil })
        #expect(flags.isSuperset(of: ["SYN", "SYN|ACK", "ACK", "PSH|ACK"]))
        let connects = events.filter { $0["event"] as? String == "client.connect" }
        #expect(connects.first?["group"] as? String == "office")
    }

    @Test func closeReasonsFailuresAndVerdictsReadAsNames() throws {
        // A direct client whose WebSocket port is rejected by a firewall: the TCP failure,
        // the verdict and the client's close reason.
        let group = ClientGroup(name: "office", count: 1, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(10))))
        let experiment = Experiment(
            name: "rejected",
            topology: Topology(name: "rejected", groups: [group]),
            workload: Workload(ratePerSecond: 1, messageBytes: 64, start: .seconds(1), duration: .seconds(2), drain: .seconds(1)),
            timeline: [TimelineEvent(at: .zero, action: .addFirewall(name: "fw", group: "office", port: 80, action: .reject))]
        )
        let events = try Self.events(experiment)
        let timeline = events.first { $0["event"] as? String == "timeline.action" }
        #expect(timeline?["action"] as? String == "addFirewall fw office port 80 reject")
        let filter = events.first { $0["event"] as? String == "seg.filter" }
        #expect(filter?["verdict"] as? String == "reset")
        #expect(filter?["flags"] as? String == "SYN")
        let failure = events.first { $0["event"] as? String == "tcp.fail" }
        #expect(failure?["error"] as? String == "connectionRefused")
        #expect(failure?["conn"] as? String == "office-1#1")
        let close = events.first { $0["event"] as? String == "client.close" }
        #expect(close?["reason"] as? String == "connectionRefused")
    }

    @Test func everyCloseReasonCodeHasAName() {
        // The trace's close reasons cover every code once (1…8), each named after its case.
        let reasons = TestbedTraceNames.closeReasons
        #expect(reasons.map(\.code).sorted() == Array(1...8))
        #expect(Set(reasons.map(\.name)).count == reasons.count)
        let trace = EventTrace(origin: .uptimeNanoseconds(0), keepsEvents: false)
        let names = TestbedTraceNames(trace, experiment: Self.proxied())
        #expect(trace.value(ClientCloseReason.heartbeatTimeout.code, in: names.closeReason) == .name("heartbeatTimeout"))
        #expect(trace.value(ClientCloseReason.serverClosed(code: 1001).code, in: names.closeReason) == .name("serverClosed"))
        #expect(trace.value(ClientCloseReason.connectionFailed("reset").code, in: names.closeReason) == .name("connectionFailed"))
    }

    @Test func jsonLinesEscapeNames() {
        let trace = EventTrace(origin: .uptimeNanoseconds(0), keepsEvents: true)
        let names = trace.vocabulary("n")
        trace.define(names, 0, as: "a \"quoted\" \\ name")
        let kind = trace.kind("k", fields: [TraceField("x", names), "y", TraceField("z", names)])
        trace.record(.uptimeNanoseconds(1_500_000), trace.component("c\t1"), kind, 0, -2, -1)
        var lines = EventLines(trace)
        #expect(lines.line(trace.events[0]) == #"{"t":0.001500,"component":"c\t1","event":"k","x":"a \"quoted\" \\ name","y":-2,"z":null}"#)
    }
}
