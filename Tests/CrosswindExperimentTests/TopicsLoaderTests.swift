import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindExperiment

/// Several topics, tabs and the browser's connection cap: the keys, their defaults, and bad
/// input, each with a message that says what is wrong and where.
@Suite struct TopicsLoaderTests {
    @Test func readsTopicsTabsMultiplexAndTheBrowserCap() throws {
        let experiment = try ExperimentLoader.parse(
            yaml: TestSupport.experiment(
                group: "transport: sse\ntopics: [orders, prices]\ntabs: 3\nmultiplex: false\nbrowser: { connectionsPerHost: 4 }",
                workload: "  topics: [prices, orders, alerts]\n  rate: 5\n  size: 100\n  duration: 1s"
            ),
            file: "t.yaml", baseDirectory: "."
        )
        #expect(experiment.workload.topics == ["prices", "orders", "alerts"])
        #expect(experiment.workload.topic == "prices")
        let group = try #require(experiment.topology.groups.first)
        #expect(group.topics == ["orders", "prices"])
        #expect(group.tabs == 3)
        #expect(group.multiplex == false)
        #expect(group.browser == BrowserSettings(connectionsPerHost: 4))
    }

    @Test func defaultsAreOneTopicOneTabMultiplexedAndNoCap() throws {
        let experiment = try ExperimentLoader.parse(yaml: TestSupport.experiment(), file: "t.yaml", baseDirectory: ".")
        #expect(experiment.workload.topics == ["metrics"])
        let group = try #require(experiment.topology.groups.first)
        #expect(group.topics == nil)
        #expect(group.tabs == 1)
        #expect(group.multiplex)
        #expect(group.browser == nil)
        let browser = try ExperimentLoader.parse(
            yaml: TestSupport.experiment(group: "browser: {}"), file: "t.yaml", baseDirectory: "."
        )
        #expect(browser.topology.groups.first?.browser?.connectionsPerHost == 6)
    }

    @Test(arguments: [
        ("", "  topic: a\n  topics: [a, b]\n  rate: 5\n  size: 100\n  duration: 1s",
         "t.yaml:11:3: workload.topics: give either topic or topics, not both"),
        ("", "  topics: [a, a]\n  rate: 5\n  size: 100\n  duration: 1s", "workload.topics: topic 'a' is listed twice"),
        ("", "  topics: []\n  rate: 5\n  size: 100\n  duration: 1s", "workload.topics: must list 1 to 64 topics, got 0"),
        ("", "  topics: [a, 'b/c']\n  rate: 5\n  size: 100\n  duration: 1s", "workload.topics[1]: 'b/c' is not a valid name"),
        ("", "  topics: prices\n  rate: 5\n  size: 100\n  duration: 1s", "workload.topics: expected a list, got 'prices'"),
        ("tabs: 0", "  rate: 5\n  size: 100\n  duration: 1s", "tabs: must be in 1...16, got 0"),
        ("browser: { connectionsPerHost: 0 }", "  rate: 5\n  size: 100\n  duration: 1s",
         "browser.connectionsPerHost: must be in 1...256, got 0"),
        ("browser: { connections: 6 }", "  rate: 5\n  size: 100\n  duration: 1s", "unknown key 'connections'"),
        ("topics: [news]", "  topics: [a, b]\n  rate: 5\n  size: 100\n  duration: 1s",
         "workload.topics: group 'g' follows topic 'news', which the workload does not publish"),
    ])
    func problems(group: String, workload: String, expected: String) {
        let problem = TestSupport.experimentError(TestSupport.experiment(group: group, workload: workload))?.description ?? "(none)"
        #expect(problem.contains(expected), "\(problem)")
    }

    @Test func oneConnectionForSeveralTopicsWorksOnEveryTransportAndUnderAManager() throws {
        for group in ["transport: sync", "transport: websocket", "topics: [a, b]\nmanager: {}"] {
            let experiment = try ExperimentLoader.parse(
                yaml: TestSupport.experiment(group: group, workload: "  topics: [a, b]\n  rate: 5\n  size: 100\n  duration: 1s"),
                file: "t.yaml", baseDirectory: "."
            )
            #expect(experiment.topology.groups.first?.multiplex == true)
        }
    }

    @Test func oneConnectionPerTopicWorksOnEveryTransport() throws {
        for transport in ["websocket", "sync"] {
            let experiment = try ExperimentLoader.parse(
                yaml: TestSupport.experiment(
                    group: "transport: \(transport)\nmultiplex: false", workload: "  topics: [a, b]\n  rate: 5\n  size: 100\n  duration: 1s"
                ),
                file: "t.yaml", baseDirectory: "."
            )
            #expect(experiment.topology.groups.first?.multiplex == false)
        }
    }

    @Test func theValidatorChecksValuesBuiltInSwift() {
        var experiment = Experiment(
            name: "t", topology: Topology(name: "t", groups: [ClientGroup(name: "g", count: 1, transport: .sse, link: LinkPair(), tabs: 0)]),
            workload: Workload(topics: ["a", "a"], ratePerSecond: 5, messageBytes: 100, duration: .seconds(1))
        )
        var messages = experiment.validationProblems().map(\.message)
        #expect(messages.contains("workload.topics: topic 'a' is listed twice"))
        #expect(messages.contains("topology.groups[0].tabs: must be in 1...16, got 0"))
        experiment.workload.topics = ["a", "b"]
        experiment.topology.groups[0].tabs = 1
        experiment.topology.groups[0].transport = .sync
        messages = experiment.validationProblems().map(\.message)
        #expect(messages.isEmpty, "\(messages)")
    }
}
