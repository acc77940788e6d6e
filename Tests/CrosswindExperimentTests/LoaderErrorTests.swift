import Testing

@testable import CrosswindExperiment

/// Bad input: every kind of problem gives the exact `file:line:column: message`.
///
/// Positions are worked out by hand from the YAML in each test (1-based; see
/// ``TestSupport/experiment(group:workload:)`` for the line numbers of the generated experiment).
@Suite struct LoaderErrorTests {
    /// Problems in the single group of ``TestSupport/experiment(group:workload:)``, whose lines start at 8:7.
    @Test(arguments: [
        // Unknown keys, nested in link (shorthand and per direction) and tcp.
        ("link: { latncy: 1ms }",
         "t.yaml:8:15: topology.groups[0].link: unknown key 'latncy' (did you mean 'latency'?)"),
        ("link:\n  up: { latency: 1ms, los: 1% }\n  down: {}",
         "t.yaml:9:29: topology.groups[0].link.up: unknown key 'los' (did you mean 'loss'?)"),
        ("link:\n  up: {}\n  sideways: {}",
         "t.yaml:10:9: topology.groups[0].link: unknown key 'sideways' (expected one of: up, down)"),
        ("tcp:\n  mms: 1400",
         "t.yaml:9:9: topology.groups[0].tcp: unknown key 'mms' (did you mean 'mss'?)"),
        // Wrong types.
        ("tcp: [1, 2]", "t.yaml:8:12: topology.groups[0].tcp: expected a mapping, got a list"),
        ("tcp: { mss: big }", "t.yaml:8:19: topology.groups[0].tcp.mss: expected an integer, got 'big'"),
        ("tcp: { mss: 1400.5 }", "t.yaml:8:19: topology.groups[0].tcp.mss: must be an integer in 64...65495, got '1400.5'"),
        ("heartbeat: { interval: { every: 1s } }",
         "t.yaml:8:30: topology.groups[0].heartbeat.interval: expected a duration like 80ms, got a mapping"),
        ("link: { latency: fast }", "t.yaml:8:24: topology.groups[0].link.latency: expected a duration like 80ms, got 'fast'"),
        ("link: { bandwidth: 10 }",
         "t.yaml:8:26: topology.groups[0].link.bandwidth: bandwidth needs a unit, got '10': bits per second (bit, kbit, Mbit, Gbit; bps, kbps, Mbps, Gbps; or with /s: Mbit/s, Mb/s) or bytes per second (B/s, KB/s, MB/s, GB/s; KiB/s, MiB/s, GiB/s)"),
        ("link: { queue: 64KQ }",
         "t.yaml:8:22: topology.groups[0].link.queue: unknown size unit 'KQ' in '64KQ' (use B, KB, MB, GB, KiB, MiB, GiB)"),
        // Out of range.
        ("link: { loss: 1.5 }",
         "t.yaml:8:21: topology.groups[0].link.loss: probability must be in 0...1 (or 0%...100%), got 1.5"),
        ("link: { loss: 150% }",
         "t.yaml:8:21: topology.groups[0].link.loss: probability must be in 0...1 (or 0%...100%), got 150%"),
        ("link: { loss: { model: gilbert-elliott, p: 0.1, r: -0.5 } }",
         "t.yaml:8:58: topology.groups[0].link.loss.r: probability must be in 0...1 (or 0%...100%), got -0.5"),
        ("link: { latency: 61s }", "t.yaml:8:24: topology.groups[0].link.latency: must be at most 1min, got 61s"),
        ("link: { jitter: 11s }", "t.yaml:8:23: topology.groups[0].link.jitter: must be at most 10s, got 11s"),
        ("link: { bandwidth: 999bit }", "t.yaml:8:26: topology.groups[0].link.bandwidth: must be at least 1kbit (bits per second), got '999bit'"),
        ("link: { queue: 1000 }", "t.yaml:8:22: topology.groups[0].link.queue: must be in 1500...1GiB bytes, got 1000"),
        ("tcp: { maxRetransmissions: 99999999999999999999 }",
         "t.yaml:8:34: topology.groups[0].tcp.maxRetransmissions: must be in 1...50, got 99999999999999999999"),
        ("link: { latency: 99999999999999min }", "t.yaml:8:24: topology.groups[0].link.latency: '99999999999999min' is too large"),
        ("link: { latency: 0.0000000001s }", "t.yaml:8:24: topology.groups[0].link.latency: '0.0000000001s' is finer than 1 ns"),
        ("link: { latency: 1ms, <<: {} }",
         "t.yaml:8:29: topology.groups[0].link: unknown key '<<' (expected one of: latency, jitter, loss, bandwidth, queue)"),
        ("tcp: { synRetries: 21 }", "t.yaml:8:26: topology.groups[0].tcp.synRetries: must be in 0...20, got 21"),
        ("tcp: { minRTO: 2s }",
         "t.yaml:8:22: topology.groups[0].tcp.minRTO: initialRTO (1s) must be within minRTO...maxRTO (2s...2min)"),
        ("tcp: { minRTO: 3min }",
         "t.yaml:8:22: topology.groups[0].tcp.minRTO: minRTO (3min) must not exceed maxRTO (2min)"),
        ("heartbeat: { timeout: 0s }", "t.yaml:8:29: topology.groups[0].heartbeat.timeout: must be greater than 0, got 0s"),
        // Durations: negative, without a unit, unknown unit.
        ("connectAt: -5ms", "t.yaml:8:18: topology.groups[0].connectAt: duration must not be negative, got '-5ms'"),
        ("link: { latency: 40 }",
         "t.yaml:8:24: topology.groups[0].link.latency: duration needs a unit (ns, us, ms, s, min, h), got '40'"),
        ("connectSpread: 2sec",
         "t.yaml:8:22: topology.groups[0].connectSpread: unknown duration unit 'sec' in '2sec' (use ns, us, ms, s, min, h)"),
        ("connectSpread:", "t.yaml:8:21: topology.groups[0].connectSpread: expected a duration like 80ms, got nothing"),
        // Transports.
        ("transport: pigeon",
         "t.yaml:8:18: topology.groups[0].transport: unknown transport 'pigeon' (expected one of: websocket, sse, sync)"),
        // Keys reserved for later versions.
        ("path: [router]", "t.yaml:8:7: topology.groups[0]: 'path' is not supported by schema version 1 yet"),
        // Loss model in mapping form.
        ("link: { loss: { model: bursty } }",
         "t.yaml:8:30: topology.groups[0].link.loss.model: unknown loss model 'bursty' (expected one of: none, independent, gilbert-elliott)"),
        ("link: { loss: { model: independent, p: 0.1 } }",
         "t.yaml:8:43: topology.groups[0].link.loss: unknown key 'p' (expected one of: model, probability)"),
        ("link: { loss: { model: gilbert-elliott, p: 0.1 } }",
         "t.yaml:8:15: topology.groups[0].link.loss: missing required key 'r'"),
    ])
    func groupProblems(group: String, expected: String) {
        #expect(TestSupport.experimentError(TestSupport.experiment(group: group))?.description == expected)
    }

    /// Problems in a topology file given on its own.
    @Test(arguments: [
        ("kind: topology\nversion: 1\nname: net\ngroups:\n  - name: a\n    count: many\n    link: {}\n",
         "net.yaml:6:12: groups[0].count: expected an integer, got 'many'"),
        ("kind: topology\nversion: 1\nname: net\ngroups:\n  - name: a\n    count: 0\n    link: {}\n",
         "net.yaml:6:12: groups[0].count: must be in 1...100000, got 0"),
        ("kind: topology\nversion: 1\nname: net\nserver:\n  port: 70000\ngroups: [{ name: a, count: 1, link: {} }]\n",
         "net.yaml:5:9: server.port: must be in 1...65535, got 70000"),
        ("kind: topology\nversion: 1\nname: net\ngroups:\n  - name: a\n    count: 1\n",
         "net.yaml:5:5: groups[0]: missing required key 'link'"),
        ("kind: topology\nversion: 1\nname: net\ngroups:\n  - name: a\n    count: 1\n    link: {}\n  - name: a\n    count: 1\n    link: {}\n",
         "net.yaml:8:11: groups[1].name: duplicate group name 'a' (already used on line 5)"),
        ("kind: topology\nversion: 1\nname: net\ngroups: [{ name: server, count: 1, link: {} }]\n",
         "net.yaml:4:18: groups[0].name: 'server' is already the server's name (node names must be unique)"),
        ("kind: topology\nversion: 1\nname: net\ngroups: [{ name: Office, count: 1, link: {} }]\n",
         "net.yaml:4:18: groups[0].name: 'Office' is not a valid node name (use lowercase letters, digits and '-')"),
        ("kind: topology\nversion: 1\nname: net\ngroups: []\n", "net.yaml:4:9: groups: needs at least one client group"),
        // `middleboxes:` is part of the schema now (see MiddleboxLoaderTests); the groups are still checked.
        ("kind: topology\nversion: 1\nname: net\nmiddleboxes: []\ngroups: []\n",
         "net.yaml:5:9: groups: needs at least one client group"),
        ("kind: topology\nversion: 1\ngroups: [{ name: a, count: 1, link: {} }]\n", "net.yaml:1:1: missing required key 'name'"),
        ("version: 1\nname: net\ngroups: [{ name: a, count: 1, link: {} }]\n", "net.yaml:1:1: missing required key 'kind'"),
        ("kind: experiment\nversion: 1\n", "net.yaml:1:7: kind: expected kind 'topology' here, got 'experiment'"),
        ("kind: topology\nversion: 1.5\n",
         "net.yaml:2:10: version: unsupported schema version '1.5' (this version of crosswind reads version 1)"),
    ])
    func topologyProblems(yaml: String, expected: String) {
        #expect(TestSupport.topologyError(yaml)?.description == expected)
    }

    @Test func unknownTopLevelKey() {
        let yaml = TestSupport.experiment() + "colour: red\n"
        #expect(TestSupport.experimentError(yaml)?.description
            == "t.yaml:13:1: unknown key 'colour' (expected one of: kind, version, name, description, seed, topology, workload, timeline, expect)")
    }

    @Test func clientSendsNeedsItsKeys() {
        let workload = "  rate: 5\n  size: 100\n  duration: 1s\n  clientSends: { rate: 1 }"
        #expect(TestSupport.experimentError(TestSupport.experiment(workload: workload))?.description
            == "t.yaml:13:3: workload.clientSends: missing required key 'size'")
    }

    @Test func workloadProblems() {
        func error(_ workload: String) -> String? {
            TestSupport.experimentError(TestSupport.experiment(workload: workload))?.description
        }
        // `workload:` is line 9, its first key line 10.
        #expect(error("  rate: fast\n  size: 100\n  duration: 1s") == "t.yaml:10:9: workload.rate: expected a number, got 'fast'")
        #expect(error("  rate: 0\n  size: 100\n  duration: 1s")
            == "t.yaml:10:9: workload.rate: must be greater than 0 and at most 10000 messages per second, got 0")
        #expect(error("  rate: 5\n  size: 100") == "t.yaml:9:1: workload: missing required key 'duration'")
        #expect(error("  rate: 5\n  size: 2MiB\n  duration: 1s")
            == "t.yaml:11:9: workload.size: must be in 1...1MiB bytes, got 2097152")
        #expect(error("  rate: 5\n  size: 100\n  duration: 0s") == "t.yaml:12:13: workload.duration: must be greater than 0, got 0s")
        #expect(error("  rate: 5\n  size: 100\n  duration: 1s\n  topic: a/b")
            == "t.yaml:13:10: workload.topic: 'a/b' is not a valid name (use letters, digits, '.', '_' and '-')")
        #expect(error("  - rate: 5") == "t.yaml:10:3: workload: expected a mapping, got a list")
    }

    @Test func headerProblems() {
        #expect(TestSupport.experimentError("kind: experiment\nversion: 2\nname: t\n")?.description
            == "t.yaml:2:10: version: unsupported schema version '2' (this version of crosswind reads version 1)")
        #expect(TestSupport.experimentError("kind: experiment\nname: t\n")?.description
            == "t.yaml:1:1: missing required key 'version'")
        #expect(TestSupport.experimentError("version: 1\nname: t\n")?.description == "t.yaml:1:1: missing required key 'kind'")
        #expect(TestSupport.experimentError("kind: topology\nversion: 1\nname: t\n")?.description
            == "t.yaml:1:7: kind: expected kind 'experiment' here, got 'topology'")
        #expect(TestSupport.experimentError("kind: exp\nversion: 1\n")?.description
            == "t.yaml:1:7: kind: unknown kind 'exp' (expected one of: experiment, topology)")
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\ntopology: {}\n")?.description
            == "t.yaml:1:1: missing required key 'name'")
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: t\nseed: -1\n")?.description
            == "t.yaml:4:7: seed: expected an integer in 0...18446744073709551615, got '-1'")
        #expect(TestSupport.experimentError("- kind: experiment\n")?.description == "t.yaml:1:1: expected a mapping, got a list")
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: t\ntopology: [a]\n")?.description
            == "t.yaml:4:11: topology: expected a path to a topology file or an inline mapping, got a list")
    }

    @Test func malformedYAML() {
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: t: x\n")?.description
            == "t.yaml:3:8: malformed YAML: mapping values are not allowed in this context")
        #expect(TestSupport.experimentError("kind: experiment\nname: [a, b\nversion: 1\n")?.description
            == "t.yaml:3:8: malformed YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 7)")
        #expect(TestSupport.experimentError("kind: experiment\n  version: 1\n")?.description
            == "t.yaml:2:10: malformed YAML: mapping values are not allowed in this context")
        #expect(TestSupport.experimentError("kind: experiment\n---\nkind: topology\n")?.description
            == "t.yaml:2:1: malformed YAML: a file holds one YAML document, found a second one ('---')")
        #expect(TestSupport.experimentError("")?.description
            == "t.yaml:1:1: file is empty (expected a mapping starting with 'kind: experiment' or 'kind: topology')")
        #expect(TestSupport.experimentError("# only a comment\n")?.description
            == "t.yaml:1:1: file is empty (expected a mapping starting with 'kind: experiment' or 'kind: topology')")
    }

    @Test func malformedYAMLInsideTheDocument() {
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: t\n\tseed: 1\n")?.description
            == "t.yaml:4:1: malformed YAML: found a tab character that violates indentation (while scanning a plain scalar at line 3, column 7)")
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: t\nseed: *nope\n")?.description
            == "t.yaml:4:7: malformed YAML: found undefined alias")
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: t\n? [a]\n: b\n")?.description
            == "t.yaml:4:3: keys must be plain names, got a list")
    }

    @Test func duplicateKeys() {
        #expect(TestSupport.experimentError("kind: experiment\nversion: 1\nname: a\nname: b\n")?.description
            == "t.yaml:3:1: duplicate key 'name' (first given here): a key may appear only once in a mapping")
        let group = "link: { latency: 1ms, latency: 2ms }"
        #expect(TestSupport.experimentError(TestSupport.experiment(group: group))?.description
            == "t.yaml:8:15: duplicate key 'latency' (first given here): a key may appear only once in a mapping")
    }

    @Test func expectationProblems() {
        func error(_ expect: String) -> String? {
            TestSupport.experimentError(TestSupport.experiment() + "expect:\n" + expect + "\n")?.description
        }
        // `expect:` is line 13, its first entry line 14.
        #expect(error("  - jitter: none")
            == "t.yaml:14:5: expect[0]: unknown key 'jitter' (expected one of: delivery, duplicates, reordered, connected, latency, transport, recovery, clientSends)")
        #expect(error("  - duplicates: few") == "t.yaml:14:17: expect[0].duplicates: expected 'none', got 'few'")
        #expect(error("  - delivery: most") == "t.yaml:14:15: expect[0].delivery: expected 'complete' or { atLeast: 0.999 }, got 'most'")
        #expect(error("  - delivery: { atLeast: 1.2 }")
            == "t.yaml:14:26: expect[0].delivery.atLeast: probability must be in 0...1 (or 0%...100%), got 1.2")
        #expect(error("  - duplicates: none\n    reordered: none")
            == "t.yaml:15:5: expect[0]: one expectation per list entry: start a new '- ' entry for 'reordered'")
        #expect(error("  - latency: { p98: { atMost: 1s } }")
            == "t.yaml:14:16: expect[0].latency: unknown key 'p98' (did you mean 'p95' or 'p99'?)")
        #expect(error("  - latency: { p99: { atMost: 100ms, atLeast: 200ms } }")
            == "t.yaml:14:47: expect[0].latency.p99.atLeast: atLeast (200ms) is greater than atMost (100ms): no latency can pass")
        #expect(error("  - latency: { p99: { below: 1s } }")
            == "t.yaml:14:23: expect[0].latency.p99: unknown key 'below' (expected one of: atMost, atLeast)")
        #expect(error("  - latency: { p99: { atMost: 5 } }")
            == "t.yaml:14:31: expect[0].latency.p99.atMost: duration needs a unit (ns, us, ms, s, min, h), got '5'")
        #expect(error("  delivery: complete") == "t.yaml:14:3: expect: expected a list, got a mapping")
    }

    @Test func missingTopologyFilePointsAtTheTopologyValue() {
        let yaml = "kind: experiment\nversion: 1\nname: t\ntopology: ../Topologies/nope.yaml\n"
        #expect(TestSupport.experimentError(yaml, baseDirectory: "Experiments")?.description
            == "t.yaml:4:11: topology: cannot read topology file '../Topologies/nope.yaml' (resolved to 'Topologies/nope.yaml'): no such file")
    }

    @Test func missingExperimentFile() throws {
        try TestSupport.withScratchDirectory("missing") { root in
            let path = root + "/none.yaml"
            #expect(throws: ExperimentError(file: path, line: 1, column: 1, message: "cannot read file: no such file")) {
                _ = try ExperimentLoader.load(path: path)
            }
            #expect(throws: ExperimentError(file: root, line: 1, column: 1, message: "cannot read file: is a directory")) {
                try ExperimentLoader.validate(path: root)
            }
        }
    }

    @Test func errorsInAReferencedTopologyFileCarryItsPath() throws {
        try TestSupport.withScratchDirectory("referenced") { root in
            try TestSupport.write(
                "kind: topology\nversion: 1\nname: net\ngroups:\n  - name: a\n    count: 1\n    link: { loss: 1.5 }\n",
                to: "Topologies/bad.yaml", in: root
            )
            try TestSupport.write(
                "kind: experiment\nversion: 1\nname: t\ntopology: ../Topologies/bad.yaml\nworkload: { rate: 1, size: 1, duration: 1s }\n",
                to: "Experiments/e.yaml", in: root
            )
            let expected = "\(root)/Topologies/bad.yaml:7:19: groups[0].link.loss: probability must be in 0...1 (or 0%...100%), got 1.5"
            let error = #expect(throws: ExperimentError.self) { _ = try ExperimentLoader.load(path: root + "/Experiments/e.yaml") }
            #expect(error?.description == expected)
            #expect(error?.file == "\(root)/Topologies/bad.yaml")
            // A referenced file that is an experiment is rejected at its own `kind:`.
            try TestSupport.write(
                "kind: experiment\nversion: 1\nname: t\ntopology: e.yaml\nworkload: { rate: 1, size: 1, duration: 1s }\n",
                to: "Experiments/self.yaml", in: root
            )
            // The only problem: the experiment's own keys are fine.
            let selfReference = #expect(throws: ExperimentError.self) {
                _ = try ExperimentLoader.load(path: root + "/Experiments/self.yaml")
            }
            #expect(selfReference?.description
                == "\(root)/Experiments/e.yaml:1:7: kind: expected kind 'topology' here, got 'experiment'")
        }
    }

    @Test func validateTellsTheKindOfFile() throws {
        try TestSupport.withScratchDirectory("validate") { root in
            try TestSupport.write("kind: banana\n", to: "a.yaml", in: root)
            // A file whose kind is unknown is told so, and nothing else.
            let banana = #expect(throws: ExperimentError.self) { try ExperimentLoader.validate(path: root + "/a.yaml") }
            #expect(banana?.description == "\(root)/a.yaml:1:7: kind: unknown kind 'banana' (expected one of: experiment, topology)")
            try TestSupport.write("name: x\n", to: "b.yaml", in: root)
            let noKind = #expect(throws: ExperimentError.self) { try ExperimentLoader.validate(path: root + "/b.yaml") }
            #expect(noKind?.description == "\(root)/b.yaml:1:1: missing required key 'kind' (experiment or topology)")
        }
    }
}
