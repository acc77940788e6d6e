import Foundation
import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// Server nodes that follow one log (``TopicHub/append(_:now:)``) and share a session table: a
/// Custom Sync poll and a client POST answered by another node than the one that served the
/// client before.
@Suite struct SharedLogTests {
    /// A log and two node hubs following it, sharing `sessions` (nil: each its own table).
    static func nodes(sharing sessions: (any ClientSessionStore)?) -> (log: TopicHub, a: TopicHub, b: TopicHub) {
        let log = TopicHub(epoch: 77)
        let a = TopicHub(epoch: 77, sessions: sessions)
        let b = TopicHub(epoch: 77, sessions: sessions)
        return (log, a, b)
    }

    static func publish(_ count: Int, into log: TopicHub, following nodes: [TopicHub]) {
        for index in 0..<count {
            let message = log.publishMessage(topic: "metrics", data: ByteBuffer(string: "\(index)"))
            for node in nodes { node.append(message) }
        }
    }

    /// One request to `hub` on a fresh connection, closed afterwards unless `keep` takes it
    /// (a poll connection's session lives as long as it); the response's status line and body.
    static func request(_ hub: TopicHub, _ text: String, keep: ((EmbeddedChannel) -> Void)? = nil) throws -> (status: String, body: String) {
        let channel = EmbeddedChannel()
        if let keep {
            keep(channel)
        }
        defer { if keep == nil { _ = try? channel.finish(acceptAlreadyClosed: true) } }
        try WebSocketServer.configure(channel, hub: hub)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        try channel.writeInbound(ByteBuffer(string: text))
        let response = try #require(HTTPEndpointTests.responses(try HTTPEndpointTests.output(channel)).first)
        return (response.statusLine, response.body)
    }

    static func poll(_ hub: TopicHub, since: String?, keep: ((EmbeddedChannel) -> Void)? = nil) throws -> (status: String, body: String) {
        let query = since.map { "&since=\($0)" } ?? ""
        return try request(hub, "GET /sync?topic=metrics&client=c1\(query) HTTP/1.1\r\nHost: app\r\n\r\n", keep: keep)
    }

    static func post(_ hub: TopicHub, session: String, sequence: Int) throws -> (status: String, body: String) {
        let body = "{\"type\":\"send\",\"messages\":[{\"seq\":\(sequence),\"data\":\"hi\"}]}"
        return try request(
            hub,
            "POST /send?session=\(session) HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
    }

    static func field(_ name: String, in body: String) -> String? {
        guard let range = body.range(of: "\"\(name)\":\"") else { return nil }
        return String(body[range.upperBound...].prefix { $0 != "\"" })
    }

    @Test func aPollServedByAnotherNodeReturnsWhatFollowsTheCursor() throws {
        let (log, a, b) = Self.nodes(sharing: LoopConfinedSessionStore(epoch: 77))
        Self.publish(5, into: log, following: [a, b])
        // The client's first poll lands on node a and takes offsets 1...5.
        let first = try Self.poll(a, since: nil)
        #expect(first.status == "HTTP/1.1 200 OK")
        #expect(Self.field("cursor", in: first.body) == "77:5")
        Self.publish(3, into: log, following: [a, b])
        // Its next poll lands on node b, which never saw it: the cursor is all b needs.
        let second = try Self.poll(b, since: "77:5")
        #expect(second.status == "HTTP/1.1 200 OK")
        #expect(second.body.contains("\"recovered\":true"))
        #expect(Self.field("cursor", in: second.body) == "77:8")
        let offsets = second.body.split(separator: "\"offset\":").dropFirst().map { $0.prefix { $0.isNumber } }
        #expect(offsets == ["6", "7", "8"])
    }

    @Test func aNodeThatStartsLateCatchesUpWithTheLog() throws {
        let (log, a, _) = Self.nodes(sharing: nil)
        Self.publish(4, into: log, following: [a])
        let late = TopicHub(epoch: 77)
        late.catchUp(with: log)
        #expect(late.state(of: "metrics") == a.state(of: "metrics"))
        let poll = try Self.poll(late, since: "77:2")
        #expect(poll.body.contains("\"recovered\":true"))
        #expect(Self.field("cursor", in: poll.body) == "77:4")
    }

    @Test func aPostNamingAnotherNodesSessionIsAcceptedOnceWithASharedTable() throws {
        let (log, a, b) = Self.nodes(sharing: LoopConfinedSessionStore(epoch: 77))
        Self.publish(1, into: log, following: [a, b])
        // The client's poll connection to a stays open: its session lives as long as it.
        var pollConnection: EmbeddedChannel?
        defer { _ = try? pollConnection?.finish(acceptAlreadyClosed: true) }
        let session = try #require(Self.field("session", in: try Self.poll(a, since: nil) { pollConnection = $0 }.body))
        // The POST lands on b; its resend (the acknowledgement was lost) on a.
        #expect(try Self.post(b, session: session, sequence: 1).body == "{\"type\":\"ack\",\"seq\":1}")
        #expect(try Self.post(a, session: session, sequence: 1).body == "{\"type\":\"ack\",\"seq\":1}")
        #expect(a.clientMessagesAccepted + b.clientMessagesAccepted == 1)
        #expect(a.clientMessagesDuplicated == 1)
    }

    @Test func aNodeWithASessionTableOfItsOwnRefusesAnotherNodesSession() throws {
        // Without a shared table, the classic failure of a balancer without affinity.
        let (log, a, b) = Self.nodes(sharing: nil)
        Self.publish(1, into: log, following: [a, b])
        var pollConnection: EmbeddedChannel?
        defer { _ = try? pollConnection?.finish(acceptAlreadyClosed: true) }
        let session = try #require(Self.field("session", in: try Self.poll(a, since: nil) { pollConnection = $0 }.body))
        #expect(try Self.post(a, session: session, sequence: 1).status == "HTTP/1.1 200 OK")
        let refused = try Self.post(b, session: session, sequence: 1)
        #expect(refused.status == "HTTP/1.1 404 Not Found")
    }
}
