import NIOCore
import NIOHTTP1

/// One SSE response on the server: `text/event-stream` with an anti-buffering prelude, the
/// `retry` advice, a `welcome` event, the replay since the client's cursor, then every live
/// message as an event whose `id` is its cursor — so the browser's own `Last-Event-ID`
/// resumes it. Comment heartbeats keep idle streams visibly alive, and the response ends
/// after a byte or time budget so that a proxy that buffers whole responses cannot hold it
/// forever; the client reconnects with its last id and loses nothing.
///
/// A multiplexed stream (`topics=a,b,c`) carries several topics: one `welcome` per topic in
/// the order asked, each topic's replay, then every live message of any of them. Its event
/// `id` is not one message's cursor but the position of every topic after that event
/// (``TopicCursors``), so a `Last-Event-ID` resumes them all; those events are encoded per
/// stream, not shared.
final class SSEServerStream: TopicSubscriber, ActiveResponse {
    private unowned let router: HTTPRouter
    private let context: ChannelHandlerContext
    private let hub: TopicHub
    private let topics: [String]
    /// For a multiplexed stream, the position of each topic (what its event ids say); nil
    /// for a single-topic one.
    private var positions: TopicCursors?
    private let configuration: RealtimeServerConfiguration
    private var startedAt: NIODeadline = .uptimeNanoseconds(0)
    private var bytesSent = 0
    private var heartbeat: Scheduled<Void>?
    /// The end of the stream when its access token expires.
    private var expiry: Scheduled<Void>?
    private var finished = false
    private var session: String?
    /// The request was HTTP/1.0, which has no chunked encoding: the response body is delimited
    /// by the end of the connection (RFC 9112 §6.3), so ending the stream means closing it.
    /// nginx speaks HTTP/1.0 to its upstream unless told otherwise.
    private var endsByClosing = false
    /// The HTTP response encoder's context. Live messages are written below it, already
    /// framed (``PublishedMessage/sseChunk``, framed once per publish for every stream), rather
    /// than through every HTTP handler once per stream: the bytes are the ones NIO's encoder
    /// would write. The head, the prelude, heartbeats and the end still go through it.
    private var encoderContext: ChannelHandlerContext?
    /// The channel's writability, as the router last heard it (`channelWritabilityChanged`):
    /// read per message, where asking the channel costs a pipeline lookup and reference counting.
    var channelIsWritable = true

    /// A stream of `topics`: one (the classic `topic=` stream) unless `multiplexed`.
    init(router: HTTPRouter, context: ChannelHandlerContext, hub: TopicHub, topics: [String], multiplexed: Bool, configuration: RealtimeServerConfiguration) {
        self.router = router
        self.context = context
        self.hub = hub
        self.topics = topics
        self.positions = multiplexed ? TopicCursors() : nil
        self.configuration = configuration
    }

    private var name: String { self.topics.joined(separator: ",") }

    /// Starts the response: `cursors` has the position to resume each topic from (a
    /// single-topic stream's under its one topic).
    func start(head: HTTPRequestHead, cursors: TopicCursors, client: String?) {
        self.session = self.hub.openSession(client: client, topic: self.topics[0])
        self.startedAt = self.context.eventLoop.now
        self.endsByClosing = head.version.major < 1 || (head.version.major == 1 && head.version.minor == 0)
        self.encoderContext = try? self.context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-cache, no-transform")
        headers.add(name: "X-Accel-Buffering", value: "no")
        self.context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)

        var opening = self.context.channel.allocator.buffer(capacity: self.configuration.ssePreludeBytes + 256)
        // The prelude: one comment line padded to the configured size.
        opening.writeStaticString(":")
        opening.writeRepeatingByte(UInt8(ascii: " "), count: max(self.configuration.ssePreludeBytes - 2, 0))
        opening.writeStaticString("\n")
        opening.writeString("retry: \(self.configuration.sseRetry.nanoseconds / 1_000_000)\n\n")
        var replays: [[PublishedMessage]] = []
        for topic in self.topics {
            let resumption = self.hub.subscribe(self, to: topic, resumingFrom: cursors[topic], now: self.startedAt)
            let next = resumption.replay.first?.offset ?? resumption.state.next
            let welcome = Welcome(
                topic: topic, epoch: resumption.state.epoch, next: next, recovered: resumption.recovered, session: self.session,
                live: resumption.live
            )
            opening.writeStaticString("event: welcome\ndata: ")
            var welcomeJSON = WireFrame.encodeWelcome(welcome, allocator: self.context.channel.allocator)
            opening.writeBuffer(&welcomeJSON)
            opening.writeStaticString("\n\n")
            // Before its first message a topic's position is "everything before `next`".
            self.positions?[topic] = StreamCursor(epoch: welcome.epoch, offset: next &- 1)
            replays.append(resumption.replay)
        }
        for replay in replays {
            for message in replay {
                if self.positions != nil {
                    self.writeMultiplexedEvent(message, into: &opening)
                } else {
                    opening.writeImmutableBuffer(message.sseEvent)
                }
            }
        }
        self.write(opening)
        self.context.flush()
        self.scheduleHeartbeat()
    }

    func deliver(_ message: PublishedMessage) {
        guard !self.finished else { return }
        // A client that stopped reading is dropped once its buffer passes the high-water mark;
        // it resumes with Last-Event-ID.
        guard self.channelIsWritable else {
            self.configuration.log?("sse \(self.name): client not reading, stream closed")
            self.cancel()
            self.context.close(promise: nil)
            return
        }
        if self.positions != nil {
            var event = self.context.channel.allocator.buffer(capacity: message.json.readableBytes + 32 * self.topics.count + 16)
            self.writeMultiplexedEvent(message, into: &event)
            self.write(event)
            self.context.flush()
        } else if let encoderContext = self.encoderContext {
            // HTTP/1.0 has no chunks: the body is the events as they are.
            self.bytesSent += message.sseEvent.readableBytes
            encoderContext.write(NIOAny(self.endsByClosing ? message.sseEvent : message.sseChunk), promise: nil)
            encoderContext.flush()
        } else {
            self.write(message.sseEvent)
            self.context.flush()
        }
        if self.bytesSent >= self.configuration.sseRecycleBytes
            || (message.publishedAt ?? self.context.eventLoop.now) - self.startedAt >= self.configuration.sseRecycleAfter
        {
            self.finish()
        }
    }

    func channelWritabilityChanged(to isWritable: Bool) {
        self.channelIsWritable = isWritable
    }

    func cancel() {
        guard !self.finished else { return }
        self.finished = true
        for topic in self.topics { self.hub.unsubscribe(self, from: topic) }
        if let session = self.session { self.hub.closeSession(session) }
        self.heartbeat?.cancel()
        self.heartbeat = nil
        self.expiry?.cancel()
        self.expiry = nil
    }

    /// Ends the response after `delay` (when the client's token expires): the client comes
    /// back with a fresh token and its last id.
    func end(after delay: TimeAmount) {
        let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
        self.expiry = self.context.eventLoop.scheduleTask(in: delay) {
            let stream = loopBound.value
            stream.configuration.log?("sse \(stream.name): token expired, stream ended")
            stream.finish()
        }
    }

    /// Ends the response (recycling): the client reconnects with Last-Event-ID. Without
    /// chunked encoding (HTTP/1.0) the end is only visible when the connection closes; left
    /// open, a proxy in front would keep its client's stream open and silent.
    private func finish() {
        guard !self.finished else { return }
        self.cancel()
        // Come back at once (see `sseEndRetry`); the next stream's prelude restores `sseRetry`.
        self.write(ByteBuffer(string: "retry: \(self.configuration.sseEndRetry.nanoseconds / 1_000_000)\n\n"))
        self.router.end(self.context, closing: self.endsByClosing)
        self.router.responseFinished()
    }

    /// One event of a multiplexed stream: the message, with the positions of every topic
    /// after it as its id.
    private func writeMultiplexedEvent(_ message: PublishedMessage, into buffer: inout ByteBuffer) {
        self.positions?[message.topic] = message.cursor
        buffer.writeStaticString("id: ")
        buffer.writeString(self.positions?.description ?? "")
        buffer.writeStaticString("\ndata: ")
        buffer.writeImmutableBuffer(message.json)
        buffer.writeStaticString("\n\n")
    }

    private func write(_ bytes: ByteBuffer) {
        self.bytesSent += bytes.readableBytes
        self.context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(bytes))), promise: nil)
    }

    private func scheduleHeartbeat() {
        let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
        self.heartbeat = self.context.eventLoop.scheduleTask(in: self.configuration.sseHeartbeatInterval) {
            let stream = loopBound.value
            guard !stream.finished else { return }
            stream.write(ByteBuffer(staticString: ": heartbeat\n\n"))
            stream.context.flush()
            if stream.context.eventLoop.now - stream.startedAt >= stream.configuration.sseRecycleAfter {
                stream.finish()
            } else {
                stream.scheduleHeartbeat()
            }
        }
    }
}
