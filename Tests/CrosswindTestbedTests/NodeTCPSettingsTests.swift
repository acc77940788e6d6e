import CrosswindExperiment
import CrosswindNetwork
import CrosswindReport
import CrosswindTestbed
import NIOCore
import Testing

/// Each node runs the TCP settings its experiment gives it: a group's clients their group's,
/// the server and each proxy their own (Linux's defaults unless set).
@Suite struct NodeTCPSettingsTests {
    @Test func theServerAndAProxyGetTheirOwnSettings() throws {
        var server = TCPSettings()
        server.windowBytes = 256 * 1024
        server.timestamps = false
        var proxy = TCPSettings()
        proxy.congestionControl = .reno
        var client = TCPSettings()
        client.initialCongestionWindow = 4
        let topology = Topology(
            name: "settings",
            server: ServerSpec(name: "server", tcp: server),
            groups: [
                ClientGroup(name: "office", count: 1, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(5))), tcp: client),
                ClientGroup(name: "home", count: 1, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(5)))),
            ],
            middleboxes: [MiddleboxSpec(name: "corp-proxy", groups: ["office"], tcp: proxy)]
        )
        let experiment = Experiment(
            name: "settings", seed: 1, topology: topology,
            workload: Workload(ratePerSecond: 2, messageBytes: 100, start: .seconds(1), duration: .seconds(2), drain: .seconds(1))
        )
        let run = try ExperimentRun(experiment: experiment, options: RunOptions(keepsEvents: false))
        let result = run.execute()
        #expect(result.report.messages.delivered == result.report.messages.offered)
        var settings: [String: TCPSettings] = [:]
        for index in 0..<run.network.nodeCount {
            let node = NodeID(rawValue: UInt32(index))
            settings[run.network.name(of: node)] = run.network.tcp(node).settings
        }
        #expect(settings["server"] == server)
        #expect(settings["corp-proxy"] == proxy)
        #expect(settings["office-1"] == client)
        #expect(settings["home-1"] == TCPSettings())
    }
}
