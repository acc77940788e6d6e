import CrosswindExperiment
import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

@testable import CrosswindTestbed

/// A client node that caps its HTTP/1.1 connections per host as a browser does, and dashboard
/// tabs that follow several topics through it: one connection per topic starves the third
/// tab; one multiplexed stream per tab does not.
@Suite struct BrowserConnectionTests {
    // MARK: The cap

    @Test func slotsAreHeldUpToTheLimitAndHandedOverInOrder() {
        var slots = ConnectionSlots(limit: 2)
        // Two start, the third and fourth wait.
        let requests = (0..<4).map { _ in slots.request() }
        #expect(requests == [true, true, false, false])
        #expect((slots.held, slots.waiting) == (2, 2))
        // Each close hands its slot to the longest-waiting one; with nobody waiting a close
        // frees the slot, and the next request takes it.
        let releases = (0..<3).map { _ in slots.released() }
        #expect(releases == [true, true, false])
        #expect((slots.held, slots.waiting) == (1, 0))
        let next = slots.request()
        #expect(next)
        #expect((slots.held, slots.waiting) == (2, 0))
    }

    @Test func theSeventhConnectionStartsOnlyWhenOneOfTheSixCloses() throws {
        let loop = EmbeddedEventLoop()
        let pool = BrowserConnectionPool(connectionsPerHost: 6)
        var channels: [EmbeddedChannel] = []
        for _ in 0..<7 {
            pool.open {
                let channel = EmbeddedChannel(loop: loop)
                channels.append(channel)
                return channel
            }
        }
        #expect(channels.count == 6)
        #expect((pool.held, pool.waiting) == (6, 1))
        // Time alone changes nothing: a waiting connection waits for a close, however long.
        loop.advanceTime(by: .hours(1))
        #expect(channels.count == 6)
        try channels[3].close().wait()
        loop.run()
        #expect(channels.count == 7)
        #expect((pool.held, pool.waiting) == (6, 0))
        // A close with nobody waiting frees a slot for the next connection at once.
        try channels[0].close().wait()
        loop.run()
        #expect((pool.held, pool.waiting) == (5, 0))
        for channel in channels { _ = try? channel.finish(acceptAlreadyClosed: true) }
    }

    // MARK: Tabs through the cap

    /// `count` clients with three tabs of three topics each, behind a cap of six, on `transport`.
    static func experiment(transport: TransportMethod, multiplex: Bool, browser: BrowserSettings? = BrowserSettings()) -> Experiment {
        Experiment(
            name: "tabs", seed: 5,
            topology: Topology(name: "tabs", groups: [
                ClientGroup(
                    name: "desk", count: 2, transport: transport, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(10))),
                    tabs: 3, multiplex: multiplex, browser: browser
                ),
            ]),
            workload: Workload(topics: ["prices", "orders", "alerts"], ratePerSecond: 5, messageBytes: 100, start: .seconds(1), duration: .seconds(5), drain: .seconds(2))
        )
    }

    static func run(_ experiment: Experiment) throws -> Report {
        try ExperimentRun(experiment: experiment).execute().report
    }

    @Test func oneConnectionPerTopicStarvesTheThirdTab() throws {
        // Three topics per tab: tabs 1 and 2 take the six slots; tab 3's three streams wait
        // for a close that never comes, and their messages are lost.
        let report = try Self.run(Self.experiment(transport: .sse, multiplex: false))
        #expect(report.clients.total == 18)
        #expect(report.clients.connected == 12)
        let starved = report.failingClients.map(\.client)
        #expect(starved == ["desk-1/tab3/prices", "desk-1/tab3/orders", "desk-1/tab3/alerts", "desk-2/tab3/prices", "desk-2/tab3/orders", "desk-2/tab3/alerts"])
        #expect(report.messages.lost == 6 * 25)
    }

    @Test func oneMultiplexedStreamPerTabDeliversEveryTopicOfEveryTab() throws {
        let report = try Self.run(Self.experiment(transport: .sse, multiplex: true))
        #expect(report.clients.total == 18)
        #expect(report.clients.connected == 18)
        #expect(report.messages.offered == 18 * 25)
        #expect(report.messages.delivered == 18 * 25)
        #expect(report.messages.duplicated == 0)
        #expect(report.messages.reordered == 0)
    }

    @Test func withoutTheCapEveryConnectionOpens() throws {
        let report = try Self.run(Self.experiment(transport: .sse, multiplex: false, browser: nil))
        #expect(report.clients.connected == 18)
        #expect(report.messages.lost == 0)
    }

    @Test func webSocketConnectionsDoNotCountAgainstTheCap() throws {
        // Nine WebSockets per node, as Chromium allows beside its six HTTP/1.1 connections.
        let report = try Self.run(Self.experiment(transport: .websocket, multiplex: false))
        #expect(report.clients.connected == 18)
        #expect(report.messages.lost == 0)
    }

    @Test func oneWebSocketPerTabDeliversEveryTopicOfEveryTab() throws {
        let report = try Self.run(Self.experiment(transport: .websocket, multiplex: true))
        #expect(report.clients.connected == 18)
        #expect(report.messages.delivered == 18 * 25)
        #expect(report.messages.lost == 0 && report.messages.duplicated == 0 && report.messages.reordered == 0)
    }

    @Test func aMultiplexedRunIsDeterministic() throws {
        let experiment = Self.experiment(transport: .sse, multiplex: true)
        #expect(try Self.run(experiment).digest == Self.run(experiment).digest)
    }
}
