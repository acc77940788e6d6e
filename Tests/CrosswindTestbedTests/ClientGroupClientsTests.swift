import CrosswindExperiment
import CrosswindNetwork
import CrosswindTransport
import NIOCore
import Testing

@testable import CrosswindTestbed

/// The group-level settings reach every client configuration built from them, field by field.
///
/// `HeartbeatSettings` and `SyncSettings` are the experiment's own types (one group setting feeds
/// several per-client configurations), so the mapping in `ClientGroup+Clients.swift` must be total:
/// every field is set to a value of its own here and checked where it lands, and the first test
/// fails when a field is added to a setting, until it is mapped and checked too.
@Suite struct ClientGroupClientsTests {
    /// Every field away from its default (defaults: 25 s / 10 s; 2 s / 0 / 50).
    static let heartbeat = HeartbeatSettings(interval: .seconds(7), timeout: .seconds(3))
    static let sync = SyncSettings(interval: .milliseconds(700), longPoll: .seconds(9), batchSize: 17)

    static func group(manager: RealtimeManagerConfiguration? = nil) -> ClientGroup {
        ClientGroup(name: "office", count: 3, link: LinkPair(), heartbeat: Self.heartbeat, sync: Self.sync, manager: manager)
    }

    @Test func theSettingsHaveExactlyTheFieldsMappedHere() {
        #expect(Mirror(reflecting: HeartbeatSettings()).children.map(\.label) == ["interval", "timeout"])
        #expect(Mirror(reflecting: SyncSettings()).children.map(\.label) == ["interval", "longPoll", "batchSize"])
        // The values used below really differ from the defaults, so a dropped field shows.
        #expect(Self.heartbeat.interval != HeartbeatSettings().interval && Self.heartbeat.timeout != HeartbeatSettings().timeout)
        #expect(Self.sync.interval != SyncSettings().interval && Self.sync.longPoll != SyncSettings().longPoll && Self.sync.batchSize != SyncSettings().batchSize)
    }

    @Test func webSocketClientsPingOnTheGroupsHeartbeat() {
        let configuration = Self.group().webSocketConfiguration(host: "server", topic: "metrics")
        #expect(configuration.host == "server")
        #expect(configuration.topic == "metrics")
        #expect(configuration.heartbeatInterval == .seconds(7))
        #expect(configuration.heartbeatTimeout == .seconds(3))
    }

    @Test func sseClientsGiveUpAfterAHeartbeatIntervalAndTimeoutOfSilence() {
        let cursor = StreamCursor(epoch: 5, offset: 42)
        let configuration = Self.group().sseConfiguration(host: "server", topic: "metrics", resumeFrom: cursor)
        #expect(configuration.host == "server")
        #expect(configuration.topic == "metrics")
        #expect(configuration.resumeFrom == cursor)
        #expect(configuration.heartbeatTimeout == .seconds(10))
    }

    @Test func syncClientsPollAsTheGroupSays() {
        let configuration = Self.group().syncConfiguration(host: "server", topic: "metrics")
        #expect(configuration.host == "server")
        #expect(configuration.topic == "metrics")
        #expect(configuration.syncInterval == .milliseconds(700))
        #expect(configuration.longPollWait == .seconds(9))
        #expect(configuration.batchSize == 17)
    }

    @Test func aGroupWithoutManagerRunsNoManager() {
        #expect(Self.group().managerConfiguration(host: "server", topic: "metrics", clientID: "office-1") == nil)
    }

    @Test func theManagerTakesTheGroupsConfigurationWholeWithTheGroupsHeartbeatAndSync() throws {
        var manager = RealtimeManagerConfiguration()
        manager.defaultMethod = .sse
        manager.fallbackMethods = [.sync]
        manager.autoSwitch = false
        manager.bufferingStrikes = 4
        manager.heartbeatLossesBeforeFallback = 3
        manager.confirmTimeouts.sync.floor = .seconds(8)
        manager.giveUpAfter = .seconds(4)
        manager.backoff = FullJitterBackoff(base: .milliseconds(250), cap: .seconds(8))
        manager.latencyThreshold = .milliseconds(750)
        manager.sendQueueLimit = 12
        // Replaced by the group's heartbeat, which every transport of the group follows.
        manager.heartbeatInterval = .seconds(99)
        manager.heartbeatGrace = .seconds(98)

        let configuration = try #require(Self.group(manager: manager).managerConfiguration(host: "server", topic: "metrics", clientID: "office-2"))
        var expected = manager
        expected.heartbeatInterval = .seconds(7)
        expected.heartbeatGrace = .seconds(3)
        #expect(configuration.machine == expected)
        #expect(configuration.host == "server")
        #expect(configuration.topic == "metrics")
        #expect(configuration.syncInterval == .milliseconds(700))
        #expect(configuration.syncLongPoll == .seconds(9))
        #expect(configuration.syncBatchSize == 17)
        #expect(configuration.networkIdentity == "office")
        #expect(configuration.clientID == "office-2")
    }
}
