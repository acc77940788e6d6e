import NIOHTTP1

/// The topics and resume positions a multiplexed request asks for (`topics=a,b,c`, cursor
/// `a@E:O,…`), as the SSE endpoint and the WebSocket upgrade read them.
struct MultiplexedSubscription {
    var topics: [String]
    var cursors: TopicCursors

    /// Why a multiplexed request is refused: the status and the reason the error body gives.
    struct Refusal: Error {
        var status: HTTPResponseStatus
        var reason: String
    }

    /// Reads `topics` and the cursor text (`Last-Event-ID` or `cursor`), or says why not: 400 for
    /// a malformed list or cursor, a `topic` parameter beside `topics`, or a cursor naming a
    /// topic not asked for; 404 for a topic the server does not serve.
    static func parse(
        _ parameters: [(String, String)],
        cursorText: String?,
        configuration: RealtimeServerConfiguration
    ) -> Result<MultiplexedSubscription, Refusal> {
        guard !parameters.contains(where: { $0.0 == "topic" }) else {
            return .failure(Refusal(status: .badRequest, reason: "give either topic or topics, not both"))
        }
        let list = parameters.first { $0.0 == "topics" }?.1 ?? ""
        let topics: [String]
        switch parseTopicList(list[...]) {
        case .success(let parsed): topics = parsed
        case .failure(let problem): return .failure(Refusal(status: .badRequest, reason: problem.description))
        }
        if let unserved = topics.first(where: { !configuration.serves(topic: $0[...]) }) {
            return .failure(Refusal(status: .notFound, reason: "no such topic '\(unserved)'"))
        }
        guard let cursorText, !cursorText.isEmpty else { return .success(MultiplexedSubscription(topics: topics, cursors: TopicCursors())) }
        switch TopicCursors.parse(cursorText[...]) {
        case .success(let cursors):
            if let stranger = cursors.entries.first(where: { !topics.contains($0.topic) }) {
                return .failure(Refusal(status: .badRequest, reason: "cursor names topic '\(stranger.topic)', which topics does not list"))
            }
            return .success(MultiplexedSubscription(topics: topics, cursors: cursors))
        case .failure(let problem):
            return .failure(Refusal(status: .badRequest, reason: problem.description))
        }
    }
}
