import NIOCore
import NIOHTTP1

/// A Custom Sync request's parameters: `GET /sync?topic=T[&since=E:O][&limit=N][&wait=MS]`
/// with an optional `If-None-Match`; several topics: `topics=A,B[&since=A@E:O,B@E:O]`.
struct SyncRequest {
    /// Multiplexed (`topics=`): the topics; empty for the classic one-topic request.
    var topics: [String] = []
    /// Multiplexed: the client's position in each topic (a topic without one starts live).
    var sinceEach = TopicCursors()
    /// The client's position (the cursor of the last message it has), if any.
    var since: StreamCursor?
    /// Most messages to return (at most the server's batch size).
    var limit: Int
    /// How long to hold the request when nothing is new (0: answer at once).
    var wait: TimeAmount
    /// The entity tag the client already has.
    var ifNoneMatch: String?

    var isMultiplexed: Bool { !self.topics.isEmpty }

    struct Problem: Error {
        var message: String
        /// 400, or 404 for a topic the server does not serve.
        var status: HTTPResponseStatus = .badRequest
    }

    static func parse(_ parameters: [(String, String)], headers: HTTPHeaders, configuration: RealtimeServerConfiguration) -> Result<SyncRequest, Problem> {
        var request = SyncRequest(since: nil, limit: configuration.syncBatchSize, wait: .zero, ifNoneMatch: headers.first(name: "If-None-Match"))
        let multiplexed = parameters.contains { $0.0 == "topics" }
        if multiplexed {
            // The same list and cursor syntax as a multiplexed SSE stream, with `since` for the cursor.
            let sinceText = parameters.first { $0.0 == "since" }?.1
            switch MultiplexedSubscription.parse(parameters, cursorText: sinceText, configuration: configuration) {
            case .success(let subscription): (request.topics, request.sinceEach) = (subscription.topics, subscription.cursors)
            case .failure(let refusal): return .failure(Problem(message: refusal.reason, status: refusal.status))
            }
        }
        for (name, value) in parameters {
            switch name {
            case "since" where multiplexed:
                continue  // read above
            case "since":
                guard let cursor = StreamCursor(parsing: value[...]) else {
                    return .failure(Problem(message: "malformed since cursor '\(value)' (expected EPOCH:OFFSET)"))
                }
                request.since = cursor
            case "limit":
                guard let limit = Int(value), limit >= 1, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    return .failure(Problem(message: "limit must be a positive integer, got '\(value)'"))
                }
                request.limit = min(limit, configuration.syncBatchSize)
            case "wait":
                guard let millis = Int64(value), millis >= 0, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    return .failure(Problem(message: "wait must be milliseconds, got '\(value)'"))
                }
                request.wait = min(.milliseconds(millis), configuration.syncMaxWait)
            default:
                continue  // topic and unknown parameters
            }
        }
        return .success(request)
    }
}

/// One Custom Sync response: a JSON batch of the messages after `since`, with an `ETag` that
/// names the position the client reaches with it. When nothing is new: `304 Not Modified` if
/// the client's `If-None-Match` already names that position (an `ETag` from another epoch
/// never matches), otherwise an empty batch; with `wait=`, the request is held until a message
/// arrives or the wait ends (long-poll).
///
/// ```
/// {"type":"batch","topic":"metrics","epoch":42,"recovered":true,"cursor":"42:17","messages":[{…},{…}]}
/// ```
final class SyncPoll: TopicSubscriber, ActiveResponse {
    unowned let router: HTTPRouter
    let context: ChannelHandlerContext
    let hub: TopicHub
    /// The topic of a classic request; the first one of a multiplexed request.
    private let topic: String
    let request: SyncRequest
    let head: HTTPRequestHead
    let session: String?
    var done = false
    /// When a held request gives up waiting (the router's timer calls ``expire(now:)``).
    var deadline: NIODeadline?

    /// Runs `body` for each topic the request follows (one unless multiplexed), without
    /// building a list for the classic request.
    private func forEachTopic(_ body: (String) -> Void) {
        if self.request.isMultiplexed { self.request.topics.forEach(body) } else { body(self.topic) }
    }

    init(router: HTTPRouter, context: ChannelHandlerContext, hub: TopicHub, topic: String, request: SyncRequest, head: HTTPRequestHead, session: String?) {
        self.session = session
        self.router = router
        self.context = context
        self.hub = hub
        self.topic = topic
        self.request = request
        self.head = head
    }

    func start() {
        guard !self.request.isMultiplexed else { return self.startMultiplexed() }
        let resumption = self.hub.resume(self.topic, from: self.request.since, limit: self.request.limit, now: self.context.eventLoop.now)
        let caughtUp = self.request.since != nil && resumption.recovered && resumption.replay.isEmpty
        guard caughtUp, self.request.wait > .zero else {
            self.answer(resumption)
            return
        }
        self.hold()
    }

    /// Long-poll: hold until something is published on one of the topics or the wait ends. The
    /// router owns one timer per connection (held requests come one after another on it), so
    /// holding costs no scheduled task of its own and no cancellation.
    func hold() {
        self.forEachTopic { _ = self.hub.subscribe(self, to: $0) }
        let deadline = self.context.eventLoop.now + self.request.wait
        self.deadline = deadline
        self.router.wakeUp(at: deadline)
    }

    /// The router's timer fired: answer if the wait is over.
    func expire(now: NIODeadline) {
        guard !self.done, let deadline = self.deadline, deadline <= now else { return }
        self.answerNow(now)
    }

    func deliver(_ message: PublishedMessage) {
        guard !self.done else { return }
        self.answerNow(self.context.eventLoop.now)
    }

    /// The position the client holds in a topic after an answer with `resumption`: the last
    /// message replayed, else where it was (resumed, nothing new), else the live end.
    static func position(after resumption: Resumption, since: StreamCursor?) -> UInt64 {
        if let last = resumption.replay.last { return last.offset }
        if let since, resumption.recovered { return since.offset }
        return resumption.state.next - 1
    }

    /// `304 Not Modified`: the client's entity tag is still current.
    func respondNotModified(etag: String) {
        var headers = HTTPHeaders()
        headers.add(name: "ETag", value: etag)
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Content-Length", value: "0")
        self.context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: self.head.version, status: .notModified, headers: headers))), promise: nil)
        self.context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }

    /// Ends a held request: what is new now (nothing, when the wait ended).
    private func answerNow(_ now: NIODeadline) {
        self.forEachTopic { self.hub.unsubscribe(self, from: $0) }
        guard !self.request.isMultiplexed else { return self.answerMultiplexed(self.resumeAll(now: now)) }
        self.answer(self.hub.resume(self.topic, from: self.request.since, limit: self.request.limit, now: now))
    }

    func cancel() {
        guard !self.done else { return }
        self.done = true
        self.forEachTopic { self.hub.unsubscribe(self, from: $0) }
    }

    private func answer(_ resumption: Resumption) {
        guard !self.done else { return }
        self.done = true
        let epoch = resumption.state.epoch
        let position = Self.position(after: resumption, since: self.request.since)
        // The body is written straight into its buffer, numbers included (a long-poll answers
        // once per message), its fields through one writer each side of the entity tag; the
        // entity tag is the body's own `"EPOCH:POSITION"`. Room for the fields (five numbers
        // of up to twenty digits, the topic and the session escaped at worst) and the
        // messages, so the buffer is not grown and copied as it is written.
        let textBytes = 6 * (self.topic.utf8.count + (self.session?.utf8.count ?? 0))
        var body = self.hub.takeAnswerBuffer(capacity: 192 + 2 * textBytes + resumption.replay.reduce(0) { $0 + $1.json.readableBytes + 1 })
        defer { self.hub.returnAnswerBuffer(body) }
        let fieldsStart = body.writerIndex
        var etagStart = 0
        var etagEnd = 0
        body.writeFields(maximumBytes: 128 + textBytes) { fields in
            fields.write("{\"type\":\"batch\",\"topic\":")
            fields.writeJSONString(self.topic)
            fields.write(",\"epoch\":")
            fields.writeDecimal(epoch)
            fields.write(resumption.recovered ? ",\"recovered\":true,\"cursor\":" : ",\"recovered\":false,\"cursor\":")
            etagStart = fields.count
            fields.write(byte: UInt8(ascii: "\""))
            fields.writeDecimal(epoch)
            fields.write(byte: UInt8(ascii: ":"))
            fields.writeDecimal(position)
            fields.write(byte: UInt8(ascii: "\""))
            etagEnd = fields.count
        }
        let etag = body.getString(at: fieldsStart + etagStart, length: etagEnd - etagStart)!
        if resumption.replay.isEmpty && resumption.recovered && self.request.ifNoneMatch == etag {
            self.respondNotModified(etag: etag)
        } else {
            // The live end: a batch cut short by `limit` leaves the rest for the next polls.
            body.writeFields(maximumBytes: 64 + textBytes) { fields in
                fields.write(",\"live\":")
                fields.writeDecimal(resumption.live)
                if let session = self.session {
                    fields.write(",\"session\":")
                    fields.writeJSONString(session)
                }
                fields.write(",\"messages\":[")
            }
            for (index, message) in resumption.replay.enumerated() {
                if index > 0 { body.writeStaticString(",") }
                body.writeImmutableBuffer(message.json)
            }
            body.writeStaticString("]}")
            self.router.respond(self.context, self.head, .ok, json: body, etag: etag)
        }
        self.router.responseFinished()
    }
}
