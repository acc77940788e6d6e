import Foundation
import Testing

@testable import CrosswindExperiment

/// `docs/experiment-format.md` is generated from the definitions the reader uses; these tests keep
/// the committed file, the definitions and the reader in step.
@Suite struct ReferenceTests {
    static let referencePath = TestSupport.packageRoot + "/docs/experiment-format.md"

    @Test func theCommittedReferenceIsTheGeneratedOne() throws {
        let committed = try String(contentsOfFile: Self.referencePath, encoding: .utf8)
        let generated = ExperimentFormat.reference()
        guard committed != generated else { return }
        let committedLines = committed.split(separator: "\n", omittingEmptySubsequences: false)
        let generatedLines = generated.split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(committedLines, generatedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(committedLines.count, generatedLines.count)
        func text(_ lines: [Substring]) -> String { lines.indices.contains(line) ? String(lines[line]) : "(end of file)" }
        Issue.record("""
            docs/experiment-format.md is not what the definitions generate; first difference on line \(line + 1):
              committed: \(text(committedLines))
              generated: \(text(generatedLines))
            Regenerate it: \(ExperimentFormat.regenerateCommand)
            """)
    }

    /// Every key the reader allows is in the committed reference, under its block, and every key
    /// listed there is one the reader allows.
    @Test func theReferenceListsExactlyTheKeysTheReaderAllows() throws {
        let documented = Self.documentedKeys(try String(contentsOfFile: Self.referencePath, encoding: .utf8))
        #expect(Set(documented.keys) == Set(Schema.blocks.map(\.id)))
        for block in Schema.blocks {
            #expect(documented[block.id] == block.keyNames, "block \(block.id)")
        }
    }

    /// Loading a file that uses every key reads every documented key (none is allowed but ignored,
    /// none is documented but refused), and the reader reads mappings only with documented blocks.
    @Test func theReaderReadsEveryDocumentedKey() throws {
        let diagnostics = Diagnostics()
        let document = try YAMLDocument(text: Self.everyKey, file: "every-key.yaml", diagnostics: diagnostics)
        let experiment = try ExperimentReader.experiment(document.root, baseDirectory: ".")
        #expect(diagnostics.problems(mainFile: "every-key.yaml").map(\.description) == [])
        #expect(experiment.validationProblems() == [])
        // Keys that exclude one another within a block are used by a second file.
        let alternatives = try YAMLDocument(text: Self.everyAlternativeKey, file: "every-alternative-key.yaml", diagnostics: diagnostics)
        let alternative = try ExperimentReader.experiment(alternatives.root, baseDirectory: ".")
        #expect(diagnostics.problems(mainFile: "every-alternative-key.yaml").map(\.description) == [])
        #expect(alternative.validationProblems() == [])
        let documented = Set(Schema.blocks.flatMap { block in block.keyNames.map { "\(block.id).\($0)" } })
        let missing = documented.subtracting(diagnostics.consumedKeys).sorted()
        #expect(missing == [], "documented keys the every-key experiment does not use (add them to it): \(missing)")
        #expect(diagnostics.consumedKeys.subtracting(documented).sorted() == [])
        #expect(diagnostics.usedBlocks.isSubset(of: Set(Schema.blocks.map(\.id))))
        #expect(diagnostics.usedBlocks == Set(Schema.blocks.map(\.id)))
    }

    /// Each key's example is a value the reader takes; each block's example is YAML, and the
    /// experiment's and the topology's load.
    @Test func theExamplesAreValid() throws {
        for block in Schema.blocks {
            #expect(throws: Never.self, "block \(block.id)") {
                _ = try YAMLDocument(text: block.example, file: "example", diagnostics: Diagnostics())
            }
            for key in block.keys {
                let value = try YAMLDocument(text: key.example, file: "example", diagnostics: Diagnostics()).root
                if let read = key.readValue {
                    #expect(throws: Never.self, "\(block.id).\(key.name): \(key.example)") { try read(value) }
                }
            }
        }
        #expect(throws: Never.self) {
            _ = try ExperimentLoader.parse(
                yaml: Schema.experiment.example, file: "example.yaml", baseDirectory: TestSupport.packageRoot + "/Experiments"
            )
        }
        #expect(throws: Never.self) { _ = try ExperimentLoader.parseTopology(yaml: Schema.topology.example, file: "example.yaml") }
    }

    /// The keys of each block of a reference: its table's first column, and the keys of the
    /// blocks it includes.
    static func documentedKeys(_ reference: String) -> [String: [String]] {
        var result: [String: [String]] = [:]
        var block: String?
        for line in reference.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("<a id=\""), let end = line.dropFirst(7).firstIndex(of: "\"") {
                let id = String(line.dropFirst(7)[..<end])
                block = id == "values" ? nil : id
                if let block { result[block] = [] }
            } else if let current = block, line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") {
                result[current, default: []].append(String(line.dropFirst(3)[..<end]))
            } else if let current = block, line.hasPrefix("And every key of ") {
                let keys = line.split(separator: ":", maxSplits: 1).last ?? ""
                result[current, default: []] += keys.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            }
        }
        return result
    }

    /// An experiment that uses every key of the format at least once (and each of two keys that
    /// stand for each other in separate entries). A key added to the definitions must be added here.
    static let everyKey = """
        kind: experiment
        version: 1
        name: every-key
        description: Every key of the format at least once.
        seed: 3
        topology:
          kind: topology
          version: 1
          name: every-key-net
          server: { name: hub, port: 80, webSocketPort: 8080, tls: false, tcp: { window: 256KiB }, nodes: 2 }
          groups:
            - name: office
              count: 2
              transport: sse
              connectAt: 1s
              connectSpread: 500ms
              link:
                up: { latency: 20ms, jitter: 1ms, loss: 1%, bandwidth: 20Mbit, queue: 64KiB }
                down: { latency: 20ms, loss: { model: independent, probability: 0.5% }, bandwidth: 50Mbit }
              tcp: { mss: 1400, initialRTO: 1s, minRTO: 200ms, maxRTO: 1min, synRetries: 3, maxRetransmissions: 10, window: 64KiB, timestamps: false, congestionControl: reno, initialWindow: 4, timeWait: 1s }
              heartbeat: { interval: 5s, timeout: 2s }
              sync: { interval: 1s, longPoll: 10s, batchSize: 20 }
              nat: { idleTimeout: 350s }
              sharedLink: true
              topics: [metrics]
              tabs: 2
              multiplex: false
              browser: { connectionsPerHost: 6 }
            - name: home
              count: 1
              link: { profile: 4g, jitter: 1ms, bandwidth: 5Mbit, queue: 32KiB, latency: 5ms, loss: { model: gilbert-elliott, p: 1%, r: 30%, lossInGood: 0, lossInBad: 0.5 } }
              manager:
                defaultMethod: websocket
                fallbackMethods: [sse, sync]
                autoSwitch: true
                benchmarkInterval: 30s
                latencyThreshold: 500ms
                giveUpAfter: 5s
                backoff: { base: 250ms, cap: 10s }
                confirmTimeoutFloor: 2s
                rememberFor: 0s
                heartbeatFloor: 5s
                burstHold: 4s
          middleboxes:
            - name: corp-proxy
              kind: http-proxy
              groups: [office]
              link: { latency: 1ms }
              mode: explicit
              port: 3128
              policy:
                stripUpgrade: true
                afterUpgrade: silence
                bufferResponses: 64KiB
                idleTimeout: 60s
                bufferAfter: 10s
                holdEvents: true
                holdEventsBytes: 4KiB
                maxConnectionLifetime: 1h
                maxResponseTime: 30s
                blockContentTypes: [text/event-stream]
                maxConnectionsPerClient: 6
                dropFramesAfterBytes: 16KiB
                dropFramesAfter: 20s
                tls: intercept
                connectPorts: [443]
              tcp: { congestionControl: reno }
              sticky: true
            - name: edge
              groups: [home]
          firewall:
            - { name: egress, middlebox: edge, port: 8443, action: drop }
            - { name: lan, group: office, port: 9000, action: reject, direction: outbound }
            - { name: lans, groups: all, port: 9001, action: drop }
            - { name: dc, server: true, port: 9002, action: drop, direction: inbound }
        workload:
          topic: metrics
          rate: 5
          size: 256
          start: 2s
          duration: 30s
          drain: 5s
          clientSends: { rate: 1, size: 64 }
        timeline:
          - { at: 1s, partition: { group: office, direction: up, for: 2s } }
          - { at: 4s, partition: { groups: [home], direction: both } }
          - { at: 5s, heal: { group: home, direction: both } }
          - { at: 6s, heal: { groups: all } }
          - { at: 7s, setLink: { group: office, direction: down, for: 3s, latency: 50ms, jitter: 5ms, loss: 2%, bandwidth: 1MB/s, queue: 128KiB } }
          - { at: 8s, setLink: { groups: all, direction: both } }
          - { at: 9s, firewall: { name: fw, group: office, port: 8080, action: drop, for: 10s } }
          - { at: 9s, firewall: { name: fw2, groups: [home], port: 80, action: reject, direction: outbound } }
          - { at: 10s, partition: { middlebox: corp-proxy, for: 1s } }
          - { at: 11s, heal: { server: true } }
          - { at: 11s, heal: { middlebox: corp-proxy } }
          - { at: 11s, partition: { server: true, direction: down, for: 1s } }
          - { at: 11s, setLink: { middlebox: corp-proxy, latency: 2ms } }
          - { at: 11s, setLink: { server: true, latency: 1ms } }
          - { at: 26s, flap: { middlebox: corp-proxy, period: 1s, up: 50%, for: 1s } }
          - { at: 26s, flap: { server: true, period: 1s, up: 50%, for: 1s } }
          - { at: 12s, removeFirewall: { name: fw, group: office } }
          - { at: 12s, removeFirewall: { name: fw2, groups: [home] } }
          - { at: 12s, firewall: { name: fw3, middlebox: corp-proxy, port: 80, action: drop, for: 1s } }
          - { at: 12s, firewall: { name: fw4, server: true, port: 80, action: drop, for: 1s } }
          - { at: 14s, removeFirewall: { name: egress, middlebox: edge } }
          - { at: 14s, removeFirewall: { name: dc, server: true } }
          - { at: 14s, setNat: { group: office, idleTimeout: 20s, for: 5s } }
          - { at: 15s, setNat: { groups: [home], idleTimeout: off } }
          - { at: 13s, flap: { group: home, direction: both, period: 2s, up: 50%, until: 20s } }
          - { at: 21s, flap: { groups: [home], period: 1s, up: 0.7, for: 4s } }
          - { at: 25s, setProxyPolicy: { middlebox: corp-proxy, for: 5s, stripUpgrade: false, afterUpgrade: relay, bufferResponses: 1MiB, idleTimeout: 30s, bufferAfter: 1s, holdEvents: true, holdEventsBytes: 1KiB, maxConnectionLifetime: 10min, maxResponseTime: 1min, blockContentTypes: [], maxConnectionsPerClient: 2, dropFramesAfterBytes: 1MiB, dropFramesAfter: 1min, tls: refuse, connectPorts: [443, 8443] } }
          - { at: 26s, restartServer: { down: 2s, persist: false, node: hub-2 } }
        expect:
          - delivery: complete
          - delivery: { atLeast: 99% }
          - duplicates: none
          - reordered: none
          - connected: all
          - latency: { avg: { atMost: 1s }, p50: { atMost: 1s }, p95: { atMost: 2s }, p99: { atLeast: 1ms, atMost: 3s }, max: { atMost: 10s } }
          - transport: { group: home, endsOn: websocket, within: 10s, notBefore: 0s }
          - recovery: complete
          - recovery: incomplete
          - recovery: { avg: { atMost: 5s }, p50: { atMost: 5s }, p95: { atMost: 9s }, p99: { atMost: 10s }, max: { atMost: 20s } }
          - clientSends: complete

        """

    /// The keys ``everyKey`` cannot use beside the ones they stand for: `topics` of a workload
    /// (instead of `topic`).
    static let everyAlternativeKey = """
        kind: experiment
        version: 1
        name: every-alternative-key
        topology:
          groups:
            - { name: desk, count: 1, transport: sse, link: { latency: 1ms } }
        workload: { topics: [prices, orders], rate: 5, size: 256, duration: 10s }

        """
}
