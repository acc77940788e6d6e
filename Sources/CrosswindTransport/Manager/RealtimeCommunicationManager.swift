import CrosswindRandom
import NIOCore

/// Opens connections to the server for a manager: in simulation a channel on the virtual
/// network, live a `ClientBootstrap` connect. `initialize` installs the client's handlers
/// before the connection is attempted; a failed connection surfaces through those handlers
/// (`errorCaught`, `channelInactive`).
public protocol RealtimeConnector: AnyObject {
    /// Opens a connection for `method` (servers may serve transports on different ports).
    func connect(_ method: TransportMethod, _ initialize: @escaping (any Channel) throws -> Void)
}

/// What the manager tells the application. Times are event-loop time.
public protocol RealtimeManagerDelegate: AnyObject {
    /// A message, exactly once and in order across reconnects and transport switches.
    func manager(_ manager: RealtimeCommunicationManager, deliver message: RealtimeMessage, at time: NIODeadline)
    /// `onMethodChange`: the transport in use changed (or was first chosen), and why.
    func manager(_ manager: RealtimeCommunicationManager, methodChangedFrom from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason, at time: NIODeadline)
    /// A resume could not be complete (outside the replay window, or a new epoch): the
    /// messages between the two cursors are gone, and the application is told so.
    func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteAfter last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline)
    /// The same for one topic of a multiplexed manager (``RealtimeCommunicationManager/Configuration/topics``).
    /// By default passed on to ``manager(_:recoveryIncompleteAfter:resumesAt:at:)``.
    func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteIn topic: String, after last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline)
    /// A transport attempt opened (after its welcome, which is passed on; a multiplexed
    /// manager is told once per topic, in the order of its topics).
    func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline)
    /// Client message number `sequence` (the count of `send(_:)` calls when it was sent) left
    /// the outbox without an acknowledgement: it is not resent any more.
    func manager(_ manager: RealtimeCommunicationManager, droppedSend sequence: UInt64, reason: SendDropReason, at time: NIODeadline)
    /// How long after its publication `message` arrived, when the application can tell (a
    /// publish stamp it trusts, the testbed's own record); nil when it cannot. Answers feed the
    /// per-transport latency figures and the latency-threshold switch
    /// (``RealtimeManagerConfiguration/latencyThreshold``), which has nothing to judge without.
    func manager(_ manager: RealtimeCommunicationManager, latencyOf message: RealtimeMessage, at time: NIODeadline) -> TimeAmount?
}

extension RealtimeManagerDelegate {
    public func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteAfter last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline) {}
    public func manager(_ manager: RealtimeCommunicationManager, recoveryIncompleteIn topic: String, after last: StreamCursor, resumesAt: StreamCursor, at time: NIODeadline) {
        self.manager(manager, recoveryIncompleteAfter: last, resumesAt: resumesAt, at: time)
    }
    public func manager(_ manager: RealtimeCommunicationManager, opened method: TransportMethod, welcome: Welcome, at time: NIODeadline) {}
    public func manager(_ manager: RealtimeCommunicationManager, droppedSend sequence: UInt64, reason: SendDropReason, at time: NIODeadline) {}
    public func manager(_ manager: RealtimeCommunicationManager, latencyOf message: RealtimeMessage, at time: NIODeadline) -> TimeAmount? { nil }
}

/// The `RealtimeCommunicationManager`: the seed analysis's API in Swift. It runs the pure
/// ``RealtimeManagerStateMachine`` and performs its actions with real transport clients —
/// WebSocket, SSE, Custom Sync — on channels a ``RealtimeConnector`` opens.
///
/// Timers are kept lazily: each armed timer is a deadline in a table plus one loop task that,
/// when it fires, checks the table (a re-armed or cancelled timer finds itself stale), so no
/// task is ever cancelled.
///
/// Calling contract: create, `start()`, then everything happens on `eventLoop`. Confined to
/// that loop; `@unchecked Sendable` only so NIO's `@Sendable` callbacks can carry it.
public final class RealtimeCommunicationManager: RealtimeClientDelegate, @unchecked Sendable {
    /// Everything a manager needs to know.
    public struct Configuration: Sendable {
        /// Decisions: default and fallback transports, timeouts, backoff, probes…
        public var machine = RealtimeManagerConfiguration()
        /// `Host` header and topic.
        public var host: String
        public var topic: String
        /// Several topics over one connection on every transport (`topics=a,b,c`; see
        /// ``TopicCursors``), in place of `topic`: the manager keeps a position per topic across
        /// reconnects, switches and probes, and counts a transport caught up once it brought every
        /// topic's live end. Empty: the single `topic`.
        public var topics: [String] = []
        /// Identity of the network, for the remembered transport.
        public var networkIdentity: String?
        /// A stable client id, so the server recognises resent client messages.
        public var clientID: String?
        /// The access token for a server that requires one, asked for at every connection
        /// attempt: a provider that returns a fresh token lets a client whose token expired
        /// reconnect and resume from its cursor.
        public var accessToken: (@Sendable () -> String?)?
        /// Custom Sync polling.
        public var syncInterval: TimeAmount = .seconds(2)
        public var syncLongPoll: TimeAmount = .zero
        public var syncBatchSize = 50

        public init(host: String, topic: String) {
            self.host = host
            self.topic = topic
        }
    }

    public typealias AttemptID = RealtimeManagerStateMachine.AttemptID
    public typealias TimerID = RealtimeManagerStateMachine.TimerID

    public let configuration: Configuration
    public weak var delegate: (any RealtimeManagerDelegate)?
    public let eventLoop: any EventLoop
    private let connector: any RealtimeConnector
    private var machine: RealtimeManagerStateMachine
    private var random: SplitMix64
    private var attempts: [AttemptID: any RealtimeTransportClient] = [:]
    private var attemptOf: [ObjectIdentifier: AttemptID] = [:]
    private var attemptStarted: [AttemptID: NIODeadline] = [:]
    /// When each attempt's connection came up, to time its first answer (a 101, a response head).
    private var connectedAt: [AttemptID: NIODeadline] = [:]
    /// Each attempt's welcomes (one per topic when multiplexed), as they arrive.
    private var welcomes: [AttemptID: [Welcome]] = [:]
    private var timers: [TimerID: NIODeadline] = [:]

    public init(configuration: Configuration, eventLoop: any EventLoop, connector: any RealtimeConnector, seed: UInt64, memory: TransportMemory = .init()) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.connector = connector
        self.machine = RealtimeManagerStateMachine(configuration: configuration.machine, seed: seed, memory: memory)
        self.random = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_5EED)
    }

    /// The transport in use, if any.
    public var currentMethod: TransportMethod? { self.machine.currentMethod }
    /// True while a transport is open.
    public var isOpen: Bool { self.machine.openTransport != nil }
    /// The state machine (for counters, performance figures and memory).
    public var state: RealtimeManagerStateMachine { self.machine }

    public func start() { self.handle(.start(networkIdentity: self.configuration.networkIdentity)) }
    public func stop() { self.handle(.stop) }
    /// Sends a client → server message. The machine numbers it and keeps it in its outbox
    /// until the server acknowledges it: while offline it waits (up to `sendQueueLimit`,
    /// dropping the oldest beyond), and after every open — a reconnect or a switch — the
    /// unacknowledged ones are transmitted again in order on the new transport. The server
    /// recognises resends by number, so each message reaches it exactly once.
    public func send(_ payload: ByteBuffer) { self.handle(.send(payload)) }

    /// Messages sent but not yet acknowledged.
    public var unacknowledgedSends: Int { self.machine.unacknowledgedSends }
    /// Client messages the server acknowledged.
    public var sendsAcknowledged: Int { self.machine.counters.sendsAcknowledged }
    /// Client messages dropped from a full outbox before the server acknowledged them.
    public var sendsDropped: Int { self.machine.counters.sendsDropped }

    // MARK: Driving the machine

    /// Feeds `event` to the state machine and performs its actions; returns them.
    @discardableResult
    private func handle(_ event: RealtimeManagerStateMachine.Event) -> [RealtimeManagerStateMachine.Action] {
        let now = self.eventLoop.now
        let actions = self.machine.handle(event, now: now)
        for action in actions { self.perform(action, now: now) }
        return actions
    }

    private func perform(_ action: RealtimeManagerStateMachine.Action, now: NIODeadline) {
        switch action {
        case .methodChanged(let from, let to, let reason):
            self.delegate?.manager(self, methodChangedFrom: from, to: to, reason: reason, at: now)
        case .open(let method, let attempt, let cursor):
            self.open(method, attempt: attempt, resumeFrom: cursor)
        case .opened(let method, let attempt):
            for welcome in self.welcomes[attempt] ?? [] {
                self.delegate?.manager(self, opened: method, welcome: welcome, at: now)
            }
        case .close(_, let attempt):
            if let client = self.attempts.removeValue(forKey: attempt) {
                self.attemptOf[ObjectIdentifier(client)] = nil
                client.delegate = nil
                client.close()
            }
            self.attemptStarted[attempt] = nil
            self.connectedAt[attempt] = nil
            self.welcomes[attempt] = nil
        case .scheduleTimer(let id, let deadline):
            self.arm(id, at: deadline)
        case .cancelTimer(let id):
            self.timers[id] = nil
        case .deliver(let message):
            self.delegate?.manager(self, deliver: message, at: now)
        case .gap:
            break  // counted by the machine; the application sees it through recoveryIncomplete
        case .recoveryIncomplete(let last, let resumesAt, let topic):
            if let topic {
                self.delegate?.manager(self, recoveryIncompleteIn: topic, after: last, resumesAt: resumesAt, at: now)
            } else {
                self.delegate?.manager(self, recoveryIncompleteAfter: last, resumesAt: resumesAt, at: now)
            }
        case .transmit(_, let attempt, let sequence, let data):
            self.attempts[attempt]?.send(sequence: sequence, data: data)
        case .sendDropped(let sequence, _, let reason):
            self.delegate?.manager(self, droppedSend: sequence, reason: reason, at: now)
        case .protocolError:
            break  // the machine ignored an input that made no sense in its state; nothing to do
        }
    }

    private func arm(_ id: TimerID, at deadline: NIODeadline) {
        self.timers[id] = deadline
        let loopBound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.eventLoop.scheduleTask(deadline: deadline) {
            let manager = loopBound.value
            guard manager.timers[id] == deadline else { return }  // re-armed or cancelled meanwhile
            manager.timers[id] = nil
            manager.handle(.timerFired(id))
        }
    }

    private func open(_ method: TransportMethod, attempt: AttemptID, resumeFrom cursor: StreamCursor?) {
        let client: any RealtimeTransportClient
        let topics = self.configuration.topics
        let subscription = ClientSubscription(
            host: self.configuration.host, topic: topics.first ?? self.configuration.topic, resumeFrom: cursor, clientID: self.configuration.clientID,
            accessToken: self.configuration.accessToken?()
        )
        let resumeFromEach = topics.isEmpty ? TopicCursors() : self.machine.resumePositions(of: attempt)
        switch method {
        case .websocket:
            var configuration = WebSocketClientConfiguration(subscription)
            configuration.heartbeatInterval = self.machine.heartbeatInterval(for: .websocket)
            // A ping may wait for its pong until the next one is due. After a few seconds of
            // outage TCP's backed-off retransmission timer can hold the pong for longer than
            // the grace (a 6 s outage: about 11 s), and ending such a connection taught the
            // manager that the path silences WebSocket. Beyond that the manager's own rule
            // (nothing heard for heartbeatInterval + heartbeatGrace) decides, as the browser
            // client's does.
            configuration.heartbeatTimeout = self.machine.heartbeatInterval(for: .websocket)
            (configuration.topics, configuration.resumeFromEach) = (topics, resumeFromEach)
            client = WebSocketClient(configuration: configuration, random: SplitMix64(seed: self.random.next()), delegate: self)
        case .sse:
            var configuration = SSEClientConfiguration(subscription)
            // The manager's own heartbeat check decides; the client's watchdog is a backstop.
            configuration.heartbeatTimeout = (self.configuration.machine.heartbeatInterval + self.configuration.machine.heartbeatGrace) * 2
            (configuration.topics, configuration.resumeFromEach) = (topics, resumeFromEach)
            client = SSEClient(configuration: configuration, delegate: self)
        case .sync:
            var configuration = SyncClientConfiguration(subscription)
            configuration.syncInterval = self.configuration.syncInterval
            configuration.longPollWait = self.configuration.syncLongPoll
            configuration.batchSize = self.configuration.syncBatchSize
            (configuration.topics, configuration.resumeFromEach) = (topics, resumeFromEach)
            client = SyncClient(configuration: configuration, random: SplitMix64(seed: self.random.next()), delegate: self)
        }
        let connector = self.connector
        client.sideConnector = { initialize in connector.connect(method, initialize) }
        self.attempts[attempt] = client
        self.attemptOf[ObjectIdentifier(client)] = attempt
        self.attemptStarted[attempt] = self.eventLoop.now
        let notifier = ConnectNotifier(manager: self, attempt: attempt)
        self.connector.connect(method) { channel in
            try channel.pipeline.syncOperations.addHandler(notifier)
            try client.configure(channel)
        }
    }

    /// The connection of an attempt came up: its connect time is a round trip. For SSE and
    /// Custom Sync the request goes out now, so the attempt is `.connected`; a WebSocket is
    /// connected only when its 101 arrives (``realtimeClient(_:upgradedAt:)``), as the state
    /// machine's contract says. Until then the give-up bounds it, not the confirm timeout: on a
    /// lossy path a lost upgrade request waits out a TCP retransmission (3 s after a lost SYN,
    /// RFC 6298 5.7), which is not a proxy that stays silent after the 101.
    fileprivate func connected(_ attempt: AttemptID) {
        guard let client = self.attempts[attempt] else { return }
        if let started = self.attemptStarted[attempt] {
            self.handle(.rttMeasured(self.eventLoop.now - started))
        }
        self.connectedAt[attempt] = self.eventLoop.now
        if client.method != .websocket {
            self.handle(.connected(attempt))
        }
    }

    // MARK: RealtimeClientDelegate

    public func realtimeClient(_ client: any RealtimeTransportClient, upgradedAt time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)] else { return }
        if let up = self.connectedAt.removeValue(forKey: attempt) {
            self.handle(.answerTimed(attempt, self.eventLoop.now - up))
        }
        self.handle(.connected(attempt))
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, answeredAt time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)], let up = self.connectedAt.removeValue(forKey: attempt) else { return }
        self.handle(.answerTimed(attempt, self.eventLoop.now - up))
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)] else { return }
        self.welcomes[attempt, default: []].append(welcome)
        let topics = self.configuration.topics
        guard !topics.isEmpty else {
            self.handle(.welcomeReceived(attempt, epoch: welcome.epoch, next: welcome.next, recovered: welcome.recovered, live: welcome.live))
            return
        }
        // A multiplexed client reports one welcome per topic, one after another: the machine
        // hears them together, once every topic is welcomed.
        guard let welcomes = self.welcomes[attempt], welcomes.count == topics.count else { return }
        self.handle(.welcomesReceived(attempt, welcomes))
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)] else { return }
        // Only a delivered message is timed, as in the browser client: a duplicate's latency
        // (the copy a slower transport brings during a probe) says nothing of its stream's pace.
        let delivered = self.handle(.messageReceived(attempt, message)).contains {
            if case .deliver = $0 { return true } else { return false }
        }
        if delivered, let latency = self.delegate?.manager(self, latencyOf: message, at: time) {
            self.handle(.latencySample(attempt, latency))
        }
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, heartbeatAt time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)] else { return }
        self.handle(.heartbeat(attempt))
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, continuedStreamAt time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)] else { return }
        self.handle(.streamContinued(attempt))
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, acknowledged sequence: UInt64, at time: NIODeadline) {
        guard let attempt = self.attemptOf[ObjectIdentifier(client)] else { return }
        self.handle(.acknowledged(attempt, upTo: sequence))
    }

    public func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
        guard let attempt = self.attemptOf.removeValue(forKey: ObjectIdentifier(client)) else { return }
        self.attempts[attempt] = nil
        self.attemptStarted[attempt] = nil
        self.connectedAt[attempt] = nil
        self.welcomes[attempt] = nil
        let cause: RealtimeManagerStateMachine.TransportCloseCause
        switch reason {
        // A rejected upgrade (a proxy or server answering the WebSocket request with plain
        // HTTP) is as definite an answer as an RST: the path refuses this transport.
        case .connectionRefused, .upgradeRejected: cause = .refused
        case .connectionFailed: cause = .failed
        case .serverClosed: cause = .closedByServer
        case .connectionLost, .protocolViolation: cause = .lost
        case .heartbeatTimeout: cause = .heartbeatTimeout
        case .closedByApplication: return
        }
        self.handle(.closed(attempt, cause))
    }
}

/// Tells the manager when an attempt's connection becomes active.
private final class ConnectNotifier: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let manager: RealtimeCommunicationManager
    private let attempt: RealtimeCommunicationManager.AttemptID

    init(manager: RealtimeCommunicationManager, attempt: RealtimeCommunicationManager.AttemptID) {
        self.manager = manager
        self.attempt = attempt
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.manager.connected(self.attempt)
    }
}
