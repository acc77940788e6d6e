/// A multiplexed connection's delivery bookkeeping: a ``DeliveryTracker`` per topic, and the
/// welcomes that open the connection (one per topic, in any order).
///
/// Shared by the clients that carry several topics on one connection (SSE and WebSocket).
struct TopicTrackers {
    /// The topics, in the order the connection asked for them.
    let topics: [String]
    private var trackers: [DeliveryTracker]
    /// The welcomes of the current response (or connection), by topic.
    private var welcomes: [Welcome?]

    /// What a welcome did.
    enum WelcomeOutcome: Equatable {
        /// Recorded; other topics' welcomes are still due.
        case waiting
        /// The last one: every topic is welcomed (in the order of `topics`).
        case complete([Welcome])
        /// A topic not asked for, or one welcomed twice.
        case unexpected
        /// A continued stream's welcome that does not pick up right after the topic's last
        /// message (another epoch, a gap, `recovered: false`).
        case discontinuous
    }

    init(topics: [String], resumeFrom: TopicCursors) {
        self.topics = topics
        self.trackers = topics.map { DeliveryTracker(last: resumeFrom[$0]) }
        self.welcomes = Array(repeating: nil, count: topics.count)
    }

    /// Takes a welcome. A `continuing` one (a recycled stream asked again on its connection)
    /// must pick up its topic right after the last message.
    mutating func welcome(_ welcome: Welcome, continuing: Bool) -> WelcomeOutcome {
        guard let index = self.topics.firstIndex(of: welcome.topic), self.welcomes[index] == nil else { return .unexpected }
        if continuing {
            guard welcome.recovered, let last = self.trackers[index].last, last.epoch == welcome.epoch,
                welcome.next == last.offset &+ 1
            else { return .discontinuous }
        } else {
            self.trackers[index].expect(epoch: welcome.epoch, next: welcome.next)
        }
        self.welcomes[index] = welcome
        guard self.welcomes.allSatisfy({ $0 != nil }) else { return .waiting }
        let complete = self.welcomes.map { $0! }
        self.welcomes = Array(repeating: nil, count: complete.count)
        return .complete(complete)
    }

    /// Decides about a message through its topic's tracker; nil for a topic not asked for.
    mutating func accept(_ message: RealtimeMessage) -> DeliveryTracker.Decision? {
        guard let index = self.topics.firstIndex(of: message.topic) else { return nil }
        return self.trackers[index].accept(epoch: message.epoch, offset: message.offset)
    }

    /// The position of every topic that has one.
    var cursors: TopicCursors {
        var cursors = TopicCursors()
        for (topic, tracker) in zip(self.topics, self.trackers) { cursors[topic] = tracker.last }
        return cursors
    }
}
