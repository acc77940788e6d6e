import NIOCore
import NIOHTTP1

/// A Custom Sync request for several topics (`topics=a,b,c`, `since=a@E:O,…`): one batch
/// answers for every topic, each with its own epoch, `recovered`, position and live end, and
/// the messages of all of them, each naming its topic.
///
/// ```
/// {"type":"batch","topics":[{"topic":"prices","epoch":42,"recovered":true,"cursor":"42:17","live":18},…],
///  "cursor":"prices@42:17,orders@42:9","messages":[{…},{…}]}
/// ```
///
/// `limit` caps each topic's replay; the `ETag` is the combined cursor, so `304` means no topic
/// has anything new. A long-poll is held until any of the topics publishes.
extension SyncPoll {
    /// One topic's part of a multiplexed answer.
    struct TopicAnswer {
        var topic: String
        var resumption: Resumption
        /// The position the client holds in this topic after the answer.
        var position: UInt64
    }

    func startMultiplexed() {
        let answers = self.resumeAll(now: self.context.eventLoop.now)
        let caughtUp = answers.allSatisfy {
            self.request.sinceEach[$0.topic] != nil && $0.resumption.recovered && $0.resumption.replay.isEmpty
        }
        guard caughtUp, self.request.wait > .zero else {
            self.answerMultiplexed(answers)
            return
        }
        self.hold()
    }

    /// Every topic's resumption from the client's position in it.
    func resumeAll(now: NIODeadline) -> [TopicAnswer] {
        self.request.topics.map { topic in
            let since = self.request.sinceEach[topic]
            let resumption = self.hub.resume(topic, from: since, limit: self.request.limit, now: now)
            return TopicAnswer(topic: topic, resumption: resumption, position: Self.position(after: resumption, since: since))
        }
    }

    func answerMultiplexed(_ answers: [TopicAnswer]) {
        guard !self.done else { return }
        self.done = true
        var cursors = TopicCursors()
        for answer in answers { cursors[answer.topic] = StreamCursor(epoch: answer.resumption.state.epoch, offset: answer.position) }
        let etag = "\"\(cursors)\""
        let unchanged = answers.allSatisfy { $0.resumption.replay.isEmpty && $0.resumption.recovered }
        if unchanged && self.request.ifNoneMatch == etag {
            self.respondNotModified(etag: etag)
        } else {
            let replayBytes = answers.reduce(0) { sum, answer in sum + answer.resumption.replay.reduce(0) { $0 + $1.json.readableBytes + 1 } }
            var body = self.hub.takeAnswerBuffer(capacity: 128 + 96 * answers.count + replayBytes)
            defer { self.hub.returnAnswerBuffer(body) }
            body.writeStaticString("{\"type\":\"batch\",\"topics\":[")
            for (index, answer) in answers.enumerated() {
                if index > 0 { body.writeStaticString(",") }
                let epoch = answer.resumption.state.epoch
                body.writeStaticString("{\"topic\":")
                writeJSONString(answer.topic, into: &body)
                body.writeString(",\"epoch\":\(epoch),\"recovered\":\(answer.resumption.recovered),\"cursor\":\"\(epoch):\(answer.position)\"")
                body.writeString(",\"live\":\(answer.resumption.live)}")
            }
            body.writeString("],\"cursor\":\"\(cursors)\"")
            if let session = self.session {
                body.writeStaticString(",\"session\":")
                writeJSONString(session, into: &body)
            }
            body.writeStaticString(",\"messages\":[")
            var first = true
            for answer in answers {
                for message in answer.resumption.replay {
                    if !first { body.writeStaticString(",") }
                    first = false
                    body.writeImmutableBuffer(message.json)
                }
            }
            body.writeStaticString("]}")
            self.router.respond(self.context, self.head, .ok, json: body, etag: etag)
        }
        self.router.responseFinished()
    }
}
