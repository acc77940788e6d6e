import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// The SSE and Custom Sync endpoints on a server channel, byte for byte, including bad input.
@Suite struct StreamEndpointTests {
    typealias Support = HTTPEndpointTests

    /// Sends a request on a fresh server channel, optionally publishing first; returns the
    /// channel (still open), the hub and everything written so far as text.
    func open(_ request: String, publish count: Int = 0) throws -> (EmbeddedChannel, TopicHub, String) {
        let (channel, hub) = try Support.serverChannel()
        for index in 0..<count { hub.publish(topic: "metrics", data: ByteBuffer(string: "\(index + 1)")) }
        try channel.writeInbound(ByteBuffer(string: request))
        return (channel, hub, String(decoding: try Support.output(channel), as: UTF8.self))
    }

    func close(_ channel: EmbeddedChannel) {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    // MARK: SSE

    @Test func sseStreamOpensWithPreludeRetryAndWelcome() throws {
        let (channel, hub, text) = try self.open("GET /events?topic=metrics HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { self.close(channel) }
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("Content-Type: text/event-stream; charset=utf-8\r\n"))
        #expect(text.contains("transfer-encoding: chunked\r\n"))
        // A 2 KiB comment first, so proxies and browsers flush at once.
        #expect(text.contains(":" + String(repeating: " ", count: 2046) + "\n"))
        #expect(text.contains("retry: 1000\n\n"))
        #expect(text.contains("event: welcome\ndata: {\"type\":\"welcome\",\"topic\":\"metrics\",\"epoch\":1234,\"next\":1,\"recovered\":true,\"live\":1,\"session\":\"1234-1\"}\n\n"))
        // Live messages follow as events whose id is the cursor.
        hub.publish(topic: "metrics", data: ByteBuffer(string: "[1,2]"))
        let live = String(decoding: try Support.output(channel), as: UTF8.self)
        #expect(live.contains("id: 1234:1\ndata: {\"type\":\"message\",\"topic\":\"metrics\",\"epoch\":1234,\"offset\":1,\"data\":[1,2]}\n\n"))
    }

    @Test func aRecycledStreamEndsWithAShortRetry() throws {
        // At its byte budget the server ends the stream, and tells the client first to come
        // back in 100 ms rather than the stream's 1 s: the messages published meanwhile wait
        // for one request, not for a second.
        var configuration = RealtimeServerConfiguration()
        configuration.sseRecycleBytes = 4096
        let hub = TopicHub(epoch: 1234)
        let channel = EmbeddedChannel()
        defer { self.close(channel) }
        try WebSocketServer.configure(channel, hub: hub, configuration: configuration)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET /events?topic=metrics HTTP/1.1\r\nHost: s\r\n\r\n"))
        var text = String(decoding: try Support.output(channel), as: UTF8.self)
        #expect(text.contains("retry: 1000\n\n"))
        #expect(!text.contains("retry: 100\n\n"))
        hub.publish(topic: "metrics", data: ByteBuffer(string: "[\"\(String(repeating: "x", count: 3000))\"]"))
        text = String(decoding: try Support.output(channel), as: UTF8.self)
        #expect(text.contains("id: 1234:1\n"))
        #expect(text.hasSuffix("retry: 100\n\n\r\n0\r\n\r\n"), "\(text.suffix(60).debugDescription)")
        #expect(channel.isActive, "a recycled stream keeps its connection")
    }

    @Test func aStreamWhoseChannelStopsBeingWritableIsClosed() throws {
        // A client that stops reading fills its socket and then the channel's buffer; past
        // the high-water mark the channel announces it is not writable, and the next message
        // closes the stream instead of buffering it (the client resumes with Last-Event-ID).
        let (channel, hub, _) = try self.open("GET /events?topic=metrics HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { self.close(channel) }
        hub.publish(topic: "metrics", data: ByteBuffer(string: "[1]"))
        #expect(String(decoding: try Support.output(channel), as: UTF8.self).contains("id: 1234:1\n"))
        #expect(channel.isActive)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        hub.publish(topic: "metrics", data: ByteBuffer(string: "[2]"))
        #expect(!String(decoding: try Support.output(channel), as: UTF8.self).contains("id: 1234:2\n"))
        #expect(!channel.isActive)
    }

    @Test func lastEventIDResumesWithExactlyTheMissedEvents() throws {
        let (channel, _, text) = try self.open("GET /events?topic=metrics HTTP/1.1\r\nHost: s\r\nLast-Event-ID: 1234:2\r\n\r\n", publish: 4)
        defer { self.close(channel) }
        #expect(text.contains("\"next\":3,\"recovered\":true"))
        #expect(!text.contains("id: 1234:2\n"))
        #expect(text.contains("id: 1234:3\n"))
        #expect(text.contains("id: 1234:4\n"))
    }

    @Test func anIDFromAnotherEpochGetsThisEpochAndNotRecovered() throws {
        // A Last-Event-ID from before a restart: this epoch from its start, marked incomplete.
        let (channel, _, text) = try self.open("GET /events?topic=metrics HTTP/1.1\r\nHost: s\r\nLast-Event-ID: 77:2\r\n\r\n", publish: 3)
        defer { self.close(channel) }
        #expect(text.contains("\"next\":1,\"recovered\":false"))
        for offset in 1...3 { #expect(text.contains("id: 1234:\(offset)\n")) }
    }

    @Test(arguments: ["Last-Event-ID: banana", "Last-Event-ID: 1:-2", "Last-Event-ID: +1:2"])
    func malformedLastEventIDIs400(header: String) throws {
        let (channel, _, text) = try self.open("GET /events?topic=metrics HTTP/1.1\r\nHost: s\r\n\(header)\r\n\r\n")
        defer { self.close(channel) }
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(text.contains("malformed cursor"))
    }

    @Test func sseWithoutAValidTopicIs400() throws {
        let (channel, _, text) = try self.open("GET /events?topic=a%2Fb HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { self.close(channel) }
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    // MARK: Custom Sync

    func syncResponse(_ query: String, headers: String = "", publish: Int = 3) throws -> (status: String, etag: String?, body: String) {
        let (channel, _, text) = try self.open("GET /sync?topic=metrics\(query) HTTP/1.1\r\nHost: s\r\n\(headers)\r\n", publish: publish)
        defer { self.close(channel) }
        let response = try #require(Support.responses(Array(text.utf8)).first)
        let etag = response.head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }.map { String($0.dropFirst(5).drop(while: { $0 == " " })) }
        return (response.statusLine, etag, response.body)
    }

    @Test func firstSyncStartsLive() throws {
        let response = try self.syncResponse("")
        #expect(response.status == "HTTP/1.1 200 OK")
        #expect(response.etag == "\"1234:3\"")
        #expect(response.body == #"{"type":"batch","topic":"metrics","epoch":1234,"recovered":true,"cursor":"1234:3","live":4,"session":"1234-1","messages":[]}"#)
    }

    @Test func syncSinceReturnsTheMissedBatch() throws {
        let response = try self.syncResponse("&since=1234:1")
        #expect(response.etag == "\"1234:3\"")
        #expect(response.body == #"{"type":"batch","topic":"metrics","epoch":1234,"recovered":true,"cursor":"1234:3","live":4,"session":"1234-1","messages":[{"type":"message","topic":"metrics","epoch":1234,"offset":2,"data":2},{"type":"message","topic":"metrics","epoch":1234,"offset":3,"data":3}]}"#)
    }

    @Test func limitCapsTheBatch() throws {
        let response = try self.syncResponse("&since=1234:0&limit=2")
        #expect(response.body.contains(#""cursor":"1234:2""#))
        #expect(response.etag == "\"1234:2\"")
    }

    @Test func nothingNewWithAMatchingETagIs304() throws {
        let response = try self.syncResponse("&since=1234:3", headers: "If-None-Match: \"1234:3\"\r\n")
        #expect(response.status == "HTTP/1.1 304 Not Modified")
        #expect(response.body.isEmpty)
    }

    @Test func anETagFromAnotherEpochNeverMatches() throws {
        // Same offset, other epoch: not 304. The cursor's epoch is stale too, so the client is
        // told it did not recover and gets the snapshot.
        let response = try self.syncResponse("&since=99:3", headers: "If-None-Match: \"99:3\"\r\n")
        #expect(response.status == "HTTP/1.1 200 OK")
        #expect(response.body.contains(#""recovered":false"#))
        #expect(response.body.contains(#""offset":3"#))
    }

    @Test(arguments: ["&since=x", "&since=1234", "&limit=0", "&limit=-3", "&wait=soon", "&wait=-1"])
    func badSyncParametersAre400(query: String) throws {
        let response = try self.syncResponse(query)
        #expect(response.status == "HTTP/1.1 400 Bad Request")
        #expect(response.body.hasPrefix(#"{"type":"error","reason":"#))
    }

    @Test func longPollHoldsUntilAMessageArrives() throws {
        let (channel, hub, text) = try self.open("GET /sync?topic=metrics&since=1234:3&wait=5000 HTTP/1.1\r\nHost: s\r\n\r\n", publish: 3)
        defer { self.close(channel) }
        // Caught up: nothing is written yet, the request is held.
        #expect(text.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        hub.publish(topic: "metrics", data: ByteBuffer(string: "4"))
        let answer = String(decoding: try Support.output(channel), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains(#""cursor":"1234:4","live":5,"session":"1234-1","messages":[{"type":"message","topic":"metrics","epoch":1234,"offset":4,"data":4}]"#))
    }

    @Test func longPollTimesOutWith304() throws {
        let (channel, _, text) = try self.open("GET /sync?topic=metrics&since=1234:3&wait=5000 HTTP/1.1\r\nHost: s\r\nIf-None-Match: \"1234:3\"\r\n\r\n", publish: 3)
        defer { self.close(channel) }
        #expect(text.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4999))
        #expect(try Support.output(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(String(decoding: try Support.output(channel), as: UTF8.self).hasPrefix("HTTP/1.1 304 Not Modified\r\n"))
    }

    @Test func oversizedRequestBodyIs413() throws {
        let body = String(repeating: "x", count: 70_000)
        let (channel, _, text) = try self.open("POST /sync?topic=metrics HTTP/1.1\r\nHost: s\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        defer { self.close(channel) }
        #expect(text.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
    }

    // MARK: Client → server messages

    func post(_ query: String, body: String, on channel: EmbeddedChannel) throws -> HTTPEndpointTests.Response {
        try channel.writeInbound(ByteBuffer(string: "POST /send\(query) HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"))
        return try #require(Support.responses(try Support.output(channel)).first)
    }

    @Test func postedMessagesAreAcknowledgedAndResendsRecognised() throws {
        // A sync request opens the connection's session; messages posted under it reach the
        // hub once, and a resend of message 2 is acknowledged without being handed on again.
        let (channel, hub, _) = try self.open("GET /sync?topic=metrics&client=desk-7 HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { self.close(channel) }
        var received: [ClientMessage] = []
        hub.onClientMessage = { received.append($0) }
        let first = try self.post("?session=1234-1", body: #"{"type":"send","messages":[{"seq":1,"data":"a"},{"seq":2,"data":{"b":2}}]}"#, on: channel)
        #expect(first.statusLine == "HTTP/1.1 200 OK")
        #expect(first.body == #"{"type":"ack","seq":2}"#)
        let again = try self.post("?session=1234-1", body: #"{"type":"send","messages":[{"seq":2,"data":{"b":2}},{"seq":3,"data":3}]}"#, on: channel)
        #expect(again.body == #"{"type":"ack","seq":3}"#)
        #expect(received.map(\.sequence) == [1, 2, 3])
        #expect(received.map(\.client) == ["desk-7", "desk-7", "desk-7"])
        #expect(String(buffer: received[1].data) == #"{"b":2}"#)
        #expect(hub.clientMessagesDuplicated == 1)
    }

    @Test(arguments: [
        ("?session=9-9", #"{"type":"send","messages":[{"seq":1,"data":1}]}"#, "HTTP/1.1 404 Not Found", "unknown session"),
        ("", #"{"type":"send","messages":[{"seq":1,"data":1}]}"#, "HTTP/1.1 400 Bad Request", "session parameter"),
        ("?session=1234-1", #"{"type":"send","messages":[]}"#, "HTTP/1.1 400 Bad Request", "expected"),
        ("?session=1234-1", #"not json"#, "HTTP/1.1 400 Bad Request", "expected"),
        ("?session=1234-1", #"{"type":"send","messages":[{"seq":0,"data":1}]}"#, "HTTP/1.1 400 Bad Request", "positive seq"),
        ("?session=1234-1", #"{"type":"send","messages":[{"seq":1}]}"#, "HTTP/1.1 400 Bad Request", "positive seq"),
    ])
    func badPostsGetClearErrors(query: String, body: String, status: String, reason: String) throws {
        let (channel, hub, _) = try self.open("GET /sync?topic=metrics HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { self.close(channel) }
        let response = try self.post(query, body: body, on: channel)
        #expect(response.statusLine == status)
        #expect(response.body.contains(reason), "\(response.body)")
        #expect(hub.clientMessagesAccepted == 0)
    }

    @Test func getOnTheSendPathIs405() throws {
        let (channel, _, text) = try self.open("GET /send?session=1 HTTP/1.1\r\nHost: s\r\n\r\n")
        defer { self.close(channel) }
        #expect(text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
    }

    @Test func rejectedRequestsAreLogged() throws {
        // Every rejection writes one line: status, request, reason.
        final class Lines: @unchecked Sendable { var lines: [String] = [] }
        let lines = Lines()
        var configuration = RealtimeServerConfiguration()
        configuration.log = { lines.lines.append($0) }
        let hub = TopicHub(epoch: 1234)
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try WebSocketServer.configure(channel, hub: hub, configuration: configuration)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET /sync?topic=metrics&since=oops HTTP/1.1\r\nHost: s\r\n\r\n"))
        let body = #"{"type":"send","messages":[{"seq":1,"data":1}]}"#
        try channel.writeInbound(ByteBuffer(string: "POST /send?session=nope HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"))
        #expect(lines.lines == [
            "400 GET /sync?topic=metrics&since=oops: malformed since cursor 'oops' (expected EPOCH:OFFSET)",
            "404 POST /send?session=nope: unknown session 'nope'",
        ])
    }
}
