import CrosswindKernel
import CrosswindTransport
import NIOCore

/// One dashboard tab that follows several topics over one multiplexed connection (an SSE
/// stream or a WebSocket): its client reports to the tab, and the tab hands each topic's welcome and messages to the agent
/// that accounts for that topic, so every topic is measured as if it had a connection of its
/// own.
///
/// When an SSE stream's connection ends, the tab resumes every topic on a new one after the
/// advised retry, naming each topic's last position (a browser's EventSource does the same with
/// the composite `Last-Event-ID`); a WebSocket without a manager, like any, does not reconnect.
///
/// With a manager (a group with `manager:`), the tab is the manager's delegate instead: the
/// manager keeps each topic's position across reconnects and transport switches, and the tab
/// hands each topic's deliveries, welcomes and incomplete recoveries to its agent, and every
/// transport change to all of them.
///
/// Calling contract: confined to the simulation loop, like its agents.
final class TabSubscription: RealtimeClientDelegate, RealtimeManagerDelegate {
    /// The agents by topic, in the order the tab asks for the topics.
    let agents: [(topic: String, agent: ClientAgent)]
    /// The connection's client, while there is one.
    var client: (any RealtimeTransportClient)?
    /// Opens a new stream resuming after each topic's position (set by the run).
    var reconnect: ((TopicCursors) -> Void)?
    /// The run's loop, for the reconnect timer.
    unowned(unsafe) let run: ExperimentRun

    init(agents: [(topic: String, agent: ClientAgent)], run: ExperimentRun) {
        self.agents = agents
        self.run = run
    }

    var topics: [String] { self.agents.map(\.topic) }

    private func agent(for topic: String) -> ClientAgent? {
        self.agents.first { $0.topic == topic }?.agent
    }

    func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
        self.agent(for: welcome.topic)?.realtimeClient(client, opened: welcome, at: time)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
        self.agent(for: message.topic)?.realtimeClient(client, received: message, at: time)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, heartbeatAt time: NIODeadline) {
        for entry in self.agents { entry.agent.realtimeClient(client, heartbeatAt: time) }
    }

    // MARK: RealtimeManagerDelegate

    func manager(_ manager: RealtimeCommunicationManager, deliver message: RealtimeMessage, at time: NIODeadline) {
        self.agent(for: message.topic)?.manager(manager, deliver: message, at: time)
    }

    func manager(_ manager: RealtimeCommunicationManager, latencyOf message: RealtimeMessage, at time: NIODeadline) -> TimeAmount? {
        self.agent(for: message.topic)?.manager(manager, latencyOf: message, at: time)
    }

    func manager(_ manager: RealtimeCommunicationManager, methodChangedFrom from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason, at time: NIODeadline) {
        for entry in self.agents { entry.agent.manager(manager, methodChangedFrom: from, to: to, reason: reason, at: time) }
    }

    func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline) {
        self.agent(for: welcome.topic)?.manager(manager, opened: method, welcome: welcome, at: time)
    }

    func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteIn topic: String, after last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline) {
        self.agent(for: topic)?.manager(manager, recoveryIncompleteAfter: last, resumesAt: resumesAt, at: time)
    }

    func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
        for entry in self.agents { entry.agent.realtimeClient(client, closed: reason, at: time) }
        guard let sse = client as? SSEClient, reason == .connectionLost, let reconnect = self.reconnect else { return }
        let cursors = sse.lastCursors
        self.run.simulation.schedule(at: time + (sse.advisedRetry ?? .seconds(1))) { reconnect(cursors) }
    }
}
