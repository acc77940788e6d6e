import CrosswindTransport
import NIOCore
import NIOEmbedded
import Testing

/// An SSE client whose stream the server recycles: on a keep-alive connection it asks again
/// on that connection after the advised retry, naming its last event; the owner sees one
/// uninterrupted stream, unless the continuation cannot pick up where the stream stopped.
@Suite struct SSEClientResumeTests {
    final class Recorder: RealtimeClientDelegate {
        var welcomes: [Welcome] = []
        var offsets: [UInt64] = []
        var closes: [ClientCloseReason] = []
        var heartbeats: [NIODeadline] = []
        var continuations: [NIODeadline] = []
        func realtimeClient(_ client: any RealtimeTransportClient, heartbeatAt time: NIODeadline) {
            self.heartbeats.append(time)
        }
        func realtimeClient(_ client: any RealtimeTransportClient, continuedStreamAt time: NIODeadline) {
            self.continuations.append(time)
        }
        func realtimeClient(_ client: any RealtimeTransportClient, opened welcome: Welcome, at time: NIODeadline) {
            self.welcomes.append(welcome)
        }
        func realtimeClient(_ client: any RealtimeTransportClient, received message: RealtimeMessage, at time: NIODeadline) {
            self.offsets.append(message.offset)
        }
        func realtimeClient(_ client: any RealtimeTransportClient, closed reason: ClientCloseReason, at time: NIODeadline) {
            self.closes.append(reason)
        }
    }

    struct Connection {
        let channel: EmbeddedChannel
        let loop: EmbeddedEventLoop
        let client: SSEClient
        let recorder: Recorder

        /// Everything the client wrote since the last call, as text.
        func sent() throws -> String {
            var text = ""
            while let chunk = try self.channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: chunk) }
            return text
        }

        func receive(_ text: String) throws {
            try self.channel.writeInbound(ByteBuffer(string: text))
        }
    }

    func connect() throws -> Connection {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let recorder = Recorder()
        let client = SSEClient(configuration: SSEClientConfiguration(host: "server", topic: "metrics"), delegate: recorder)
        try client.configure(channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        return Connection(channel: channel, loop: loop, client: client, recorder: recorder)
    }

    /// A response head for a stream; `connection` adds a `Connection` header.
    static func head(version: String = "HTTP/1.1", connection: String? = nil) -> String {
        var text = "\(version) 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
        if let connection { text += "Connection: \(connection)\r\n" }
        return text + "\r\n"
    }

    static func chunk(_ body: String) -> String {
        String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n"
    }

    static func welcome(next: UInt64, epoch: UInt64 = 7, recovered: Bool = true, session: String = "7-1") -> String {
        "event: welcome\ndata: {\"type\":\"welcome\",\"topic\":\"metrics\",\"epoch\":\(epoch),\"next\":\(next),\"recovered\":\(recovered),\"session\":\"\(session)\"}\n\n"
    }

    static func message(_ offset: UInt64, epoch: UInt64 = 7) -> String {
        "id: \(epoch):\(offset)\ndata: {\"type\":\"message\",\"topic\":\"metrics\",\"epoch\":\(epoch),\"offset\":\(offset),\"data\":[\(offset)]}\n\n"
    }

    static let lastChunk = "0\r\n\r\n"

    /// Opens the stream, delivers messages 1 and 2, and ends the response (a recycle) with a
    /// retry advice of 250 ms.
    func openAndRecycle() throws -> Connection {
        let connection = try self.connect()
        #expect(try connection.sent().hasPrefix("GET /events?topic=metrics HTTP/1.1\r\n"))
        try connection.receive(Self.head() + Self.chunk("retry: 250\n\n" + Self.welcome(next: 1) + Self.message(1) + Self.message(2)) + Self.lastChunk)
        #expect(connection.recorder.welcomes.count == 1)
        #expect(connection.recorder.offsets == [1, 2])
        return connection
    }

    @Test func aRecycledStreamContinuesOnTheSameConnectionAfterTheAdvisedRetry() throws {
        let connection = try self.openAndRecycle()
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        #expect(connection.client.isOpen)
        connection.loop.advanceTime(by: .milliseconds(249))
        #expect(try connection.sent().isEmpty)
        connection.loop.advanceTime(by: .milliseconds(1))
        let request = try connection.sent()
        #expect(request.hasPrefix("GET /events?topic=metrics HTTP/1.1\r\n"))
        #expect(request.contains("Last-Event-ID: 7:2\r\n"))
        // The continuation picks up at 3: the owner hears messages, not a second opening.
        try connection.receive(Self.head() + Self.chunk(Self.welcome(next: 3) + Self.message(3)))
        #expect(connection.recorder.welcomes.count == 1)
        #expect(connection.recorder.offsets == [1, 2, 3])
        #expect(connection.recorder.closes.isEmpty)
        #expect(connection.channel.isActive)
    }

    @Test func aContinuedStreamsPreludeIsNoHeartbeatAndItsWelcomeIsReported() throws {
        // The new response opens with the anti-buffering prelude, a comment: it is not the
        // server's heartbeat (whose cadence starts with the new stream). The owner hears that
        // the stream continued when its welcome arrives; comments after that are heartbeats.
        let connection = try self.openAndRecycle()
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        connection.loop.advanceTime(by: .milliseconds(250))
        _ = try connection.sent()
        try connection.receive(Self.head() + Self.chunk(": " + String(repeating: " ", count: 64) + "\n\n"))
        #expect(connection.recorder.heartbeats.isEmpty)
        #expect(connection.recorder.continuations.isEmpty)
        try connection.receive(Self.chunk(Self.welcome(next: 3)))
        #expect(connection.recorder.continuations == [connection.loop.now])
        try connection.receive(Self.chunk(": heartbeat\n\n"))
        #expect(connection.recorder.heartbeats == [connection.loop.now])
        #expect(connection.recorder.welcomes.count == 1)
    }

    @Test func clientMessagesFollowTheContinuedStreamsSession() throws {
        // The server ends a stream's session with the stream: after the continuation, client
        // messages are posted under the session its welcome names.
        let connection = try self.openAndRecycle()
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        let posts = PostChannels()
        posts.attach(to: connection)
        connection.loop.advanceTime(by: .milliseconds(250))
        _ = try connection.sent()
        try connection.receive(Self.head() + Self.chunk(Self.welcome(next: 3, session: "7-2")))
        connection.client.send(sequence: 1, data: ByteBuffer(string: "1"))
        #expect(try posts.requestLines() == ["POST /send?session=7-2 HTTP/1.1"])
    }

    /// Opens a stream under session 7-1 whose POSTs go on channels collected in `posts`.
    func openWithPosts(_ posts: PostChannels) throws -> Connection {
        let connection = try self.connect()
        _ = try connection.sent()
        try connection.receive(Self.head() + Self.chunk("retry: 250\n\n" + Self.welcome(next: 1) + Self.message(1)))
        posts.attach(to: connection)
        return connection
    }

    /// The connections a client's POSTs open, each an embedded channel on its loop.
    final class PostChannels {
        var channels: [EmbeddedChannel] = []

        /// Makes `connection`'s client open its POST connections here.
        func attach(to connection: Connection) {
            connection.client.sideConnector = { [self] initialize in
                let post = EmbeddedChannel(loop: connection.loop)
                self.channels.append(post)
                try? initialize(post)
                _ = post.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 80))
            }
        }

        /// The request line of every POST written so far.
        func requestLines() throws -> [String] {
            try self.channels.map { post in
                var request = ""
                while let chunk = try post.readOutbound(as: ByteBuffer.self) { request += String(buffer: chunk) }
                return String(request.split(separator: "\r\n", maxSplits: 1).first ?? "")
            }
        }

        deinit {
            for post in self.channels { _ = try? post.finish(acceptAlreadyClosed: true) }
        }
    }

    @Test func aPostRefusedForTheEndedSessionGoesAgainUnderTheContinuedOne() throws {
        // The stream is recycled while a POST is out: the server ends session 7-1 with it and
        // answers the POST 404, after the continued stream's welcome named 7-2. The message
        // goes again at once under 7-2, not at the application's next send.
        let posts = PostChannels()
        let connection = try self.openWithPosts(posts)
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        connection.client.send(sequence: 1, data: ByteBuffer(string: "1"))
        try connection.receive(Self.chunk(Self.message(2)) + Self.lastChunk)
        connection.loop.advanceTime(by: .milliseconds(250))
        _ = try connection.sent()
        try connection.receive(Self.head() + Self.chunk(Self.welcome(next: 3, session: "7-2")))
        #expect(posts.channels.count == 1, "one POST in flight at a time")
        try posts.channels[0].writeInbound(ByteBuffer(string: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        #expect(try posts.requestLines() == ["POST /send?session=7-1 HTTP/1.1", "POST /send?session=7-2 HTTP/1.1"])
    }

    @Test func aPostThatFailsIsTriedAgainAfterABackoffStep() throws {
        // The POST's connection fails (a reset, a server error): the message is posted again
        // after 0.5 s, then 1 s, without waiting for another send.
        let posts = PostChannels()
        let connection = try self.openWithPosts(posts)
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        connection.client.send(sequence: 1, data: ByteBuffer(string: "1"))
        try posts.channels[0].writeInbound(ByteBuffer(string: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))
        connection.loop.advanceTime(by: .milliseconds(499))
        #expect(posts.channels.count == 1)
        connection.loop.advanceTime(by: .milliseconds(1))
        try #require(posts.channels.count == 2)
        posts.channels[1].pipeline.fireErrorCaught(ChannelError.ioOnClosedChannel)
        connection.loop.advanceTime(by: .milliseconds(999))
        #expect(posts.channels.count == 2)
        connection.loop.advanceTime(by: .milliseconds(1))
        try #require(posts.channels.count == 3)
        try posts.channels[2].writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 24\r\n\r\n{\"type\":\"ack\",\"seq\":1}"))
        connection.loop.advanceTime(by: .seconds(60))
        #expect(posts.channels.count == 3, "acknowledged: nothing more to post")
    }

    @Test(arguments: [
        ("another epoch", SSEClientResumeTests.welcome(next: 1, epoch: 8)),
        ("not recovered", SSEClientResumeTests.welcome(next: 3, recovered: false)),
        ("a gap", SSEClientResumeTests.welcome(next: 5)),
    ])
    func aContinuationThatCannotPickUpIsALostConnection(label: String, welcome: String) throws {
        let connection = try self.openAndRecycle()
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        connection.loop.advanceTime(by: .milliseconds(250))
        _ = try connection.sent()
        try connection.receive(Self.head() + Self.chunk(welcome))
        #expect(connection.recorder.closes == [.connectionLost], "\(label)")
        #expect(connection.recorder.welcomes.count == 1)
        #expect(!connection.channel.isActive)
    }

    @Test(arguments: [("HTTP/1.1", "close"), ("HTTP/1.0", nil)] as [(String, String?)])
    func aResponseThatEndsTheConnectionIsALostConnectionAtOnce(version: String, connectionHeader: String?) throws {
        let connection = try self.connect()
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        _ = try connection.sent()
        // HTTP/1.0 has no chunks: the body runs to the end of the connection.
        let body = Self.welcome(next: 1) + Self.message(1)
        if version == "HTTP/1.0" {
            try connection.receive("HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + body)
            connection.channel.pipeline.fireChannelInactive()
        } else {
            try connection.receive(Self.head(connection: connectionHeader) + Self.chunk(body) + Self.lastChunk)
        }
        #expect(connection.recorder.offsets == [1])
        #expect(connection.recorder.closes == [.connectionLost])
        connection.loop.advanceTime(by: .seconds(2))
        #expect(try connection.sent().isEmpty)
    }

    @Test func theConnectionClosingWhileWaitingIsALostConnection() throws {
        let connection = try self.openAndRecycle()
        defer { _ = try? connection.channel.finish(acceptAlreadyClosed: true) }
        try connection.channel.close().wait()
        #expect(connection.recorder.closes == [.connectionLost])
        connection.loop.advanceTime(by: .seconds(1))
        #expect(try connection.sent().isEmpty)
    }
}
