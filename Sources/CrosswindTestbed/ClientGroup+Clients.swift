import CrosswindExperiment
import CrosswindTransport
import NIOCore

/// The client configurations of a group's clients: where the group-level settings
/// (``HeartbeatSettings``, ``SyncSettings``, the manager's configuration) reach the transport
/// library's per-client configurations, which also carry per-connection values (host, topic,
/// resume cursor).
///
/// These are the only places the group's settings are copied; `ClientGroupClientsTests` sets
/// every field to a value of its own and checks it arrives, and fails when a field is added
/// to a setting without being mapped here.
extension ClientGroup {
    /// A plain WebSocket client: pings every heartbeat interval, waits the heartbeat timeout
    /// for the pong.
    func webSocketConfiguration(host: String, topic: String) -> WebSocketClientConfiguration {
        var configuration = WebSocketClientConfiguration(host: host, topic: topic)
        configuration.heartbeatInterval = self.heartbeat.interval
        configuration.heartbeatTimeout = self.heartbeat.timeout
        return configuration
    }

    /// A plain SSE client, resuming after `resumeFrom` when it reconnects.
    func sseConfiguration(host: String, topic: String, resumeFrom: StreamCursor?) -> SSEClientConfiguration {
        var configuration = SSEClientConfiguration(host: host, topic: topic)
        configuration.resumeFrom = resumeFrom
        // The server's comments come every interval: silence for interval + timeout is death.
        configuration.heartbeatTimeout = self.heartbeat.interval + self.heartbeat.timeout
        return configuration
    }

    /// A plain Custom Sync client.
    func syncConfiguration(host: String, topic: String) -> SyncClientConfiguration {
        var configuration = SyncClientConfiguration(host: host, topic: topic)
        configuration.syncInterval = self.sync.interval
        configuration.longPollWait = self.sync.longPoll
        configuration.batchSize = self.sync.batchSize
        return configuration
    }

    /// The manager of client `clientID`, or nil when the group runs its transport alone.
    ///
    /// The group's ``ClientGroup/manager`` configuration is taken whole, except its heartbeat:
    /// the group's ``ClientGroup/heartbeat`` governs every transport of the group (and the
    /// server's SSE comments), so it replaces `heartbeatInterval` and `heartbeatGrace`.
    func managerConfiguration(host: String, topic: String, clientID: String) -> RealtimeCommunicationManager.Configuration? {
        guard var machine = self.manager else { return nil }
        machine.heartbeatInterval = self.heartbeat.interval
        machine.heartbeatGrace = self.heartbeat.timeout
        var configuration = RealtimeCommunicationManager.Configuration(host: host, topic: topic)
        configuration.machine = machine
        configuration.syncInterval = self.sync.interval
        configuration.syncLongPoll = self.sync.longPoll
        configuration.syncBatchSize = self.sync.batchSize
        configuration.networkIdentity = self.name
        configuration.clientID = clientID
        return configuration
    }
}
