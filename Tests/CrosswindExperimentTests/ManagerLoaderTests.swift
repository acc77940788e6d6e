import CrosswindNetwork
import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindExperiment

/// The `manager:` key of a client group: defaults, every setting, and every kind of bad input.
///
/// Error positions are worked out by hand: the group lines of ``TestSupport/experiment(group:workload:)``
/// start on line 8 and are indented by 6 spaces, so a character at index `i` (1-based) of the
/// group text's first line is at column `6 + i`.
@Suite struct ManagerLoaderTests {
    private func group(_ group: String) throws -> ClientGroup {
        let experiment = try ExperimentLoader.parse(yaml: TestSupport.experiment(group: group), file: "t.yaml", baseDirectory: ".")
        return try #require(experiment.topology.groups.first)
    }

    @Test func absentManagerIsNil() throws {
        let group = try group("")
        #expect(group.manager == nil)
        #expect(group.transport == .websocket)
    }

    @Test func emptyManagerIsAllDefaults() throws {
        let group = try group("manager: {}")
        let settings = try #require(group.manager)
        #expect(settings == RealtimeManagerConfiguration())
        #expect(group.transport == .websocket)
        #expect(group == ClientGroup(
            name: "g", count: 2, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(1))), manager: RealtimeManagerConfiguration()
        ))
        // The defaults, spelled out.
        #expect(settings.defaultMethod == .websocket)
        #expect(settings.fallbackMethods == [.sse, .sync])
        #expect(settings.autoSwitch == true)
        #expect(settings.benchmarkInterval == .seconds(300))
        #expect(settings.latencyThreshold == nil)
        #expect(settings.giveUpAfter == .seconds(10))
        #expect(settings.backoff.base == .milliseconds(500))
        #expect(settings.backoff.cap == .seconds(20))
        #expect(settings.confirmTimeouts.websocket.floor == .milliseconds(2500))
        #expect(settings.confirmTimeouts.sse.floor == .milliseconds(2500))
        #expect(settings.rememberFor == .minutes(30))
        #expect(settings.burstHold == .seconds(3))
    }

    @Test func theDocumentedExampleLoads() throws {
        // The reference's example (every key, at its default but latencyThreshold).
        let group = try group(Schema.manager.example)
        var expected = RealtimeManagerConfiguration()
        expected.latencyThreshold = .milliseconds(500)
        #expect(group.manager == expected)
    }

    @Test func everySettingIsRead() throws {
        let group = try group("""
            manager:
              defaultMethod: sse
              fallbackMethods: [sync, websocket]
              autoSwitch: false
              benchmarkInterval: 1min
              latencyThreshold: 750ms
              giveUpAfter: 4s
              backoff: { base: 250ms, cap: 8s }
              confirmTimeoutFloor: 1500ms
              rememberFor: 0s
              burstHold: 5s
            """)
        let settings = try #require(group.manager)
        #expect(settings.defaultMethod == .sse)
        #expect(settings.fallbackMethods == [.sync, .websocket])
        #expect(settings.autoSwitch == false)
        #expect(settings.benchmarkInterval == .seconds(60))
        #expect(settings.latencyThreshold == .milliseconds(750))
        #expect(settings.giveUpAfter == .seconds(4))
        #expect(settings.backoff.base == .milliseconds(250))
        #expect(settings.backoff.cap == .seconds(8))
        #expect(settings.confirmTimeouts.websocket.floor == .milliseconds(1500))
        #expect(settings.confirmTimeouts.sse.floor == .milliseconds(1500))
        #expect(settings.rememberFor == .zero)
        #expect(settings.burstHold == .seconds(5))
        // The group starts on the manager's default method.
        #expect(group.transport == .sse)
    }

    @Test func fallbacksDefaultToTheOtherTransportsInOrder() throws {
        #expect(try group("manager: { defaultMethod: sse }").manager?.fallbackMethods == [.websocket, .sync])
        #expect(try group("manager: { defaultMethod: sync }").manager?.fallbackMethods == [.websocket, .sse])
        #expect(try group("manager: { defaultMethod: sync }").transport == .sync)
        #expect(try group("manager: { fallbackMethods: [] }").manager?.fallbackMethods == [])
        #expect(try group("manager: { fallbackMethods: [sync] }").manager?.fallbackMethods == [.sync])
    }

    @Test func backoffKeysDefaultSeparately() throws {
        let capOnly = try #require(try group("manager: { backoff: { cap: 1min } }").manager)
        #expect(capOnly.backoff.base == .milliseconds(500))
        #expect(capOnly.backoff.cap == .minutes(1))
        let equal = try #require(try group("manager: { backoff: { base: 20s } }").manager)
        #expect(equal.backoff.base == .seconds(20))
        #expect(equal.backoff.cap == .seconds(20))
        #expect(try group("manager: { autoSwitch: False }").manager?.autoSwitch == false)
    }

    @Test func theHeldBurstTestTurnsOff() throws {
        #expect(try group("manager: { burstHold: off }").manager?.burstHold == nil)
        #expect(try group("manager: { burstHold: 1500ms }").manager?.burstHold == .milliseconds(1500))
    }

    @Test func managerInATopologyFile() throws {
        let topology = try ExperimentLoader.parseTopology(yaml: """
            kind: topology
            version: 1
            name: net
            groups:
              - name: a
                count: 1
                link: {}
                manager: { defaultMethod: sync, giveUpAfter: 2s }
              - name: b
                count: 1
                link: {}
                transport: sse
            """, file: "net.yaml")
        #expect(topology.groups[0].manager?.giveUpAfter == .seconds(2))
        #expect(topology.groups[0].transport == .sync)
        #expect(topology.groups[1].manager == nil)
        #expect(topology.groups[1].transport == .sse)
    }

    @Test(arguments: [
        // transport: and manager: together, in either order: at the `transport` key.
        ("transport: sse\nmanager: {}",
         "t.yaml:8:7: topology.groups[0].transport: a group with manager: starts on manager.defaultMethod; remove transport"),
        ("manager: {}\ntransport: websocket",
         "t.yaml:9:7: topology.groups[0].transport: a group with manager: starts on manager.defaultMethod; remove transport"),
        // fallbackMethods: the default method, duplicates, not a list.
        ("manager: { fallbackMethods: [sse, websocket] }",
         "t.yaml:8:41: topology.groups[0].manager.fallbackMethods[1]: 'websocket' is the defaultMethod (by default); list only the transports to fall back to"),
        ("manager: { defaultMethod: sse, fallbackMethods: [sse] }",
         "t.yaml:8:56: topology.groups[0].manager.fallbackMethods[0]: 'sse' is the defaultMethod; list only the transports to fall back to"),
        ("manager: { fallbackMethods: [sse, sync, sse] }",
         "t.yaml:8:47: topology.groups[0].manager.fallbackMethods[2]: 'sse' is listed twice (first at fallbackMethods[0])"),
        ("manager: { fallbackMethods: sse }",
         "t.yaml:8:35: topology.groups[0].manager.fallbackMethods: expected a list, got 'sse'"),
        // backoff.
        ("manager: { backoff: { base: 2s, cap: 1s } }",
         "t.yaml:8:44: topology.groups[0].manager.backoff.cap: cap (1s) must be at least base (2s)"),
        ("manager: { backoff: { base: 30s } }",
         "t.yaml:8:35: topology.groups[0].manager.backoff.base: base (30s) must not exceed cap (20s by default)"),
        ("manager: { backoff: { base: 0s } }",
         "t.yaml:8:35: topology.groups[0].manager.backoff.base: must be greater than 0, got 0s"),
        // Unknown keys and wrong types.
        ("manager: { defaultMetod: sse }",
         "t.yaml:8:18: topology.groups[0].manager: unknown key 'defaultMetod' (did you mean 'defaultMethod'?)"),
        ("manager: { autoSwitch: yes }", "t.yaml:8:30: topology.groups[0].manager.autoSwitch: expected true or false, got 'yes'"),
        ("manager: { defaultMethod: pigeon }",
         "t.yaml:8:33: topology.groups[0].manager.defaultMethod: unknown transport 'pigeon' (expected one of: websocket, sse, sync)"),
        ("manager:", "t.yaml:8:15: topology.groups[0].manager: expected a mapping, got nothing"),
        // Durations out of range.
        ("manager:\n  benchmarkInterval: 0s", "t.yaml:9:28: topology.groups[0].manager.benchmarkInterval: must be greater than 0, got 0s"),
        ("manager:\n  latencyThreshold: 0ms", "t.yaml:9:27: topology.groups[0].manager.latencyThreshold: must be greater than 0, got 0s"),
        ("manager:\n  giveUpAfter: 0s", "t.yaml:9:22: topology.groups[0].manager.giveUpAfter: must be greater than 0, got 0s"),
        ("manager: { confirmTimeoutFloor: 0ms }",
         "t.yaml:8:39: topology.groups[0].manager.confirmTimeoutFloor: must be greater than 0, got 0s"),
        ("manager: { burstHold: 0s }",
         "t.yaml:8:29: topology.groups[0].manager.burstHold: must be greater than 0, got 0s"),
        ("manager: { burstHold: never }",
         "t.yaml:8:29: topology.groups[0].manager.burstHold: expected a duration like 80ms, or off, got 'never'"),
        ("manager: { rememberFor: -1s }",
         "t.yaml:8:31: topology.groups[0].manager.rememberFor: duration must not be negative, got '-1s'"),
    ])
    func managerProblems(group: String, expected: String) {
        #expect(TestSupport.experimentError(TestSupport.experiment(group: group))?.description == expected)
    }
}
