import NIOCore
import NIOHTTP1

/// A Custom Sync request's parameters: `GET /sync?topic=T[&since=E:O][&limit=N][&wait=MS]`
/// with an optional `If-None-Match`.
struct SyncRequest {
    /// The client's position (the cursor of the last message it has), if any.
    var since: StreamCursor?
    /// Most messages to return (at most the server's batch size).
    var limit: Int
    /// How long to hold the request when nothing is new (0: answer at once).
    var wait: TimeAmount
    /// The entity tag the client already has.
    var ifNoneMatch: String?

    struct Problem: Error {
        var message: String
    }

    static func parse(_ parameters: [(String, String)], headers: HTTPHeaders, configuration: RealtimeServerConfiguration) -> Result<SyncRequest, Problem> {
        var request = SyncRequest(since: nil, limit: configuration.syncBatchSize, wait: .zero, ifNoneMatch: headers.first(name: "If-None-Match"))
        for (name, value) in parameters {
            switch name {
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
    private unowned let router: HTTPRouter
    private let context: ChannelHandlerContext
    private let hub: TopicHub
    private let topic: String
    private let request: SyncRequest
    private let head: HTTPRequestHead
    private let session: String?
    private var done = false
    /// When a held request gives up waiting (the router's timer calls ``expire(now:)``).
    private(set) var deadline: NIODeadline?

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
        let resumption = self.hub.resume(self.topic, from: self.request.since, limit: self.request.limit, now: self.context.eventLoop.now)
        let caughtUp = self.request.since != nil && resumption.recovered && resumption.replay.isEmpty
        guard caughtUp, self.request.wait > .zero else {
            self.answer(resumption)
            return
        }
        // Long-poll: hold until something is published or the wait ends. The router owns
        // one timer per connection (held requests come one after another on it), so holding
        // costs no scheduled task of its own and no cancellation.
        _ = self.hub.subscribe(self, to: self.topic)
        let deadline = self.context.eventLoop.now + self.request.wait
        self.deadline = deadline
        self.router.wakeUp(at: deadline)
    }

    /// The router's timer fired: answer if the wait is over.
    func expire(now: NIODeadline) {
        guard !self.done, let deadline = self.deadline, deadline <= now else { return }
        self.hub.unsubscribe(self, from: self.topic)
        self.answer(self.hub.resume(self.topic, from: self.request.since, limit: self.request.limit, now: now))
    }

    func deliver(_ message: PublishedMessage) {
        guard !self.done else { return }
        self.hub.unsubscribe(self, from: self.topic)
        self.answer(self.hub.resume(self.topic, from: self.request.since, limit: self.request.limit, now: self.context.eventLoop.now))
    }

    func cancel() {
        guard !self.done else { return }
        self.done = true
        self.hub.unsubscribe(self, from: self.topic)
    }

    private func answer(_ resumption: Resumption) {
        guard !self.done else { return }
        self.done = true
        let epoch = resumption.state.epoch
        // The position the client holds after this response.
        let position: UInt64
        if let last = resumption.replay.last {
            position = last.offset
        } else if let since = self.request.since, resumption.recovered {
            position = since.offset
        } else {
            position = resumption.state.next - 1
        }
        let etag = "\"\(epoch):\(position)\""
        if resumption.replay.isEmpty && resumption.recovered && self.request.ifNoneMatch == etag {
            var headers = HTTPHeaders()
            headers.add(name: "ETag", value: etag)
            headers.add(name: "Cache-Control", value: "no-store")
            headers.add(name: "Content-Length", value: "0")
            self.context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: self.head.version, status: .notModified, headers: headers))), promise: nil)
            self.context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        } else {
            var body = self.context.channel.allocator.buffer(capacity: 128 + resumption.replay.reduce(0) { $0 + $1.json.readableBytes + 1 })
            body.writeStaticString("{\"type\":\"batch\",\"topic\":")
            writeJSONString(self.topic, into: &body)
            body.writeString(",\"epoch\":\(epoch),\"recovered\":\(resumption.recovered),\"cursor\":\"\(epoch):\(position)\"")
            // The live end: a batch cut short by `limit` leaves the rest for the next polls.
            body.writeString(",\"live\":\(resumption.live)")
            if let session = self.session {
                body.writeStaticString(",\"session\":")
                writeJSONString(session, into: &body)
            }
            body.writeStaticString(",\"messages\":[")
            for (index, message) in resumption.replay.enumerated() {
                if index > 0 { body.writeStaticString(",") }
                body.writeImmutableBuffer(message.json)
            }
            body.writeStaticString("]}")
            self.router.respond(self.context, self.head, .ok, json: body, headers: [("ETag", etag)])
        }
        self.router.responseFinished()
    }
}
