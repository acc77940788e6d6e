import NIOCore

/// Several topics over one connection: the machine's position bookkeeping per topic.
///
/// A single-topic manager keeps one ``DeliveryTracker`` and its welcomes name no topic (key
/// `nil` below). A multiplexed one (its first ``RealtimeManagerStateMachine/Event/welcomesReceived(_:_:)``
/// says so) keeps a tracker per topic, resumes every attempt from each topic's position
/// (``RealtimeManagerStateMachine/resumePositions(of:)``), and applies the caught-up rule to
/// each topic: a connection has caught up once it brought every topic's live end itself.
/// Liveness, heartbeats and fallback are the connection's, whatever it carries.
extension RealtimeManagerStateMachine {
    /// One topic's welcome as the machine reads it (`topic` nil for a single-topic manager).
    struct StreamWelcome: Sendable {
        var topic: String?
        var epoch: UInt64
        var next: UInt64
        var recovered: Bool
        var live: UInt64?
    }

    /// What a welcomed connection still owes before it counts as caught up: per topic, the
    /// newest offset published before its welcome (see ``TimerID/confirm(_:)``).
    struct CatchUp: Sendable {
        private var owed: [(topic: String?, target: StreamCursor)]

        /// Nil when no welcome names a replay.
        init?(_ welcomes: [StreamWelcome]) {
            self.owed = welcomes.compactMap { welcome in
                RealtimeManagerStateMachine.catchUpTarget(epoch: welcome.epoch, next: welcome.next, live: welcome.live).map { (welcome.topic, $0) }
            }
            if self.owed.isEmpty { return nil }
        }

        init(owed: [(topic: String?, target: StreamCursor)]) {
            self.owed = owed
        }

        /// Takes a message the connection brought; true once every topic has caught up (a
        /// message of another epoch than the target's counts as reaching it).
        mutating func reached(by message: RealtimeMessage) -> Bool {
            if let index = self.owed.firstIndex(where: { $0.topic == nil || $0.topic == message.topic }) {
                let target = self.owed[index].target
                if message.epoch != target.epoch || message.offset >= target.offset { self.owed.remove(at: index) }
            }
            return self.owed.isEmpty
        }
    }

    /// The delivery tracker of `topic` (nil: the single-topic one), for `body` to read or move.
    mutating func withTracker<Result>(_ topic: String?, _ body: (inout DeliveryTracker) -> Result) -> Result {
        guard let topic else { return body(&self.tracker) }
        if let index = self.topicTrackers.firstIndex(where: { $0.topic == topic }) {
            return body(&self.topicTrackers[index].tracker)
        }
        var tracker = DeliveryTracker()
        let result = body(&tracker)
        self.topicTrackers.append((topic, tracker))
        return result
    }

    /// The last delivered position of `topic` (nil: the single-topic one).
    func lastDelivered(_ topic: String?) -> StreamCursor? {
        guard let topic else { return self.tracker.last }
        return self.topicTrackers.first { $0.topic == topic }?.tracker.last
    }

    /// The tracker key of a message: its topic when multiplexed.
    func trackerKey(of message: RealtimeMessage) -> String? {
        self.isMultiplexed ? message.topic : nil
    }

    /// Multiplexed: the last delivered position of every topic that has one.
    public var lastDeliveredEach: TopicCursors {
        var cursors = TopicCursors()
        for (topic, tracker) in self.topicTrackers { cursors[topic] = tracker.last }
        return cursors
    }

    /// A new attempt of `method`, resuming after the last delivered message (of every topic).
    mutating func newAttempt(_ method: TransportMethod) -> Attempt {
        Attempt(id: self.newAttemptID(), method: method, resumeFrom: self.tracker.last, resumeFromEach: self.lastDeliveredEach)
    }

    /// Where attempt `id` resumes each topic of a multiplexed connection (empty for a
    /// single-topic manager, whose `.open` action names its cursor). The owner reads it when it
    /// performs `.open`.
    public func resumePositions(of id: AttemptID) -> TopicCursors {
        switch self.state {
        case .connecting(_, let attempt) where attempt.id == id: return attempt.resumeFromEach
        case .open(_, let connection) where connection.candidate?.attempt.id == id: return connection.candidate!.attempt.resumeFromEach
        case .idle, .connecting, .retrying, .open: return TopicCursors()
        }
    }

    /// A multiplexed attempt's welcomes (see ``Event/welcomesReceived(_:_:)``).
    mutating func welcomesReceived(_ id: AttemptID, _ welcomes: [Welcome], now: NIODeadline) -> [Action] {
        guard !welcomes.isEmpty else { return self.protocolError("no welcome on \(id)") }
        self.isMultiplexed = true
        let streamWelcomes = welcomes.map {
            StreamWelcome(topic: $0.topic, epoch: $0.epoch, next: $0.next, recovered: $0.recovered, live: $0.live)
        }
        return self.welcomeReceived(id, streamWelcomes, now: now)
    }

    /// Whether a probe welcomed with `welcomes` can continue every topic where delivery is:
    /// the same epoch as its resume position and a complete resume.
    func candidateContinues(_ candidate: Candidate, _ welcomes: [StreamWelcome]) -> Bool {
        welcomes.allSatisfy { welcome in
            let resumeFrom = welcome.topic.map { candidate.attempt.resumeFromEach[$0] } ?? candidate.attempt.resumeFrom
            guard let resumeFrom else { return true }
            return resumeFrom.epoch == welcome.epoch && welcome.recovered
        }
    }
}
