/// The topics of a multiplexed subscription, and a resume position for each: what one
/// connection that carries several topics names where a single-topic one names one topic and
/// one ``StreamCursor``.
///
/// Written `TOPIC@EPOCH:OFFSET` per topic, joined by commas, in the subscription's order:
/// `prices@42:17,orders@42:9,alerts@42:3`. Topic names (`[A-Za-z0-9._-]`) contain neither `@`
/// nor `,` nor `:`, so the text splits without escapes. A topic without a position (nothing
/// heard yet) is left out and starts live. The same text is the SSE event `id` of a
/// multiplexed stream (the positions of every topic after that event), so the browser-standard
/// `Last-Event-ID` resumes every topic at once.
public struct TopicCursors: Sendable, Equatable, CustomStringConvertible {
    /// Positions in order; each topic at most once.
    public private(set) var entries: [(topic: String, cursor: StreamCursor)]

    /// At most this many topics on one connection (a bound on a request's work, not a wish).
    public static let maxTopics = 64

    public init() {
        self.entries = []
    }

    /// The position of `topic`, if it has one.
    public subscript(topic: String) -> StreamCursor? {
        get { self.entries.first { $0.topic == topic }?.cursor }
        set {
            if let index = self.entries.firstIndex(where: { $0.topic == topic }) {
                if let newValue { self.entries[index].cursor = newValue } else { self.entries.remove(at: index) }
            } else if let newValue {
                self.entries.append((topic, newValue))
            }
        }
    }

    public var isEmpty: Bool { self.entries.isEmpty }

    public var description: String {
        self.entries.map { "\($0.topic)@\($0.cursor)" }.joined(separator: ",")
    }

    public static func == (lhs: TopicCursors, rhs: TopicCursors) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.topic == $1.topic && $0.cursor == $1.cursor }
    }

    /// Parses `TOPIC@EPOCH:OFFSET[,…]`; the error says what is wrong, for a 400.
    public static func parse(_ text: Substring) -> Result<TopicCursors, TopicListError> {
        var cursors = TopicCursors()
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard items.count <= Self.maxTopics else { return .failure(TopicListError("more than \(Self.maxTopics) cursors")) }
        for item in items {
            guard let at = item.firstIndex(of: "@") else {
                return .failure(TopicListError("malformed cursor '\(item)' (expected TOPIC@EPOCH:OFFSET)"))
            }
            let topic = item[..<at]
            guard isValidTopicName(topic) else { return .failure(TopicListError("malformed topic '\(topic)' in cursor '\(item)'")) }
            guard let cursor = StreamCursor(parsing: item[item.index(after: at)...]) else {
                return .failure(TopicListError("malformed cursor '\(item)' (expected TOPIC@EPOCH:OFFSET)"))
            }
            guard cursors[String(topic)] == nil else { return .failure(TopicListError("topic '\(topic)' has two cursors")) }
            cursors[String(topic)] = cursor
        }
        return .success(cursors)
    }
}

/// Parses a multiplexed subscription's topic list (`prices,orders,alerts`): 1 to
/// ``TopicCursors/maxTopics`` valid names, none twice.
public func parseTopicList(_ text: Substring) -> Result<[String], TopicListError> {
    let names = text.split(separator: ",", omittingEmptySubsequences: false)
    guard names.count <= TopicCursors.maxTopics else { return .failure(TopicListError("more than \(TopicCursors.maxTopics) topics")) }
    var topics: [String] = []
    for name in names {
        guard isValidTopicName(name) else {
            return .failure(TopicListError("malformed topic '\(name)' in the topic list (expected names from [A-Za-z0-9._-] joined by commas)"))
        }
        guard !topics.contains(String(name)) else { return .failure(TopicListError("topic '\(name)' listed twice")) }
        topics.append(String(name))
    }
    return .success(topics)
}

/// Why a topic list or a multi-topic cursor was refused.
public struct TopicListError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
