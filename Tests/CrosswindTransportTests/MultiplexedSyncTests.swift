import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// Custom Sync for several topics: one poll names every topic and its position (`topics=`,
/// `since=TOPIC@E:O,…`), the batch answers for each topic (epoch, `recovered`, position, live
/// end) with every topic's messages; 304 and long-polls cover all topics; bad lists and cursors
/// get a 400 that says why; the client delivers each topic once and in order.
@Suite struct MultiplexedSyncTests {
    typealias Support = HTTPEndpointTests

    /// Publishes `count` messages on each of prices and orders, then sends `request` on a fresh
    /// server channel; returns the channel, the hub and the response so far.
    func poll(_ request: String, publish count: Int = 0) throws -> (EmbeddedChannel, TopicHub, String) {
        let (channel, hub) = try Support.serverChannel()
        for index in 0..<count {
            hub.publish(topic: "prices", data: ByteBuffer(string: "\(index + 1)"))
            hub.publish(topic: "orders", data: ByteBuffer(string: "\(index + 1)"))
        }
        try channel.writeInbound(ByteBuffer(string: request))
        return (channel, hub, String(decoding: try Support.output(channel), as: UTF8.self))
    }

    static func message(_ topic: String, _ offset: Int) -> String {
        "{\"type\":\"message\",\"topic\":\"\(topic)\",\"epoch\":1234,\"offset\":\(offset),\"data\":\(offset)}"
    }

    @Test func aBatchAnswersForEveryTopicFromItsOwnPosition() throws {
        let (channel, _, text) = try self.poll("GET /sync?topics=prices,orders&since=prices@1234:1 HTTP/1.1\r\nHost: s\r\n\r\n", publish: 3)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("ETag: \"prices@1234:3,orders@1234:3\"\r\n"))
        // prices resumes after 1; orders, without a position, starts live.
        let body = "{\"type\":\"batch\",\"topics\":[{\"topic\":\"prices\",\"epoch\":1234,\"recovered\":true,\"cursor\":\"1234:3\",\"live\":4},"
            + "{\"topic\":\"orders\",\"epoch\":1234,\"recovered\":true,\"cursor\":\"1234:3\",\"live\":4}],"
            + "\"cursor\":\"prices@1234:3,orders@1234:3\",\"session\":\"1234-1\",\"messages\":[\(Self.message("prices", 2)),\(Self.message("prices", 3))]}"
        #expect(text.hasSuffix(body), "\(text)")
    }

    @Test func aCursorOfAnotherEpochIsAnIncompleteResumeOfThatTopicOnly() throws {
        let (channel, _, text) = try self.poll("GET /sync?topics=prices,orders&since=prices@1234:2,orders@77:9 HTTP/1.1\r\nHost: s\r\n\r\n", publish: 3)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.contains("{\"topic\":\"prices\",\"epoch\":1234,\"recovered\":true,\"cursor\":\"1234:3\",\"live\":4}"))
        // The epoch began again since orders@77:9: its whole epoch is still in the window.
        #expect(text.contains("{\"topic\":\"orders\",\"epoch\":1234,\"recovered\":false,\"cursor\":\"1234:3\",\"live\":4}"))
        #expect(text.contains("\"messages\":[\(Self.message("prices", 3)),\(Self.message("orders", 1)),\(Self.message("orders", 2)),\(Self.message("orders", 3))]"))
    }

    @Test func limitCapsEachTopicAndTheLiveEndSaysMoreIsWaiting() throws {
        let (channel, _, text) = try self.poll("GET /sync?topics=prices,orders&since=prices@1234:0,orders@1234:2&limit=1 HTTP/1.1\r\nHost: s\r\n\r\n", publish: 3)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.contains("{\"topic\":\"prices\",\"epoch\":1234,\"recovered\":true,\"cursor\":\"1234:1\",\"live\":4}"))
        #expect(text.contains("{\"topic\":\"orders\",\"epoch\":1234,\"recovered\":true,\"cursor\":\"1234:3\",\"live\":4}"))
        #expect(text.contains("\"messages\":[\(Self.message("prices", 1)),\(Self.message("orders", 3))]"))
    }

    @Test func nothingNewOnAnyTopicIs304AndALongPollWakesOnAnyTopic() throws {
        let etag = "\"prices@1234:2,orders@1234:2\""
        let (channel, hub, text) = try self.poll(
            "GET /sync?topics=prices,orders&since=prices@1234:2,orders@1234:2 HTTP/1.1\r\nHost: s\r\nIf-None-Match: \(etag)\r\n\r\n", publish: 2
        )
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.hasPrefix("HTTP/1.1 304 Not Modified\r\n"), "\(text)")
        try channel.writeInbound(ByteBuffer(string: "GET /sync?topics=prices,orders&since=prices@1234:2,orders@1234:2&wait=5000 HTTP/1.1\r\nHost: s\r\n\r\n"))
        #expect(try Support.output(channel).isEmpty)
        #expect(hub.subscriberCount("prices") == 1 && hub.subscriberCount("orders") == 1)
        hub.publish(topic: "orders", data: ByteBuffer(string: "3"))
        let answer = String(decoding: try Support.output(channel), as: UTF8.self)
        #expect(answer.contains("\"cursor\":\"prices@1234:2,orders@1234:3\""))
        #expect(answer.contains("\"messages\":[\(Self.message("orders", 3))]"))
        #expect(hub.subscriberCount("prices") == 0 && hub.subscriberCount("orders") == 0)
    }

    @Test func theSingleTopicPollIsUnchanged() throws {
        let (channel, _, text) = try self.poll("GET /sync?topic=prices&since=1234:1 HTTP/1.1\r\nHost: s\r\n\r\n", publish: 2)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.contains("ETag: \"1234:2\"\r\n"))
        #expect(text.hasSuffix(
            "{\"type\":\"batch\",\"topic\":\"prices\",\"epoch\":1234,\"recovered\":true,\"cursor\":\"1234:2\",\"live\":3,\"session\":\"1234-1\",\"messages\":[\(Self.message("prices", 2))]}"
        ))
    }

    @Test(arguments: [
        ("/sync?topics=", "malformed topic"),
        ("/sync?topics=prices,,orders", "malformed topic"),
        ("/sync?topics=prices,prices", "listed twice"),
        ("/sync?topics=prices&topic=prices", "either topic or topics"),
        ("/sync?topics=prices,orders&since=1234:2", "expected TOPIC@EPOCH:OFFSET"),
        ("/sync?topics=prices,orders&since=prices@1234:2,prices@1234:3", "two cursors"),
        ("/sync?topics=prices,orders&since=news@1234:2", "which topics does not list"),
        ("/sync?topics=prices,orders&since=prices@x:1", "malformed cursor"),
        ("/sync?topics=prices&limit=0", "limit must be a positive integer"),
    ])
    func badTopicListsAndCursorsAre400(target: String, reason: String) throws {
        let (channel, _, text) = try self.poll("GET \(target) HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(target)")
        #expect(text.contains(reason), "\(target): \(text)")
    }

    // MARK: The client

    typealias Recorder = MultiplexedStreamTests.Recorder

    static func batch(_ topics: [(String, String, Bool)], messages: [(String, Int)]) -> String {
        let entries = topics.map { "{\"topic\":\"\($0.0)\",\"epoch\":7,\"recovered\":\($0.2),\"cursor\":\"7:\($0.1)\",\"live\":\(Int($0.1)! + 1)}" }
        let list = messages.map { "{\"type\":\"message\",\"topic\":\"\($0.0)\",\"epoch\":7,\"offset\":\($0.1),\"data\":\($0.1)}" }
        let cursor = topics.map { "\($0.0)@7:\($0.1)" }.joined(separator: ",")
        let body = "{\"type\":\"batch\",\"topics\":[\(entries.joined(separator: ","))],\"cursor\":\"\(cursor)\",\"messages\":[\(list.joined(separator: ","))]}"
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"\(cursor)\"\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    @Test func theClientWelcomesEveryTopicAndPollsFromEachPosition() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let recorder = Recorder()
        var configuration = SyncClientConfiguration(host: "server", topic: "prices")
        configuration.topics = ["prices", "orders"]
        configuration.resumeFromEach = try TopicCursors.parse("orders@7:4").get()
        configuration.syncInterval = .seconds(1)
        let client = SyncClient(configuration: configuration, random: SystemRandomNumberGenerator(), delegate: recorder)
        try client.configure(channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        #expect(try MultiplexedStreamTests.sent(channel).hasPrefix("GET /sync?topics=prices,orders&limit=50&since=orders@7:4 HTTP/1.1\r\n"))
        // orders replays 5 and 6 (and 4 again, a duplicate); prices starts live at 3.
        try channel.writeInbound(ByteBuffer(string: Self.batch([("prices", "3", true), ("orders", "6", true)], messages: [("orders", 4), ("orders", 5), ("orders", 6)])))
        #expect(recorder.welcomes == ["prices", "orders"])
        #expect(recorder.messages == ["orders@5", "orders@6"])
        #expect(client.lastCursors.description == "prices@7:3,orders@7:6")
        loop.advanceTime(by: .seconds(1))
        let next = try MultiplexedStreamTests.sent(channel)
        #expect(next.hasPrefix("GET /sync?topics=prices,orders&limit=50&since=prices@7:3,orders@7:6 HTTP/1.1\r\n"), "\(next)")
        #expect(next.contains("If-None-Match: \"prices@7:3,orders@7:6\"\r\n"))
        try channel.writeInbound(ByteBuffer(string: Self.batch([("prices", "4", true), ("orders", "6", true)], messages: [("prices", 4), ("news", 1)])))
        #expect(recorder.messages == ["orders@5", "orders@6", "prices@4"])
        #expect(recorder.closes.count == 1)
    }
}
