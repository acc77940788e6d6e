import CrosswindTransport
import NIOCore
import Testing

/// The replay window behind the one resume cursor: a client that comes back inside it gets
/// exactly what it missed; one that comes back after it gets a snapshot and `recovered: false`.
@Suite struct ReplayWindowTests {
    final class Sink: TopicSubscriber {
        var offsets: [UInt64] = []
        func deliver(_ message: PublishedMessage) { self.offsets.append(message.offset) }
    }

    func publish(_ hub: TopicHub, count: Int, every step: TimeAmount = .seconds(1), from start: NIODeadline = .uptimeNanoseconds(0)) {
        for index in 0..<count {
            hub.publish(topic: "metrics", data: ByteBuffer(string: "\(index)"), now: start + .nanoseconds(step.nanoseconds * Int64(index)))
        }
    }

    @Test func resumingInsideTheWindowReplaysExactlyTheMissedMessages() {
        // Ten messages published; a client that saw up to offset 6 gets 7, 8, 9, 10 back.
        let hub = TopicHub(epoch: 9)
        self.publish(hub, count: 10)
        let sink = Sink()
        let resumption = hub.subscribe(sink, to: "metrics", resumingFrom: StreamCursor(epoch: 9, offset: 6), now: .uptimeNanoseconds(10_000_000_000))
        #expect(resumption.recovered)
        #expect(resumption.replay.map(\.offset) == [7, 8, 9, 10])
        #expect(resumption.state == TopicHub.StreamState(epoch: 9, next: 11))
        // Live messages continue after the replay, with nothing in between.
        hub.publish(topic: "metrics", data: ByteBuffer(string: "x"))
        #expect(sink.offsets == [11])
    }

    @Test func aCaughtUpClientGetsNothingAndIsRecovered() {
        let hub = TopicHub(epoch: 9)
        self.publish(hub, count: 3)
        let resumption = hub.resume("metrics", from: StreamCursor(epoch: 9, offset: 3), limit: nil, now: nil)
        #expect(resumption.recovered)
        #expect(resumption.replay.isEmpty)
    }

    @Test func beyondTheCountLimitGivesASnapshotAndNotRecovered() {
        // The window keeps 5 messages: offsets 6...10. A client at offset 2 missed 3...5 for good.
        let hub = TopicHub(epoch: 9, window: ReplayWindow(maxMessages: 5, maxAge: .hours(1)))
        self.publish(hub, count: 10)
        #expect(hub.retainedRange("metrics") == 6...10)
        let resumption = hub.resume("metrics", from: StreamCursor(epoch: 9, offset: 2), limit: nil, now: nil)
        #expect(!resumption.recovered)
        #expect(resumption.replay.map(\.offset) == [10])  // the latest state
        // One message before the window's start is still recoverable.
        #expect(hub.resume("metrics", from: StreamCursor(epoch: 9, offset: 5), limit: nil, now: nil).recovered)
    }

    @Test func beyondTheAgeLimitGivesASnapshot() {
        // One message a second, a 2-minute window, asked at 200 s: offsets 1...79 have expired.
        let hub = TopicHub(epoch: 9)
        self.publish(hub, count: 200)
        let now = NIODeadline.uptimeNanoseconds(200_000_000_000)
        #expect(!hub.resume("metrics", from: StreamCursor(epoch: 9, offset: 10), limit: nil, now: now).recovered)
        let inside = hub.resume("metrics", from: StreamCursor(epoch: 9, offset: 150), limit: nil, now: now)
        #expect(inside.recovered)
        #expect(inside.replay.first?.offset == 151)
        #expect(inside.replay.count == 50)
    }

    @Test func anotherEpochIsNeverResumedSilently() {
        // A cursor from before a server restart (another epoch): not recovered, and the new
        // epoch from its first message while the window holds it (the client saw none of it).
        let hub = TopicHub(epoch: 9)
        self.publish(hub, count: 3)
        let resumption = hub.resume("metrics", from: StreamCursor(epoch: 8, offset: 2), limit: nil, now: nil)
        #expect(!resumption.recovered)
        #expect(resumption.replay.map(\.offset) == [1, 2, 3])
        #expect(resumption.state == TopicHub.StreamState(epoch: 9, next: 4))
        // In batches for Custom Sync, each still not recovered.
        let batch = hub.resume("metrics", from: StreamCursor(epoch: 8, offset: 2), limit: 2, now: nil)
        #expect(!batch.recovered && batch.replay.map(\.offset) == [1, 2] && batch.live == 4)
        // A cursor from the future of this epoch is no better: only the newest message.
        let future = hub.resume("metrics", from: StreamCursor(epoch: 9, offset: 99), limit: nil, now: nil)
        #expect(!future.recovered && future.replay.map(\.offset) == [3])
    }

    @Test func anotherEpochBeyondTheWindowGivesASnapshot() {
        // The new epoch's first messages are gone too: the newest message, as for any cursor
        // outside the window.
        let hub = TopicHub(epoch: 9, window: ReplayWindow(maxMessages: 5, maxAge: .hours(1)))
        self.publish(hub, count: 10)
        let resumption = hub.resume("metrics", from: StreamCursor(epoch: 8, offset: 40), limit: nil, now: nil)
        #expect(!resumption.recovered)
        #expect(resumption.replay.map(\.offset) == [10])
    }

    @Test func limitedResumptionsComeInBatches() {
        // Batches of 4 from offset 0: 1-4, then 5-8, then 9-10, each naming where the next starts.
        let hub = TopicHub(epoch: 9)
        self.publish(hub, count: 10)
        var cursor = StreamCursor(epoch: 9, offset: 0)
        var batches: [[UInt64]] = []
        while true {
            let batch = hub.resume("metrics", from: cursor, limit: 4, now: nil)
            #expect(batch.recovered)
            guard let last = batch.replay.last else { break }
            batches.append(batch.replay.map(\.offset))
            #expect(batch.state.next == last.offset + 1)
            cursor = last.cursor
        }
        #expect(batches == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]])
    }

    @Test func lineBreaksInDataNeverSplitAFrame() {
        // Raw CR/LF (JSON whitespace) become spaces: every frame is one line, as SSE needs.
        let hub = TopicHub(epoch: 1)
        let sink = Sink()
        _ = hub.subscribe(sink, to: "t")
        hub.publish(topic: "t", data: ByteBuffer(string: "{\n\"a\":\r\n1}"))
        let json = hub.resume("t", from: StreamCursor(epoch: 1, offset: 0), limit: nil, now: nil).replay[0].json
        #expect(String(buffer: json) == #"{"type":"message","topic":"t","epoch":1,"offset":1,"data":{ "a":  1}}"#)
        #expect(WireFrame.decode(json) != nil)
    }
}
