import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// One SSE stream carrying several topics: the cursor format, the server's stream (a welcome
/// per topic, events whose id names every topic's position, resume per topic), the refusals of
/// bad input, and the client that delivers each topic once and in order.
@Suite struct MultiplexedStreamTests {
    typealias Support = HTTPEndpointTests

    // MARK: The cursor format

    @Test func cursorsRoundTripInOrder() throws {
        let cursors = try TopicCursors.parse("prices@42:17,orders@42:9,alerts@42:0").get()
        #expect(cursors.entries.map(\.topic) == ["prices", "orders", "alerts"])
        #expect(cursors["orders"] == StreamCursor(epoch: 42, offset: 9))
        #expect(cursors["news"] == nil)
        #expect(cursors.description == "prices@42:17,orders@42:9,alerts@42:0")
    }

    @Test(arguments: [
        ("", "malformed cursor"), ("prices", "malformed cursor"), ("prices@42", "malformed cursor"),
        ("prices@42:x", "malformed cursor"), ("@42:1", "malformed topic"), ("a/b@42:1", "malformed topic"),
        ("prices@42:1,", "malformed cursor"), ("prices@42:1,prices@42:2", "two cursors"),
    ])
    func malformedCursorsAreRefusedWithAReason(text: String, reason: String) {
        guard case .failure(let problem) = TopicCursors.parse(text[...]) else {
            Issue.record("'\(text)' parsed")
            return
        }
        #expect(problem.description.contains(reason))
    }

    @Test func topicListsAreValidatedNamesWithoutRepeats() throws {
        #expect(try parseTopicList("prices,orders").get() == ["prices", "orders"])
        for bad in ["", "prices,", ",prices", "prices,,orders", "a b", "prices,prices"] {
            guard case .failure = parseTopicList(bad[...]) else {
                Issue.record("'\(bad)' accepted")
                continue
            }
        }
        let tooMany = (0...TopicCursors.maxTopics).map { "t\($0)" }.joined(separator: ",")
        guard case .failure = parseTopicList(tooMany[...]) else {
            Issue.record("\(TopicCursors.maxTopics + 1) topics accepted")
            return
        }
    }

    // MARK: The server's stream

    /// Sends `request` on a fresh server channel after publishing `count` messages on each of
    /// prices and orders; returns the channel, the hub and the response so far.
    func open(_ request: String, publish count: Int = 0) throws -> (EmbeddedChannel, TopicHub, String) {
        let (channel, hub) = try Support.serverChannel()
        for index in 0..<count {
            hub.publish(topic: "prices", data: ByteBuffer(string: "\(index + 1)"))
            hub.publish(topic: "orders", data: ByteBuffer(string: "\(index + 1)"))
        }
        try channel.writeInbound(ByteBuffer(string: request))
        return (channel, hub, String(decoding: try Support.output(channel), as: UTF8.self))
    }

    @Test func aStreamWelcomesEveryTopicAndIdsNameEveryPosition() throws {
        let (channel, hub, text) = try self.open("GET /events?topics=prices,orders HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let pricesWelcome = "event: welcome\ndata: {\"type\":\"welcome\",\"topic\":\"prices\",\"epoch\":1234,\"next\":1,\"recovered\":true,\"live\":1,\"session\":\"1234-1\"}\n\n"
        let ordersWelcome = "event: welcome\ndata: {\"type\":\"welcome\",\"topic\":\"orders\",\"epoch\":1234,\"next\":1,\"recovered\":true,\"live\":1,\"session\":\"1234-1\"}\n\n"
        #expect(text.contains(pricesWelcome + ordersWelcome))
        hub.publish(topic: "orders", data: ByteBuffer(string: "[1]"))
        hub.publish(topic: "news", data: ByteBuffer(string: "[0]"))  // not asked for
        hub.publish(topic: "prices", data: ByteBuffer(string: "[2]"))
        let live = String(decoding: try Support.output(channel), as: UTF8.self)
        #expect(live.contains("id: prices@1234:0,orders@1234:1\ndata: {\"type\":\"message\",\"topic\":\"orders\",\"epoch\":1234,\"offset\":1,\"data\":[1]}\n\n"))
        #expect(live.contains("id: prices@1234:1,orders@1234:1\ndata: {\"type\":\"message\",\"topic\":\"prices\",\"epoch\":1234,\"offset\":1,\"data\":[2]}\n\n"))
        #expect(!live.contains("news"))
    }

    @Test func lastEventIDResumesEachTopicFromItsOwnPosition() throws {
        let (channel, _, text) = try self.open(
            "GET /events?topics=prices,orders HTTP/1.1\r\nHost: s\r\nLast-Event-ID: prices@1234:3,orders@1234:1\r\n\r\n", publish: 4
        )
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.contains("\"topic\":\"prices\",\"epoch\":1234,\"next\":4,\"recovered\":true"))
        #expect(text.contains("\"topic\":\"orders\",\"epoch\":1234,\"next\":2,\"recovered\":true"))
        // prices 4; orders 2, 3, 4: each event's id is every position after it.
        #expect(text.contains("id: prices@1234:4,orders@1234:1\n"))
        #expect(text.contains("id: prices@1234:4,orders@1234:2\n"))
        #expect(text.contains("id: prices@1234:4,orders@1234:4\n"))
        #expect(!text.contains("\"topic\":\"prices\",\"epoch\":1234,\"offset\":3"))
        #expect(!text.contains("\"topic\":\"orders\",\"epoch\":1234,\"offset\":1,"))
    }

    @Test func aTopicWithoutACursorStartsLiveAndAnotherEpochStartsOver() throws {
        // A cursor of another epoch (a restart): this epoch from its first message, not recovered.
        let (channel, _, text) = try self.open(
            "GET /events?topics=prices,orders HTTP/1.1\r\nHost: s\r\nLast-Event-ID: orders@77:1\r\n\r\n", publish: 3
        )
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.contains("\"topic\":\"prices\",\"epoch\":1234,\"next\":4,\"recovered\":true"))
        #expect(text.contains("\"topic\":\"orders\",\"epoch\":1234,\"next\":1,\"recovered\":false"))
    }

    @Test(arguments: [
        ("/events?topics=", "Last-Event-ID: x", "malformed topic"),
        ("/events?topics=prices,,orders", "", "malformed topic"),
        ("/events?topics=prices,prices", "", "listed twice"),
        ("/events?topics=prices&topic=prices", "", "either topic or topics"),
        ("/events?topics=prices,orders", "Last-Event-ID: 1234:2", "expected TOPIC@EPOCH:OFFSET"),
        ("/events?topics=prices,orders", "Last-Event-ID: prices@1234:2,prices@1234:3", "two cursors"),
        ("/events?topics=prices,orders", "Last-Event-ID: news@1234:2", "which topics does not list"),
        ("/events?topics=prices,orders&cursor=prices@x:1", "", "malformed cursor"),
    ])
    func badTopicListsAndCursorsAre400(target: String, header: String, reason: String) throws {
        let headers = header.isEmpty ? "" : header + "\r\n"
        let (channel, _, text) = try self.open("GET \(target) HTTP/1.1\r\nHost: s\r\n\(headers)\r\n")
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(target) \(header)")
        #expect(text.contains(reason), "\(target) \(header): \(text)")
    }

    // MARK: The client

    final class Recorder: RealtimeClientDelegate {
        var welcomes: [String] = []
        var messages: [String] = []
        var closes: [ClientCloseReason] = []
        func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
            self.welcomes.append(welcome.topic)
        }
        func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
            self.messages.append("\(message.topic)@\(message.offset)")
        }
        func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
            self.closes.append(reason)
        }
    }

    static func welcome(_ topic: String, next: UInt64, recovered: Bool = true) -> String {
        "event: welcome\ndata: {\"type\":\"welcome\",\"topic\":\"\(topic)\",\"epoch\":7,\"next\":\(next),\"recovered\":\(recovered),\"session\":\"7-1\"}\n\n"
    }

    static func message(_ topic: String, _ offset: UInt64) -> String {
        "id: x\ndata: {\"type\":\"message\",\"topic\":\"\(topic)\",\"epoch\":7,\"offset\":\(offset),\"data\":[\(offset)]}\n\n"
    }

    static func chunk(_ body: String) -> String {
        String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n"
    }

    static let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    func connect(resumeFrom: TopicCursors = TopicCursors()) throws -> (EmbeddedChannel, EmbeddedEventLoop, SSEClient, Recorder) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let recorder = Recorder()
        var configuration = SSEClientConfiguration(host: "server", topic: "prices")
        configuration.topics = ["prices", "orders"]
        configuration.resumeFromEach = resumeFrom
        let client = SSEClient(configuration: configuration, delegate: recorder)
        try client.configure(channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        return (channel, loop, client, recorder)
    }

    static func sent(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: chunk) }
        return text
    }

    @Test func theClientOpensOnTheLastWelcomeAndDeliversEachTopicOnceInOrder() throws {
        let (channel, _, client, recorder) = try self.connect(resumeFrom: try TopicCursors.parse("orders@7:4").get())
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let request = try Self.sent(channel)
        #expect(request.hasPrefix("GET /events?topics=prices,orders HTTP/1.1\r\n"))
        #expect(request.contains("Last-Event-ID: orders@7:4\r\n"))
        try channel.writeInbound(ByteBuffer(string: Self.head + Self.chunk(Self.welcome("prices", next: 1))))
        #expect(!client.isOpen)
        try channel.writeInbound(ByteBuffer(string: Self.chunk(
            Self.welcome("orders", next: 5) + Self.message("orders", 5) + Self.message("prices", 1) + Self.message("orders", 5)
                + Self.message("prices", 2) + Self.message("orders", 6)
        )))
        #expect(client.isOpen)
        #expect(recorder.welcomes == ["prices", "orders"])
        // The repeated orders@5 is a duplicate of its own topic, not of prices.
        #expect(recorder.messages == ["orders@5", "prices@1", "prices@2", "orders@6"])
        #expect(client.lastCursors.description == "prices@7:2,orders@7:6")
    }

    @Test(arguments: [
        (welcome("news", next: 1), "bad welcome"),
        (welcome("prices", next: 1) + welcome("prices", next: 1), "bad welcome"),
        (welcome("prices", next: 1) + message("prices", 1), "message before every welcome"),
    ])
    func aStreamThatBreaksTheProtocolIsClosed(body: String, reason: String) throws {
        let (channel, _, client, recorder) = try self.connect()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.writeInbound(ByteBuffer(string: Self.head + Self.chunk(body)))
        #expect(!client.isOpen)
        #expect(recorder.closes == [.protocolViolation(reason)])
    }

    @Test func aMessageOfATopicNotAskedForIsAProtocolViolation() throws {
        let (channel, _, _, recorder) = try self.connect()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.writeInbound(ByteBuffer(string: Self.head + Self.chunk(
            Self.welcome("prices", next: 1) + Self.welcome("orders", next: 1) + Self.message("news", 1)
        )))
        #expect(recorder.closes == [.protocolViolation("message of topic 'news', not subscribed")])
    }

    @Test func aRecycledStreamContinuesEveryTopicOnTheSameConnection() throws {
        let (channel, loop, client, recorder) = try self.connect()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        _ = try Self.sent(channel)
        try channel.writeInbound(ByteBuffer(string: Self.head + Self.chunk(
            "retry: 100\n\n" + Self.welcome("prices", next: 1) + Self.welcome("orders", next: 1) + Self.message("prices", 1)
        ) + "0\r\n\r\n"))
        loop.advanceTime(by: .milliseconds(100))
        #expect(try Self.sent(channel).contains("Last-Event-ID: prices@7:1,orders@7:0\r\n"))
        try channel.writeInbound(ByteBuffer(string: Self.head + Self.chunk(
            Self.welcome("prices", next: 2) + Self.welcome("orders", next: 1) + Self.message("orders", 1)
        )))
        #expect(client.isOpen)
        #expect(recorder.welcomes == ["prices", "orders"])
        #expect(recorder.messages == ["prices@1", "orders@1"])
        #expect(recorder.closes.isEmpty)
    }
}

/// One WebSocket carrying several topics: a welcome per topic, each topic resumed from its own
/// cursor, each delivered once and in order, and refusals of bad input.
@Suite struct MultiplexedWebSocketTests {
    @Test func oneConnectionWelcomesEveryTopicAndDeliversEachOnceInOrder() throws {
        let pair = try WebSocketPair(epoch: 5, topics: ["prices", "orders"], resumeFromEach: try TopicCursors.parse("orders@5:1").get())
        defer { pair.shutdown() }
        pair.hub.publish(topic: "orders", data: ByteBuffer(string: "1"))
        pair.hub.publish(topic: "orders", data: ByteBuffer(string: "2"))
        try pair.connect()
        // The request names every topic and the one cursor it has.
        #expect(String(decoding: pair.clientBytes, as: UTF8.self).hasPrefix("GET /ws?topics=prices,orders&cursor=orders@5:1 HTTP/1.1\r\n"))
        #expect(pair.delegate.opened == [Welcome(topic: "prices", epoch: 5, next: 1, live: 1), Welcome(topic: "orders", epoch: 5, next: 2, live: 3)])
        #expect(pair.hub.subscriberCount("prices") == 1 && pair.hub.subscriberCount("orders") == 1)
        pair.hub.publish(topic: "prices", data: ByteBuffer(string: "3"))
        pair.hub.publish(topic: "news", data: ByteBuffer(string: "0"))
        pair.hub.publish(topic: "orders", data: ByteBuffer(string: "4"))
        try pair.pump()
        #expect(pair.delegate.messages.map { "\($0.topic)@\($0.offset)" } == ["orders@2", "prices@1", "orders@3"])
        #expect(pair.webSocketClient.lastCursors.description == "prices@5:1,orders@5:3")
        try pair.finish()
        #expect(pair.hub.subscriberCount("prices") == 0 && pair.hub.subscriberCount("orders") == 0)
    }

    @Test(arguments: [
        ("/ws?topics=prices,prices", "listed twice"),
        ("/ws?topics=prices&topic=prices", "either topic or topics"),
        ("/ws?topics=prices&cursor=orders@1:1", "which topics does not list"),
        ("/ws?topics=prices&cursor=prices@1", "expected TOPIC@EPOCH:OFFSET"),
    ])
    func badUpgradesAre400WithAReason(target: String, reason: String) throws {
        let request = "GET \(target) HTTP/1.1\r\nHost: s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let (responses, _) = try HTTPEndpointTests.exchange(request)
        let response = try #require(responses.first)
        #expect(response.statusLine == "HTTP/1.1 400 Bad Request")
        #expect(response.body.contains(reason), "\(response.body)")
    }
}
