import CrosswindTransport
import NIOCore
import Testing

/// The server's topic streams and fan-out, topic-name validation and query parsing.
@Suite struct TopicHubTests {
    /// The answer buffer is reused when nobody else holds it, and never overwrites bytes that
    /// somebody still holds; a large one is not kept.
    @Test func theAnswerBufferIsReusedOnlyWhenFree() {
        let hub = TopicHub(epoch: 1)
        func address(_ buffer: ByteBuffer) -> UInt { buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }

        var first = hub.takeAnswerBuffer(capacity: 1500)
        first.writeString("first answer")
        let firstAddress = address(first)
        hub.returnAnswerBuffer(first)
        first = ByteBuffer()
        var second = hub.takeAnswerBuffer(capacity: 1500)
        #expect(second.readableBytes == 0)
        second.writeString("second answer")
        #expect(address(second) == firstAddress, "a free buffer was not reused")

        // A pending write still holds it: the next answer gets storage of its own.
        let held = second
        hub.returnAnswerBuffer(second)
        var third = hub.takeAnswerBuffer(capacity: 1500)
        third.writeString("third answer")
        #expect(String(buffer: held) == "second answer")
        #expect(address(third) != address(held))

        var large = hub.takeAnswerBuffer(capacity: 100_000)
        large.writeRepeatingByte(0x78, count: 100_000)
        let largeAddress = address(large)
        hub.returnAnswerBuffer(large)
        large = ByteBuffer()
        let afterLarge = hub.takeAnswerBuffer(capacity: 16)
        #expect(afterLarge.capacity < 100_000, "a buffer over 64 KiB was kept (address \(largeAddress))")
    }

    /// Records every buffer handed to it.
    final class Recorder: TopicSubscriber {
        var received: [ByteBuffer] = []
        func deliver(_ message: PublishedMessage) { self.received.append(message.json) }
        var texts: [String] { self.received.map { String(buffer: $0) } }
    }

    /// A stream position as [epoch, next] (StreamState has no public initializer).
    func position(_ state: TopicHub.StreamState) -> [UInt64] { [state.epoch, state.next] }

    @Test func offsetsStartAtOneAndIncreasePerTopic() {
        // A fresh topic is at (epoch, next 1); each publish returns the next offset; topics
        // count independently; publishedCount counts all.
        let hub = TopicHub(epoch: 77)
        #expect(hub.epoch == 77)
        #expect(position(hub.state(of: "a")) == [77, 1])
        #expect(hub.publish(topic: "a", data: ByteBuffer(string: "1")) == 1)
        #expect(hub.publish(topic: "a", data: ByteBuffer(string: "2")) == 2)
        #expect(hub.publish(topic: "b", data: ByteBuffer(string: "3")) == 1)
        #expect(hub.publish(topic: "a", data: ByteBuffer(string: "4")) == 3)
        #expect(position(hub.state(of: "a")) == [77, 4])
        #expect(position(hub.state(of: "b")) == [77, 2])
        #expect(position(hub.state(of: "c")) == [77, 1])
        #expect(hub.publishedCount == 4)
    }

    @Test func subscribersReceiveTheSameEncodedBuffer() throws {
        // Two subscribers of one topic get byte-identical frames sharing one storage (encoded
        // once), equal to WireFrame's encoding; a subscriber of another topic gets nothing.
        let hub = TopicHub(epoch: 5)
        let first = Recorder()
        let second = Recorder()
        let elsewhere = Recorder()
        #expect(position(hub.subscribe(first, to: "metrics")) == [5, 1])
        _ = hub.subscribe(second, to: "metrics")
        _ = hub.subscribe(elsewhere, to: "logs")
        #expect(hub.subscriberCount("metrics") == 2)
        #expect(hub.subscriberCount("logs") == 1)

        hub.publish(topic: "metrics", data: ByteBuffer(string: #"{"cpu":1}"#))
        hub.publish(topic: "metrics", data: ByteBuffer(string: "[2]"))
        #expect(first.texts == [
            #"{"type":"message","topic":"metrics","epoch":5,"offset":1,"data":{"cpu":1}}"#,
            #"{"type":"message","topic":"metrics","epoch":5,"offset":2,"data":[2]}"#,
        ])
        #expect(second.received == first.received)
        #expect(elsewhere.received.isEmpty)
        let a = first.received[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let b = second.received[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(a == b && a != 0)
        let expected = WireFrame.encodeMessage(
            topic: "metrics", epoch: 5, offset: 2, data: ByteBuffer(string: "[2]"), allocator: ByteBufferAllocator()
        )
        #expect(first.received[1] == expected)
    }

    @Test func hubsSharingASessionStoreRecogniseEachOthersSessions() throws {
        // A server with one hub per event loop passes them one store: a session opened on one
        // hub (the stream's connection) is named by a POST handled by another, and a resend
        // through either is recognised by the client's number.
        let store = LoopConfinedSessionStore(epoch: 9)
        let streamLoop = TopicHub(epoch: 9, sessions: store)
        let postLoop = TopicHub(epoch: 9, sessions: store)
        var handled: [UInt64] = []
        postLoop.onClientMessage = { handled.append($0.sequence) }
        let session = streamLoop.openSession(client: "office-1", topic: "metrics")
        #expect(session == "9-1")
        #expect(postLoop.openSession(client: nil, topic: "metrics") == "9-2")
        #expect(postLoop.receive(session: session, sequence: 1, data: ByteBuffer(string: "1")) == .accepted(acknowledged: 1))
        #expect(streamLoop.receive(session: session, sequence: 1, data: ByteBuffer(string: "1")) == .duplicate(acknowledged: 1))
        #expect(streamLoop.acknowledged(client: "office-1") == 1)
        #expect(handled == [1])
        streamLoop.closeSession(session)
        #expect(postLoop.receive(session: session, sequence: 2, data: ByteBuffer(string: "2")) == .unknownSession)
        // A hub without a store of its own keeps its sessions to itself.
        let alone = TopicHub(epoch: 9)
        #expect(alone.receive(session: "9-2", sequence: 1, data: ByteBuffer(string: "1")) == .unknownSession)
    }

    @Test func lateSubscriberStartsAtTheCurrentPosition() {
        // Subscribing after three publishes reports next 4 and receives only later messages.
        let hub = TopicHub(epoch: 1)
        for value in 1...3 { hub.publish(topic: "t", data: ByteBuffer(string: "\(value)")) }
        let late = Recorder()
        #expect(position(hub.subscribe(late, to: "t")) == [1, 4])
        hub.publish(topic: "t", data: ByteBuffer(string: "4"))
        #expect(late.texts == [#"{"type":"message","topic":"t","epoch":1,"offset":4,"data":4}"#])
    }

    @Test func unsubscribeStopsDelivery() {
        // After unsubscribing, one subscriber hears nothing more while the other still does;
        // unsubscribing twice, or from an unknown topic, is harmless.
        let hub = TopicHub(epoch: 1)
        let leaving = Recorder()
        let staying = Recorder()
        _ = hub.subscribe(leaving, to: "t")
        _ = hub.subscribe(staying, to: "t")
        hub.publish(topic: "t", data: ByteBuffer(string: "1"))
        hub.unsubscribe(leaving, from: "t")
        hub.unsubscribe(leaving, from: "t")
        hub.unsubscribe(leaving, from: "never-created")
        hub.publish(topic: "t", data: ByteBuffer(string: "2"))
        #expect(leaving.received.count == 1)
        #expect(staying.received.count == 2)
        #expect(hub.subscriberCount("t") == 1)
        #expect(hub.subscriberCount("never-created") == 0)
        // Publishing with no subscribers still advances the stream.
        hub.unsubscribe(staying, from: "t")
        #expect(hub.publish(topic: "t", data: ByteBuffer(string: "3")) == 3)
        #expect(staying.received.count == 2)
    }

    @Test(arguments: ["metrics", "a", "Z", "0", "cpu.load_1-min", String(repeating: "x", count: 128)])
    func validTopicNames(name: String) {
        // 1-128 characters from [A-Za-z0-9._-].
        #expect(isValidTopicName(name[...]))
    }

    @Test(arguments: ["", String(repeating: "x", count: 129), "a b", "a/b", "a?b", "a&b", "a%20b", "métrics", "a\nb", "a:b", "*"])
    func invalidTopicNames(name: String) {
        // Empty, too long, or any other character.
        #expect(!isValidTopicName(name[...]))
    }

    /// A query parsing case: the request target, expected path and parameters.
    struct QueryCase: Sendable, CustomTestStringConvertible {
        var uri: String
        var path: String
        var parameters: [[String]]
        var testDescription: String { self.uri }
    }

    @Test(arguments: [
        QueryCase(uri: "/ws", path: "/ws", parameters: []),
        QueryCase(uri: "/ws?", path: "/ws", parameters: []),
        QueryCase(uri: "/ws?topic=metrics&cursor=1:2", path: "/ws", parameters: [["topic", "metrics"], ["cursor", "1:2"]]),
        QueryCase(uri: "/ws?topic=a%20b+c", path: "/ws", parameters: [["topic", "a b c"]]),
        QueryCase(uri: "/q?x=%2B%26%3D%25", path: "/q", parameters: [["x", "+&=%"]]),
        QueryCase(uri: "/q?x=%C3%A9%e2%9c%93", path: "/q", parameters: [["x", "é✓"]]),
        QueryCase(uri: "/q?flag", path: "/q", parameters: [["flag", ""]]),
        QueryCase(uri: "/q?flag=", path: "/q", parameters: [["flag", ""]]),
        QueryCase(uri: "/q?=v", path: "/q", parameters: [["", "v"]]),
        QueryCase(uri: "/q?a=b=c", path: "/q", parameters: [["a", "b=c"]]),
        QueryCase(uri: "/q?a=1&&b=2&", path: "/q", parameters: [["a", "1"], ["b", "2"]]),
        QueryCase(uri: "/q?a=1&a=2", path: "/q", parameters: [["a", "1"], ["a", "2"]]),
        QueryCase(uri: "/q?x=%zz&y=ok", path: "/q", parameters: [["x", ""], ["y", "ok"]]),
        QueryCase(uri: "/q?x=%4", path: "/q", parameters: [["x", ""]]),
        QueryCase(uri: "/q?x=%", path: "/q", parameters: [["x", ""]]),
        QueryCase(uri: "/q?x=%C3", path: "/q", parameters: [["x", ""]]),
        QueryCase(uri: "/q?%zz=1", path: "/q", parameters: [["", "1"]]),
        QueryCase(uri: "/a%20b?x=1", path: "/a%20b", parameters: [["x", "1"]]),
        QueryCase(uri: "/q?x=1?y=2", path: "/q", parameters: [["x", "1?y=2"]]),
    ])
    func queryParameterParsing(testCase: QueryCase) {
        // The path is left as written; names and values are percent-decoded, '+' is a space,
        // a missing '=' gives an empty value and an undecodable escape an empty string.
        let (path, parameters) = queryParameters(of: testCase.uri)
        #expect(path == testCase.path[...])
        #expect(parameters.map { [$0.0, $0.1] } == testCase.parameters)
    }

    @Test(arguments: ["%+5", "%-0", "%+F"])
    func signedPercentEscapesAreInvalid(escape: String) {
        // A percent escape is '%' and two hex digits (RFC 3986 pct-encoded); a sign is not a
        // hex digit, so the value is undecodable and must come back as "". (A parser built on
        // UInt8(_:radix:) would accept the sign: "%+5" as the byte 0x05, "%-0" as 0x00.)
        #expect(queryParameters(of: "/q?x=\(escape)").parameters.first?.1 == "")
    }
}
