import CrosswindRandom
import NIOCore

/// The decision core of the `RealtimeCommunicationManager`: which transport to use, when to
/// retry, fall back or upgrade, and what to hand the application, as a pure value.
///
/// Calling contract:
/// - The owner (the NIO glue) feeds every ``Event`` through ``handle(_:now:)`` with the event
///   loop's current time and performs the returned ``Action``s **in array order**. The machine
///   reads no clock and no system randomness: the full-jitter backoff draws from a SplitMix64
///   generator seeded at ``init(configuration:seed:memory:)`` (fork the seed from the run seed
///   by a stable label, e.g. `"client-17:manager"`). Same configuration, seed and inputs ⇒ same
///   actions.
/// - Inputs return `[Action]`: most return zero or one action, transitions a handful; an array
///   keeps the glue a single `for action in actions { switch action … }` loop.
/// - Each connection attempt has an ``AttemptID``. After the machine emits `.close(_, id)` (or
///   after the owner reported `.closed(id, _)`) the attempt is abandoned: any later event that
///   names it is stale and ignored (counted in ``RealtimeManagerCounters/staleInputsIgnored``).
/// - Timers are outputs. `.scheduleTimer(id, at:)` for an id that is already scheduled
///   replaces it; `.cancelTimer(id)` cancels it. The owner reports `.timerFired(id)` when one
///   runs. A firing the machine no longer expects (cancelled, replaced, duplicated) is ignored.
/// - No input traps. An input that cannot happen in the current state if the owner follows
///   this contract (a second welcome on one attempt, a message before the welcome, `.start`
///   twice) is ignored and answered with `.protocolError(text)` naming the state.
///
/// Order of events for one attempt: `.open` action → (`.rttMeasured`) → `.connected` →
/// `.welcomeReceived` → `.messageReceived` / `.heartbeat` / `.latencySample` … → `.closed` (only
/// if the transport ended by itself).
public struct RealtimeManagerStateMachine: Sendable {
    /// Identifies one connection attempt (a counter, from 1 per machine).
    public struct AttemptID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public var rawValue: UInt64

        public init(_ rawValue: UInt64) {
            self.rawValue = rawValue
        }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String { "#\(self.rawValue)" }
    }

    /// A timer the machine asks its owner to run, named by purpose (and attempt where it has one).
    public enum TimerID: Hashable, Sendable, CustomStringConvertible {
        /// Deadline for the attempt's welcome, armed when its connection is up; for a probe, the
        /// deadline of the whole probe (to connect, then to be welcomed, then to catch up). After
        /// a welcome that names a replay, the deadline of the catch-up: the replay must keep
        /// coming (one message per confirm timeout at least) until it reaches the live end.
        case confirm(AttemptID)
        /// The backoff wait before the next attempt of the same transport, after `after` failed.
        case retry(after: AttemptID)
        /// The transport has been failing for ``RealtimeManagerConfiguration/giveUpAfter``.
        case giveUp(TransportMethod)
        /// Checks that the open attempt has heard something within the heartbeat timeout.
        case heartbeatCheck(AttemptID)
        /// The next upgrade probe round.
        case probe

        public var description: String {
            switch self {
            case .confirm(let attempt): return "confirm \(attempt)"
            case .retry(let attempt): return "retry after \(attempt)"
            case .giveUp(let method): return "give up \(method)"
            case .heartbeatCheck(let attempt): return "heartbeat check \(attempt)"
            case .probe: return "probe"
            }
        }
    }

    /// How a transport connection ended by itself (reported with `.closed`).
    public enum TransportCloseCause: Sendable, Hashable {
        /// It could not connect or broke before it opened: refused, reset, timed out, upgrade
        /// or HTTP request rejected.
        case refused
        /// It never opened: refused (RST), timed out, reset, or the upgrade was rejected.
        case failed
        /// The server (or a middlebox in its name) closed it: a close frame, the end of an SSE
        /// stream (recycling), an HTTP error on a sync poll.
        case closedByServer
        /// It broke without a close: reset, unexpected EOF.
        case lost
        /// The transport's own liveness check gave up (the WebSocket client's pong wait). The
        /// machine treats it like its own heartbeat loss.
        case heartbeatTimeout
    }

    /// What the owner tells the machine.
    public enum Event: Sendable, Equatable {
        /// Begin: choose a transport (remembered for `networkIdentity` if fresh) and open it.
        case start(networkIdentity: String?)
        /// End: close every attempt and cancel every timer. Delivery position, the send queue,
        /// the memory and the figures are kept for a later `.start`.
        case stop
        /// The application sends a message to the server. The machine numbers it and keeps it
        /// in its outbox until the server acknowledges it (see ``Outbox``).
        case send(ByteBuffer)
        /// The server has every client message numbered up to `upTo` (a WebSocket `ack` frame,
        /// the answer to a `POST /send`). True whichever attempt carried it, so it is accepted
        /// from abandoned attempts too.
        case acknowledged(AttemptID, upTo: UInt64)
        /// A round-trip time measurement of the path (TCP handshake, `/negotiate`, ping).
        /// Feed it before the `.connected` it belongs to: that is when the confirm timeout is set.
        case rttMeasured(TimeAmount)
        /// How long the attempt's first answer took, from its connection coming up: a WebSocket's
        /// 101 (feed it before the 101's `.connected`), an SSE response head. One round trip,
        /// unless the request or its answer was lost and sent again: an answer later than the
        /// smoothed RTT plus ``RealtimeManagerConfiguration/retransmissionFloor`` gives the
        /// attempt the lossy-handshake allowance
        /// (``RealtimeManagerConfiguration/lossyHandshakeAllowance``), as a retransmitted SYN
        /// does; an SSE attempt, connected when its request went out, has its confirm deadline
        /// moved by it.
        case answerTimed(AttemptID, TimeAmount)
        /// The attempt's connection is up (TCP connected and, for WebSocket, the 101 arrived;
        /// for SSE and sync, the request was sent). Not yet open.
        case connected(AttemptID)
        /// The application-level welcome: the attempt is open. `next` is the offset of the first
        /// message that follows the welcome (the first replayed one, or the first live one);
        /// `recovered` is false when the server could not resume from the cursor the attempt
        /// was opened with; `live` is the stream's live end when the welcome was written (see
        /// ``Welcome/live``), nil from a server that does not name it. Messages from `next` up
        /// to `live - 1` are a replay the attempt must bring before it counts as caught up.
        case welcomeReceived(AttemptID, epoch: UInt64, next: UInt64, recovered: Bool, live: UInt64? = nil)
        /// A multiplexed attempt is welcomed on every topic: one ``Welcome`` per topic, each read
        /// as `.welcomeReceived` reads its one. The machine keeps a position per topic from then
        /// on (see `RealtimeManagerStateMachine+Topics.swift`).
        case welcomesReceived(AttemptID, [Welcome])
        /// A stream message arrived on the attempt (any order, duplicates allowed).
        case messageReceived(AttemptID, RealtimeMessage)
        /// A heartbeat arrived: a WebSocket pong, an SSE comment, a sync 200/304 response.
        case heartbeat(AttemptID)
        /// The attempt's stream went on in a new response on the same connection (an SSE
        /// stream the server recycled, welcomed again where it left off): the server's
        /// heartbeat cadence restarts now.
        case streamContinued(AttemptID)
        /// The latency of one message on the attempt (publish → receive, when the glue can tell).
        case latencySample(AttemptID, TimeAmount)
        /// The attempt's connection ended by itself. Not reported for attempts the machine
        /// closed (it would be ignored as stale anyway).
        case closed(AttemptID, TransportCloseCause)
        /// A timer the machine scheduled ran.
        case timerFired(TimerID)
    }

    /// What the owner must do. Plain data, performed in array order.
    public enum Action: Sendable, Equatable {
        /// The manager now uses (tries) `to`; emitted once per switch, the initial choice
        /// included (`from` nil). This is the seed's `onMethodChange`.
        case methodChanged(from: TransportMethod?, to: TransportMethod, reason: MethodChangeReason)
        /// Start a connection attempt, resuming after `resumeFrom` (nil: from the live end).
        case open(TransportMethod, AttemptID, resumeFrom: StreamCursor?)
        /// The attempt is now the open, active transport (welcome received, or a probe was
        /// switched to): client → server sends go there.
        case opened(TransportMethod, AttemptID)
        /// Close the attempt's connection; the machine has abandoned it.
        case close(TransportMethod, AttemptID)
        /// Run a timer at `at` (replacing one of the same id), then report `.timerFired(id)`.
        case scheduleTimer(TimerID, at: NIODeadline)
        /// Cancel a scheduled timer.
        case cancelTimer(TimerID)
        /// Hand the message to the application: exactly once per offset, in order.
        case deliver(RealtimeMessage)
        /// `missing` messages before the next `.deliver` never arrived.
        case gap(missing: UInt64)
        /// The server could not resume after `lastDelivered` (retention exceeded, or its history
        /// was reset to a new epoch); the stream continues at `resumesAt`. Never a silent gap.
        /// `topic` names the topic of a multiplexed manager (nil for a single-topic one).
        case recoveryIncomplete(lastDelivered: StreamCursor, resumesAt: StreamCursor, topic: String? = nil)
        /// Transmit client message number `sequence` on the attempt (a WebSocket frame, or
        /// `POST /send` beside SSE and sync). A message is transmitted once when sent on an
        /// open transport and again after every open while unacknowledged, always under its
        /// number.
        case transmit(TransportMethod, AttemptID, sequence: UInt64, ByteBuffer)
        /// Client message number `sequence` left the outbox unacknowledged: it is not resent
        /// any more, and may or may not have reached the server.
        case sendDropped(sequence: UInt64, ByteBuffer, reason: SendDropReason)
        /// An input that the contract rules out in this state; it was ignored.
        case protocolError(String)
    }

    // MARK: State

    /// The current transport and its failure history. Carried by every running state.
    struct Run: Sendable {
        var method: TransportMethod
        /// Start of the current stretch of trouble (the run's start, or the end of the last
        /// stable connection): the give-up deadline is this + `giveUpAfter`.
        var troubleSince: NIODeadline
        /// Consecutive failed attempts since the last open (the backoff exponent).
        var failures = 0
        /// Heartbeat losses since the manager switched to this transport.
        var heartbeatLosses = 0
        /// Connections of this transport ended for staying behind since the manager switched to it.
        var behindEndings = 0
        /// Connects answered with RST (the port is closed or rejected) in a row: an open or a
        /// failure of another kind ends the row.
        var refusals = 0
        /// A connection of this transport opened during the run: refusals that follow mean the
        /// server went away, not that the network refuses the transport (see
        /// ``RealtimeManagerStateMachine/refusalIsBlock(_:)``).
        var hasOpened = false
        /// Every transport was refused in a row: the server is down. The run retries its
        /// transport with backoff and neither refusals nor the give-up deadline move it; a failure
        /// of another kind ends this.
        var serverDown = false
        /// The reason a give-up would report, from the latest trouble.
        var giveUpReason = MethodChangeReason.fallbackConnectFailed
    }

    /// A connection attempt that has not opened.
    struct Attempt: Sendable {
        var id: AttemptID
        var method: TransportMethod
        var resumeFrom: StreamCursor?
        /// Multiplexed: where each topic resumes.
        var resumeFromEach = TopicCursors()
        var connected = false
    }

    /// The open, active connection.
    struct Connection: Sendable {
        var id: AttemptID
        var method: TransportMethod
        var openedAt: NIODeadline
        /// Last traffic of any kind (heartbeat or message): liveness.
        var lastHeard: NIODeadline
        /// When the next heartbeat is due on the transport's fixed cadence (anchored at the
        /// open, advanced by one interval per heartbeat that is not early).
        var expectedHeartbeat: NIODeadline
        /// When the last heartbeat arrived.
        var lastHeartbeat: NIODeadline
        /// Late heartbeats without a normally spaced on-time one, or a flowing stream, in between.
        var lateHeartbeats = 0
        /// When the last late heartbeat arrived.
        var lateHeartbeatAt: NIODeadline?
        /// Since when every latency sample has been above ``RealtimeManagerConfiguration/behindLatency``.
        var behindSince: NIODeadline?
        /// The held-burst test of an SSE stream (see ``RealtimeManagerConfiguration/burstHold``).
        var bursts = BurstRecord()
        /// While catching up after a welcome that named a replay: the live end's newest offset,
        /// which the connection itself must bring (see ``TimerID/confirm(_:)``), per topic. Nil
        /// once caught up.
        var catchUpTo: CatchUp?
        /// The last message of the catch-up: the replay must keep coming.
        var lastProgress: NIODeadline
        /// A better (upgrade) or next (latency) transport being tried in parallel.
        var candidate: Candidate?

        init(id: AttemptID, method: TransportMethod, openedAt: NIODeadline, heartbeatInterval: TimeAmount) {
            self.id = id
            self.method = method
            self.openedAt = openedAt
            self.lastHeard = openedAt
            self.expectedHeartbeat = openedAt + heartbeatInterval
            self.lastHeartbeat = openedAt
            self.lastProgress = openedAt
        }
    }

    /// A transport opened in parallel with the open one, switched to once caught up.
    struct Candidate: Sendable {
        enum Purpose: Sendable {
            case upgrade
            case latency
        }

        var attempt: Attempt
        var purpose: Purpose
        /// Further candidates of the same upgrade round, tried if this one fails.
        var remaining: [TransportMethod]
        /// After its welcome: the newest offset published when its welcome was written (the live
        /// end the welcome named, minus one, per topic); it has caught up once it brought those
        /// itself.
        var catchUpTo: CatchUp?
        /// The welcome or the last message of the catch-up: the replay must keep coming.
        var lastProgress: NIODeadline?
    }

    /// Internal, not private, only so the `RealtimeManagerStateMachine+….swift` extensions can
    /// reach it; nothing outside this folder touches it.
    enum State: Sendable {
        /// Not started, or stopped.
        case idle
        /// An attempt of the run's transport is in flight (connecting, or connected and
        /// waiting for its welcome).
        case connecting(Run, Attempt)
        /// Waiting out the backoff after attempt `after` failed.
        case retrying(Run, after: AttemptID)
        /// The run's transport is open.
        case open(Run, Connection)
    }

    public let configuration: RealtimeManagerConfiguration
    /// ``RealtimeManagerConfiguration/preferenceOrder``, computed once.
    let order: [TransportMethod]
    var state = State.idle
    var random: SplitMix64
    /// The delivery position of a single-topic manager.
    var tracker = DeliveryTracker()
    /// A multiplexed manager's delivery position per topic, in the order first welcomed.
    var topicTrackers: [(topic: String, tracker: DeliveryTracker)] = []
    /// Welcomed by topic (`.welcomesReceived`): positions, catch-up and recovery are per topic.
    var isMultiplexed = false
    var timers = TimerTable()
    var outbox: Outbox
    var networkIdentity: String?
    var lastAttemptNumber: UInt64 = 0
    /// Latency samples of the open connection. Kept beside the state rather than inside
    /// `Connection` so recording one does not copy the buffer out of the enum.
    var latencyWindow: LatencyWindow
    var performanceRecords = PerTransport(repeating: TransportPerformance())
    /// Until when upgrade probes leave each transport out (see ``probesSuspended(of:now:)``).
    var probeSuspensions = PerTransport<NIODeadline?>(repeating: nil)
    /// Transports refused (RST, or a plain answer to an upgrade) since the last open or the last
    /// failure of another kind: once it holds every transport, the server is down (see
    /// ``refusalIsBlock(_:)``).
    var refusedInARow = PerTransport(repeating: false)
    /// The transport of the last connection that opened: where the manager waits for a server
    /// that is down.
    var lastOpenedMethod: TransportMethod?
    /// The manager fell back from a transport that had opened because nothing answered any
    /// more (see ``fellBackOnSilence(_:reason:)``): the next open probes the better transports
    /// at once instead of one `benchmarkInterval` later.
    var probeOnNextOpen = false
    /// While probes look for the way back after such a fallback: the delay before the next one
    /// when this one fails (``returnProbeFirstDelay``, doubling; see ``nextProbeDelay()``).
    var returnProbeDelay: TimeAmount?
    /// The first delay of the probes that look for the way back after a fallback on silence,
    /// once the probe at the next open has failed: 15 s, doubling until `benchmarkInterval`.
    /// A transport blocked for a minute or two is found again within about as long, where the
    /// interval alone would leave the client on the worse one for five minutes.
    static let returnProbeFirstDelay: TimeAmount = .seconds(15)

    /// The WebSocket ping interval: `heartbeatInterval`, or shorter once learnt (see
    /// ``RealtimeManagerConfiguration/heartbeatFloor``).
    public internal(set) var webSocketHeartbeatInterval: TimeAmount

    /// The latest RTT sample was left out as ambiguous (a connect that waited for a SYN
    /// retransmission): the attempt it belongs to gets the lossy-handshake allowance.
    var lastHandshakeWasLossy = false

    /// The smoothed round-trip time (RFC 6298 SRTT), nil before the first measurement.
    public internal(set) var smoothedRTT: TimeAmount?
    /// Manager-wide counters: deliveries, duplicates, gaps, drops, switches.
    public internal(set) var counters = RealtimeManagerCounters()
    /// Which transport worked on which network; pass it to the next machine to keep it.
    public internal(set) var memory: TransportMemory

    /// - Parameters:
    ///   - seed: seeds the backoff's generator; the only randomness the machine uses.
    ///   - memory: transports remembered from an earlier machine (see ``TransportMemory``).
    public init(configuration: RealtimeManagerConfiguration = .init(), seed: UInt64, memory: TransportMemory = .init()) {
        self.configuration = configuration
        self.order = configuration.preferenceOrder
        self.random = SplitMix64(seed: seed)
        self.memory = memory
        self.latencyWindow = LatencyWindow(capacity: configuration.latencyWindow)
        self.outbox = Outbox(limit: configuration.sendQueueLimit)
        self.webSocketHeartbeatInterval = configuration.heartbeatInterval
    }

    /// The heartbeat cadence of `method`: the learnt ping interval for WebSocket, the
    /// configured one for the others (whose heartbeats the server paces).
    public func heartbeatInterval(for method: TransportMethod) -> TimeAmount {
        method == .websocket ? self.webSocketHeartbeatInterval : self.configuration.heartbeatInterval
    }

    /// How long an open connection of `method` may stay silent before it counts as dead.
    func heartbeatTimeout(for method: TransportMethod) -> TimeAmount {
        self.heartbeatInterval(for: method) + self.configuration.heartbeatGrace
    }

    // MARK: Reading

    /// The transport in use or being tried; nil before `.start` and after `.stop`.
    public var currentMethod: TransportMethod? {
        switch self.state {
        case .idle: return nil
        case .connecting(let run, _), .retrying(let run, _), .open(let run, _): return run.method
        }
    }

    /// The open, active transport and its attempt, if one is open.
    public var openTransport: (method: TransportMethod, attempt: AttemptID)? {
        switch self.state {
        case .open(_, let connection): return (connection.method, connection.id)
        case .idle, .connecting, .retrying: return nil
        }
    }

    /// The transport being reconnected after a routine end, if nothing is open: a connection of
    /// it opened in the current run and ended (a load balancer's or a CDN's cut, a recycled
    /// stream on its own connection) less than ``RealtimeManagerConfiguration/giveUpAfter``
    /// ago, so the manager is still within the window it gives a transport to come back and
    /// has not moved on. Nil when a transport is open, the run's transport never opened, or
    /// its trouble has lasted longer than that window.
    public func reconnecting(now: NIODeadline) -> TransportMethod? {
        switch self.state {
        case .connecting(let run, _), .retrying(let run, _):
            guard run.hasOpened, now - run.troubleSince < self.configuration.giveUpAfter else { return nil }
            return run.method
        case .idle, .open:
            return nil
        }
    }

    /// The probe (upgrade or latency) running beside the open transport, if any.
    public var probe: (method: TransportMethod, attempt: AttemptID)? {
        switch self.state {
        case .open(_, let connection):
            return connection.candidate.map { ($0.attempt.method, $0.attempt.id) }
        case .idle, .connecting, .retrying: return nil
        }
    }

    /// The last delivered position: where the next attempt resumes.
    public var lastDelivered: StreamCursor? { self.tracker.last }

    /// Client messages the server has not acknowledged yet (sent or waiting for a transport).
    public var unacknowledgedSends: Int { self.outbox.pending.count }

    /// When the timer `id` is due, if it is armed.
    public func deadline(of id: TimerID) -> NIODeadline? { self.timers.deadline(of: id) }

    /// The armed timers, in the order they were first armed.
    public var armedTimers: [(id: TimerID, deadline: NIODeadline)] { self.timers.all }

    /// The figures of one transport, the running span of an open connection included in
    /// ``TransportPerformance/timeOpen``.
    public func performance(of method: TransportMethod, now: NIODeadline) -> TransportPerformance {
        var record = self.performanceRecords[method]
        if case .open(_, let connection) = self.state, connection.method == method {
            record.timeOpen = record.timeOpen + (now - connection.openedAt)
        }
        return record
    }

    // MARK: Input

    /// Feeds one event; returns what to do, in order.
    public mutating func handle(_ event: Event, now: NIODeadline) -> [Action] {
        switch event {
        case .start(let networkIdentity):
            return self.start(networkIdentity: networkIdentity, now: now)
        case .stop:
            return self.stop(now: now)
        case .send(let payload):
            return self.send(payload)
        case .acknowledged(let id, let sequence):
            return self.acknowledged(id, upTo: sequence)
        case .rttMeasured(let sample):
            self.recordRTT(sample)
            return []
        case .answerTimed(let id, let duration):
            return self.answerTimed(id, duration)
        case .connected(let id):
            return self.connected(id, now: now)
        case .welcomeReceived(let id, let epoch, let next, let recovered, let live):
            return self.welcomeReceived(id, [StreamWelcome(topic: nil, epoch: epoch, next: next, recovered: recovered, live: live)], now: now)
        case .welcomesReceived(let id, let welcomes):
            return self.welcomesReceived(id, welcomes, now: now)
        case .messageReceived(let id, let message):
            return self.messageReceived(id, message, now: now)
        case .heartbeat(let id):
            return self.heartbeat(id, now: now)
        case .streamContinued(let id):
            return self.streamContinued(id, now: now)
        case .latencySample(let id, let latency):
            return self.latencySample(id, latency, now: now)
        case .closed(let id, let cause):
            return self.closed(id, cause: cause, now: now)
        case .timerFired(let id):
            return self.timerFired(id, now: now)
        }
    }

    private mutating func timerFired(_ id: TimerID, now: NIODeadline) -> [Action] {
        guard self.timers.fire(id, now: now) else { return self.stale() }
        switch id {
        case .confirm(let attempt): return self.confirmExpired(attempt, now: now)
        case .retry(let attempt): return self.retryDue(after: attempt, now: now)
        case .giveUp(let method): return self.giveUpDue(method, now: now)
        case .heartbeatCheck(let attempt): return self.heartbeatCheckDue(attempt, now: now)
        case .probe: return self.probeDue(now: now)
        }
    }

    // MARK: Shared helpers

    mutating func arm(_ id: TimerID, at deadline: NIODeadline) -> Action {
        self.timers.arm(id, at: deadline)
        return .scheduleTimer(id, at: deadline)
    }

    /// `.cancelTimer(id)` if it is armed, nothing otherwise.
    mutating func disarm(_ id: TimerID) -> [Action] {
        self.timers.disarm(id) ? [.cancelTimer(id)] : []
    }

    mutating func newAttemptID() -> AttemptID {
        self.lastAttemptNumber += 1
        return AttemptID(self.lastAttemptNumber)
    }

    /// Ignores an input of an abandoned attempt or an unexpected timer firing.
    mutating func stale() -> [Action] {
        self.counters.staleInputsIgnored += 1
        return []
    }

    func protocolError(_ what: String) -> [Action] {
        [.protocolError("\(what) (state: \(self.stateDescription))")]
    }

    var stateDescription: String {
        switch self.state {
        case .idle: return "idle"
        case .connecting(let run, let attempt):
            return "connecting \(run.method) \(attempt.id)\(attempt.connected ? " connected" : "")"
        case .retrying(let run, let after): return "retrying \(run.method) after \(after)"
        case .open(let run, let connection):
            let probe = connection.candidate.map { " probing \($0.attempt.method) \($0.attempt.id)" } ?? ""
            return "open \(run.method) \(connection.id)\(probe)"
        }
    }

    /// RFC 6298: the first sample is the SRTT; later ones move it by 1/8. A sample as long as
    /// a SYN retransmission timeout is ambiguous (see ``RealtimeManagerConfiguration/ambiguousRTT``)
    /// and left out.
    private mutating func recordRTT(_ sample: TimeAmount) {
        self.lastHandshakeWasLossy = sample > self.configuration.ambiguousRTT
        guard sample >= .zero, sample <= self.configuration.ambiguousRTT else { return }
        if let smoothed = self.smoothedRTT {
            self.smoothedRTT = .nanoseconds(smoothed.nanoseconds - smoothed.nanoseconds / 8 + sample.nanoseconds / 8)
        } else {
            self.smoothedRTT = sample
        }
    }

    /// See ``Event/answerTimed(_:_:)``. A segment lost on the way: the server's retransmission
    /// timer, backed off by a handshake that lost its last ACK, may hold the welcome back for
    /// seconds too.
    private mutating func answerTimed(_ id: AttemptID, _ duration: TimeAmount) -> [Action] {
        guard duration > (self.smoothedRTT ?? self.configuration.initialRTTEstimate) + self.configuration.retransmissionFloor else { return [] }
        let connected: Bool
        switch self.state {
        case .connecting(_, let attempt) where attempt.id == id:
            connected = attempt.connected
        case .open(_, let connection) where connection.candidate?.attempt.id == id:
            connected = connection.candidate?.attempt.connected ?? false
        case .idle, .connecting, .retrying, .open:
            return []
        }
        guard connected else {
            self.lastHandshakeWasLossy = true
            return []
        }
        guard let deadline = self.timers.deadline(of: .confirm(id)) else { return [] }
        return [self.arm(.confirm(id), at: deadline + self.configuration.lossyHandshakeAllowance)]
    }

    func confirmTimeout(for method: TransportMethod) -> TimeAmount {
        self.configuration.confirmTimeout(for: method, rtt: self.smoothedRTT ?? self.configuration.initialRTTEstimate)
    }

    /// The confirm timeout of an attempt that just connected: with the lossy-handshake
    /// allowance when its connect waited for a SYN retransmission (the flag is used up).
    mutating func confirmTimeoutOnConnect(for method: TransportMethod) -> TimeAmount {
        defer { self.lastHandshakeWasLossy = false }
        let allowance = self.lastHandshakeWasLossy ? self.configuration.lossyHandshakeAllowance : .zero
        return self.confirmTimeout(for: method) + allowance
    }

    /// Adds the span of an open connection that ends now to its transport's time open.
    mutating func recordTimeOpen(_ connection: Connection, until now: NIODeadline) {
        let record = self.performanceRecords[connection.method].timeOpen
        self.performanceRecords[connection.method].timeOpen = record + (now - connection.openedAt)
    }

    /// Notes that `method` works on the current network now.
    mutating func remember(_ method: TransportMethod, now: NIODeadline) {
        guard let network = self.networkIdentity else { return }
        self.memory.record(network: network, method: method, at: now)
    }
}
