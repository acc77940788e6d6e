import Foundation
import Testing

@testable import CrosswindExperiment

/// A file with several problems gets all of them at once, each at its position, in file order:
/// a bad value of one key does not hide a bad value of another.
@Suite struct EveryProblemTests {
    /// Five problems of five kinds, one per line of interest:
    ///
    /// ```
    /// 1  kind: experiment
    /// 2  version: 1
    /// 3  name: five problems                 ← not a valid name (value at 3:7)
    /// 4  topology:
    /// 5    groups:
    /// 6      - name: office
    /// 7        count: 0                       ← out of range (7:14)
    /// 8        link: { laytency: 20ms, bandwidth: 10 }   ← unknown key (8:15), no unit (8:42)
    /// 9  workload: { rate: 5, size: 512, duration: 60s }
    /// 10 timeline:
    /// 11   - { at: 10s, heal: { group: lobby } }         ← no such group (11:31)
    /// ```
    static let fiveProblems = """
        kind: experiment
        version: 1
        name: five problems
        topology:
          groups:
            - name: office
              count: 0
              link: { laytency: 20ms, bandwidth: 10 }
        workload: { rate: 5, size: 512, duration: 60s }
        timeline:
          - { at: 10s, heal: { group: lobby } }

        """

    @Test func fiveProblemsAreReportedWithTheirPositionsInFileOrder() {
        let problems = TestSupport.experimentProblems(Self.fiveProblems).map(\.description)
        #expect(problems == [
            "t.yaml:3:7: name: 'five problems' is not a valid name (use letters, digits, '.', '_' and '-')",
            "t.yaml:7:14: topology.groups[0].count: must be in 1...100000, got 0",
            "t.yaml:8:15: topology.groups[0].link: unknown key 'laytency' (did you mean 'latency'?)",
            "t.yaml:8:42: topology.groups[0].link.bandwidth: bandwidth needs a unit, got '10': bits per second (bit, kbit, Mbit, Gbit; bps, kbps, Mbps, Gbps; or with /s: Mbit/s, Mb/s) or bytes per second (B/s, KB/s, MB/s, GB/s; KiB/s, MiB/s, GiB/s)",
            "t.yaml:11:31: timeline[0].heal.group: no client group 'lobby' (groups: office)",
        ])
    }

    @Test func theThrownErrorListsEveryProblemOneLineEach() throws {
        let error = #expect(throws: ExperimentError.self) {
            _ = try ExperimentLoader.parse(yaml: Self.fiveProblems, file: "t.yaml", baseDirectory: ".")
        }
        let thrown = try #require(error)
        #expect(thrown.problems.count == 5)
        #expect(thrown.description.split(separator: "\n").count == 5)
        // The single-problem accessors describe the first.
        #expect(thrown.file == "t.yaml")
        #expect(thrown.line == 3)
        #expect(thrown.column == 7)
        #expect(thrown.message.hasPrefix("name: 'five problems'"))
        // Each problem names the key path of the offending key or value.
        #expect(thrown.problems.map(\.path) == [
            "name", "topology.groups[0].count", "topology.groups[0].link.laytency", "topology.groups[0].link.bandwidth",
            "timeline[0].heal.group",
        ])
    }

    @Test func missingKeysComeAfterTheProblemsOfTheText() {
        // Missing keys have no place in the text: they follow, in the order of their mappings.
        let problems = TestSupport.experimentProblems("""
            kind: experiment
            version: 1
            seed: many
            topology:
              groups:
                - { name: a, link: { jitter: 1 } }
            """).map(\.description)
        #expect(problems == [
            "t.yaml:3:7: seed: expected an integer in 0...18446744073709551615, got 'many'",
            "t.yaml:6:34: topology.groups[0].link.jitter: duration needs a unit (ns, us, ms, s, min, h), got '1'",
            "t.yaml:1:1: missing required key 'name'",
            "t.yaml:1:1: missing required key 'workload'",
            "t.yaml:6:7: topology.groups[0]: missing required key 'count'",
        ])
    }

    @Test func aBadValueDoesNotHideTheOthersOfItsMapping() {
        // Every key of one mapping: each bad value is reported, the good ones are read.
        let problems = TestSupport.experimentProblems(TestSupport.experiment(
            group: "tcp: { mss: 10, initialRTO: 0s, synRetries: 99, window: 2GiB }"
        )).map(\.description)
        #expect(problems == [
            "t.yaml:8:19: topology.groups[0].tcp.mss: must be in 64...65495, got 10",
            "t.yaml:8:35: topology.groups[0].tcp.initialRTO: must be greater than 0, got 0s",
            "t.yaml:8:51: topology.groups[0].tcp.synRetries: must be in 0...20, got 99",
            "t.yaml:8:63: topology.groups[0].tcp.window: must be in 1...1048560KiB bytes, got 2147483648",
        ])
    }

    @Test func oneMistakeIsReportedOnce() {
        // A group whose name cannot be read is left out; references to it say nothing more.
        let problems = TestSupport.experimentProblems(TestSupport.twoGroupExperiment("""
            timeline:
              - { at: 1s, partition: { group: office } }
            expect:
              - transport: { group: office, endsOn: sse }
            """).replacingOccurrences(of: "name: office", with: "name: Office")).map(\.description)
        #expect(problems == [
            "t.yaml:6:15: topology.groups[0].name: 'Office' is not a valid node name (use lowercase letters, digits and '-')",
        ])
        // A bad tcp mapping does not also fail the order of its timeouts.
        #expect(TestSupport.experimentProblems(TestSupport.experiment(group: "tcp: { minRTO: 3min, maxRTO: fast }")).map(\.description) == [
            "t.yaml:8:36: topology.groups[0].tcp.maxRTO: expected a duration like 80ms, got 'fast'",
        ])
    }

    @Test func malformedYAMLIsStillOneProblem() {
        let problems = TestSupport.experimentProblems("kind: experiment\nversion: 1\nname: [unclosed\nseed: x\n")
        #expect(problems.map(\.description) == [
            "t.yaml:4:5: malformed YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 7)",
        ])
    }

    @Test func aWrongHeaderStopsTheReading() {
        // Keys of another schema version mean nothing: one problem, not one per key.
        #expect(TestSupport.experimentProblems("kind: experiment\nversion: 2\nnmae: t\ncolour: red\n").map(\.description) == [
            "t.yaml:2:10: version: unsupported schema version '2' (this version of crosswind reads version 1)",
        ])
    }

    @Test func problemsOfAReferencedTopologyFollowThoseOfTheExperiment() throws {
        try TestSupport.withScratchDirectory("every-problem") { root in
            try TestSupport.write(
                "kind: topology\nversion: 1\nname: net\ngroups:\n  - { name: a, count: 1, link: { loss: 1.5, latncy: 1ms } }\n",
                to: "net.yaml", in: root
            )
            let yaml = """
                kind: experiment
                version: 1
                name: t
                topology: net.yaml
                workload: { rate: 0, size: 1, duration: 1s }
                """
            #expect(TestSupport.experimentProblems(yaml, baseDirectory: root).map(\.description) == [
                "t.yaml:5:19: workload.rate: must be greater than 0 and at most 10000 messages per second, got 0",
                "\(root)/net.yaml:5:40: groups[0].link.loss: probability must be in 0...1 (or 0%...100%), got 1.5",
                "\(root)/net.yaml:5:45: groups[0].link: unknown key 'latncy' (did you mean 'latency'?)",
            ])
        }
    }
}

/// An unknown key gets the closest known key when one is close, the list of keys otherwise.
@Suite struct KeySuggestionTests {
    @Test(arguments: [
        // A typo of one key: that key.
        ("link: { laytency: 20ms }", "t.yaml:8:15: topology.groups[0].link: unknown key 'laytency' (did you mean 'latency'?)"),
        ("link: { Latency: 20ms }", "t.yaml:8:15: topology.groups[0].link: unknown key 'Latency' (did you mean 'latency'?)"),
        ("link: { jiter: 1ms }", "t.yaml:8:15: topology.groups[0].link: unknown key 'jiter' (did you mean 'jitter'?)"),
        ("link: { bandwith: 1Mbit }", "t.yaml:8:15: topology.groups[0].link: unknown key 'bandwith' (did you mean 'bandwidth'?)"),
        ("heartbeat: { intreval: 1s }", "t.yaml:8:20: topology.groups[0].heartbeat: unknown key 'intreval' (did you mean 'interval'?)"),
        ("conectSpread: 1s", "t.yaml:8:7: topology.groups[0]: unknown key 'conectSpread' (did you mean 'connectSpread'?)"),
        // Nothing close: every allowed key.
        ("link: { delay: 20ms }",
         "t.yaml:8:15: topology.groups[0].link: unknown key 'delay' (expected one of: latency, jitter, loss, bandwidth, queue)"),
        ("sync: { every: 1s }", "t.yaml:8:15: topology.groups[0].sync: unknown key 'every' (expected one of: interval, longPoll, batchSize)"),
    ])
    func suggestions(group: String, expected: String) {
        #expect(TestSupport.experimentError(TestSupport.experiment(group: group))?.description == expected)
    }

    @Test func closestKeys() {
        #expect(KeySuggestion.closest(to: "laytency", among: ["latency", "jitter"]) == ["latency"])
        #expect(KeySuggestion.closest(to: "p98", among: ["avg", "p50", "p95", "p99", "max"]) == ["p95", "p99"])
        #expect(KeySuggestion.closest(to: "port", among: ["group", "groups", "direction", "for"]) == [])
        #expect(KeySuggestion.closest(to: "atmost", among: ["atMost", "atLeast"]) == ["atMost"])
        // Swapped neighbours count as one edit.
        #expect(KeySuggestion.distance("ltaency", "latency") == 1)
        #expect(KeySuggestion.phrase(["a"]) == "did you mean 'a'?")
        #expect(KeySuggestion.phrase(["a", "b", "c"]) == "did you mean 'a', 'b' or 'c'?")
    }
}
