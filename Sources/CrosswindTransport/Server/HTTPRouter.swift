import NIOCore
import NIOHTTP1

/// The plain-HTTP side of a server connection: `GET /negotiate`, the SSE stream at
/// `/events`, Custom Sync at `/sync`, and clear errors for everything else.
///
/// One router per connection, one request at a time (NIO's pipelining helper queues the
/// rest). A streaming SSE response or a held long-poll occupies the connection until it ends.
/// Bad input — an unknown path, a malformed cursor or topic, a request body on a GET — gets a
/// JSON error with the right status and never a crash.
final class HTTPRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hub: TopicHub
    private let configuration: RealtimeServerConfiguration
    /// Largest request body accepted (client→server messages arrive with the manager).
    private let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var body: ByteBuffer?
    /// The Custom Sync session of this connection (opened by its first sync request).
    private var syncSession: String?
    private var context: ChannelHandlerContext?
    /// The response in progress that outlives its request (a stream or a held poll).
    private var active: (any ActiveResponse)?

    init(hub: TopicHub, configuration: RealtimeServerConfiguration) {
        self.hub = hub
        self.configuration = configuration
        self.maxBodyBytes = configuration.maxBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.active?.cancel()
        self.active = nil
        self.context = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.active?.channelWritabilityChanged(to: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.active?.cancel()
        self.active = nil
        if let session = self.syncSession { self.hub.closeSession(session) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.discardingInput else { return }
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.bodyBytes = 0
            self.body = nil
            // A declared length over the limit is refused before a byte of the body is read.
            if let declared = head.headers.first(name: "Content-Length").flatMap({ Int($0) }), declared > self.maxBodyBytes {
                self.refuseBody(context, head)
            }
        case .body(var body):
            self.bodyBytes += body.readableBytes
            if self.bodyBytes <= self.maxBodyBytes {
                if self.body == nil { self.body = body } else { self.body!.writeBuffer(&body) }
            } else if let head = self.head {
                // A chunked body that grows past the limit: refused as soon as it does.
                self.refuseBody(context, head)
            }
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.route(head, context: context)
        }
    }

    /// Set once a request has been refused mid-body: what the client still sends is dropped.
    private var discardingInput = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a refusal mid-body the decoder sees the connection end inside that body: the
        // expected end of a refused request, not a fault to report.
        guard !self.discardingInput else { return }
        context.fireErrorCaught(error)
    }

    /// Answers 413 before the body has been read and ends the connection (the rest of the body
    /// cannot be told from a next request). A lingering close: output is closed at once, input
    /// read and dropped until the client closes or for 2 s, so the client sees the answer and
    /// not a reset from a socket closed under its upload.
    private func refuseBody(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        self.discardingInput = true
        self.head = nil
        self.body = nil
        let reason = "request body over \(self.maxBodyBytes) bytes"
        self.configuration.log?("413 \(head.method.rawValue) \(redactingToken(head.uri)): \(reason)")
        let json = WireFrame.encodeError(reason, allocator: context.channel.allocator)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(json.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .payloadTooLarge, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(json))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }

    /// Deadline of the router's pending timer task, if any.
    private var timerDeadline: NIODeadline?

    /// Makes sure the router's timer fires by `deadline` (for a held long-poll). A task that
    /// fires early re-arms itself for the active poll's deadline, so a connection carries at
    /// most one pending task however many requests it holds in turn.
    func wakeUp(at deadline: NIODeadline) {
        guard let context = self.context else { return }
        if let pending = self.timerDeadline, pending <= deadline { return }
        self.timerDeadline = deadline
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.timerFired(scheduledFor: deadline)
        }
    }

    private func timerFired(scheduledFor deadline: NIODeadline) {
        guard self.timerDeadline == deadline, let context = self.context else { return }
        self.timerDeadline = nil
        guard let poll = self.active as? SyncPoll, let due = poll.deadline else { return }
        if due <= context.eventLoop.now {
            poll.expire(now: context.eventLoop.now)
        } else {
            self.wakeUp(at: due)
        }
    }

    /// Called by a stream or poll when its response has ended.
    func responseFinished() {
        self.active = nil
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let (path, parameters) = queryParameters(of: head.uri)
        if self.requiresToken(path), !self.configuration.allowsOrigin(head.headers) {
            return self.error(context, head, .forbidden, "origin '\(head.headers.first(name: "Origin") ?? "")' is not allowed")
        }
        var claims: AccessTokens.Claims?
        if let authentication = self.configuration.authentication, self.requiresToken(path) {
            switch authentication.check(head, parameters) {
            case .success(let valid): claims = valid
            case .failure(let refusal):
                return self.error(context, head, .unauthorized, refusal.description, headers: [("WWW-Authenticate", "Bearer error=\"invalid_token\"")])
            }
        }
        switch (head.method, String(path)) {
        case (.GET, "/negotiate"):
            let body = "{\"transports\":[\"websocket\",\"sse\",\"sync\"],\"endpoints\":{\"websocket\":\"\(self.configuration.webSocketPath)\",\"sse\":\"\(self.configuration.eventsPath)\",\"sync\":\"\(self.configuration.syncPath)\",\"send\":\"\(self.configuration.sendPath)\"},\"epoch\":\(self.hub.epoch)}"
            self.respond(context, head, .ok, json: body)
        case (.GET, self.configuration.eventsPath):
            // The browser's own reconnects send Last-Event-ID; a first connect may pass `cursor`.
            let cursorText = head.headers.first(name: "Last-Event-ID") ?? parameters.first(where: { $0.0 == "cursor" })?.1
            let topics: [String]
            var cursors = TopicCursors()
            let multiplexed = parameters.contains { $0.0 == "topics" }
            if multiplexed {
                switch MultiplexedSubscription.parse(parameters, cursorText: cursorText, configuration: self.configuration) {
                case .success(let subscription): (topics, cursors) = (subscription.topics, subscription.cursors)
                case .failure(let problem): return self.error(context, head, problem.status, problem.reason)
                }
            } else {
                guard let topic = self.servedTopic(parameters, context, head, else: "a valid topic parameter is required") else { return }
                topics = [topic]
                if let cursorText, !cursorText.isEmpty {
                    guard let parsed = StreamCursor(parsing: cursorText[...]) else {
                        return self.error(context, head, .badRequest, "malformed cursor '\(cursorText)' (expected EPOCH:OFFSET)")
                    }
                    cursors[topic] = parsed
                }
            }
            let stream = SSEServerStream(
                router: self, context: context, hub: self.hub, topics: topics, multiplexed: multiplexed, configuration: self.configuration
            )
            stream.channelIsWritable = context.channel.isWritable
            self.active = stream
            stream.start(head: head, cursors: cursors, client: parameters.first(where: { $0.0 == "client" })?.1)
            if let claims, let authentication = self.configuration.authentication {
                stream.end(after: authentication.remaining(claims))
            }
        case (.GET, self.configuration.syncPath):
            let multiplexed = parameters.contains { $0.0 == "topics" }
            var topic = ""
            if !multiplexed {
                guard let served = self.servedTopic(parameters, context, head, else: "a valid topic parameter is required") else { return }
                topic = served
            }
            let request: SyncRequest
            switch SyncRequest.parse(parameters, headers: head.headers, configuration: self.configuration) {
            case .success(let parsed): request = parsed
            case .failure(let problem): return self.error(context, head, problem.status, problem.message)
            }
            // A multiplexed poll's session is its first topic's, as a multiplexed stream's is.
            if multiplexed { topic = request.topics[0] }
            if self.syncSession == nil {
                self.syncSession = self.hub.openSession(client: parameters.first(where: { $0.0 == "client" })?.1, topic: topic)
            }
            let poll = SyncPoll(router: self, context: context, hub: self.hub, topic: topic, request: request, head: head, session: self.syncSession)
            self.active = poll
            poll.start()
        case (.POST, self.configuration.sendPath):
            self.receiveSend(parameters, head: head, context: context)
        case (_, self.configuration.sendPath):
            self.error(context, head, .methodNotAllowed, "use POST")
        case (.GET, let path) where self.configuration.staticFiles[path] != nil:
            let file = self.configuration.staticFiles[path]!
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: file.contentType)
            headers.add(name: "Content-Length", value: String(file.body.readableBytes))
            headers.add(name: "Cache-Control", value: "no-cache")
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(file.body))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        case (_, self.configuration.webSocketPath):
            // Not upgraded (none asked, or refused): say why.
            let reason = "a WebSocket upgrade with a valid topic (and cursor, if any) is required"
            if parameters.contains(where: { $0.0 == "topics" }) {
                let cursorText = parameters.first(where: { $0.0 == "cursor" })?.1
                if case .failure(let refusal) = MultiplexedSubscription.parse(parameters, cursorText: cursorText, configuration: self.configuration) {
                    return self.error(context, head, refusal.status, refusal.reason)
                }
                return self.error(context, head, .badRequest, "a WebSocket upgrade is required")
            }
            guard self.servedTopic(parameters, context, head, else: reason) != nil else { return }
            self.error(context, head, .badRequest, reason)
        case (_, "/negotiate"), (_, self.configuration.eventsPath), (_, self.configuration.syncPath):
            self.error(context, head, .methodNotAllowed, "use GET")
        default:
            self.error(context, head, .notFound, "no such endpoint")
        }
    }

    /// `POST /send?session=S` with `{"type":"send","messages":[{"seq":N,"data":…},…]}`:
    /// each message is handed to the hub once (resends are recognised by number), and the
    /// answer acknowledges the highest number received from the client.
    private func receiveSend(_ parameters: [(String, String)], head: HTTPRequestHead, context: ChannelHandlerContext) {
        // A cross-site HTML form can post only simple content types (form encodings and
        // text/plain), and a page's fetch with JSON needs a CORS preflight this server never
        // grants: requiring JSON keeps other sites from posting as a signed-in user.
        let contentType = head.headers.first(name: "Content-Type")?.split(separator: ";").first?.trimmingCharacters(in: " ").lowercased()
        guard contentType == "application/json" else {
            return self.error(context, head, .unsupportedMediaType, "POST \(self.configuration.sendPath) takes Content-Type: application/json")
        }
        guard let session = parameters.first(where: { $0.0 == "session" })?.1, !session.isEmpty else {
            return self.error(context, head, .badRequest, "a session parameter is required")
        }
        guard let body = self.body, let fields = JSONObjectScanner.scan(body), fields.string("type") == "send",
            let list = fields.raw("messages"), let elements = JSONObjectScanner.arrayElements(list), !elements.isEmpty
        else {
            return self.error(context, head, .badRequest, "expected {\"type\":\"send\",\"messages\":[{\"seq\":N,\"data\":…},…]}")
        }
        var messages: [(UInt64, ByteBuffer)] = []
        for element in elements {
            guard let message = JSONObjectScanner.scan(element), let sequence = message.unsigned("seq"), sequence > 0,
                let data = message.raw("data")
            else {
                return self.error(context, head, .badRequest, "every message needs a positive seq and a data value")
            }
            messages.append((sequence, data))
        }
        // One request takes one token, however many messages it carries: a client's outbox
        // flushed after a reconnect is one request.
        if let limit = self.configuration.clientMessageRateLimit,
            let wait = self.hub.throttle(session: session, limit: limit, now: context.eventLoop.now)
        {
            let seconds = max(1, (wait.nanoseconds + 999_999_999) / 1_000_000_000)
            return self.error(
                context, head, .tooManyRequests,
                "rate limit: at most \(limit.ratePerSecond) messages per second (bursts of \(limit.burst)); retry after \(seconds) s",
                headers: [("Retry-After", String(seconds))]
            )
        }
        var acknowledged: UInt64 = 0
        for (sequence, data) in messages {
            switch self.hub.receive(session: session, sequence: sequence, data: data) {
            case .accepted(let upTo), .duplicate(let upTo):
                acknowledged = upTo
            case .unknownSession:
                return self.error(context, head, .notFound, "unknown session '\(session)'")
            }
        }
        self.respond(context, head, .ok, json: "{\"type\":\"ack\",\"seq\":\(acknowledged)}")
    }

    /// The request's topic when this server serves it; otherwise answers the request (400 with
    /// `reason` for a missing or malformed name, 404 for a valid name the server does not
    /// serve) and returns nil.
    private func servedTopic(
        _ parameters: [(String, String)],
        _ context: ChannelHandlerContext,
        _ head: HTTPRequestHead,
        else reason: String
    ) -> String? {
        guard let topic = parameters.first(where: { $0.0 == "topic" })?.1, isValidTopicName(topic[...]) else {
            self.error(context, head, .badRequest, reason)
            return nil
        }
        guard self.configuration.serves(topic: topic[...]) else {
            self.error(context, head, .notFound, "no such topic '\(topic)'")
            return nil
        }
        return topic
    }

    /// Whether `path` is a stream or message endpoint (not `/negotiate` or a static file).
    private func requiresToken(_ path: Substring) -> Bool {
        path == self.configuration.webSocketPath || path == self.configuration.eventsPath || path == self.configuration.syncPath
            || path == self.configuration.sendPath
    }

    private func error(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ status: HTTPResponseStatus, _ reason: String, headers: [(String, String)] = []) {
        self.configuration.log?("\(status.code) \(head.method.rawValue) \(redactingToken(head.uri)): \(reason)")
        self.respond(context, head, status, json: WireFrame.encodeError(reason, allocator: context.channel.allocator), headers: headers)
    }

    /// A complete JSON response with a length (keep-alive friendly, unless the request asked for
    /// an upgrade: see ``endsConnection(_:)``).
    func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ status: HTTPResponseStatus, json: String, headers extra: [(String, String)] = []) {
        self.respond(context, head, status, json: context.channel.allocator.buffer(string: json), headers: extra)
    }

    /// The same, with a body already encoded (no round trip through `String`).
    /// With an `etag`, the response carries it as `ETag` (a Custom Sync batch; passed on its own
    /// rather than in `extra`, which would cost every long-poll message an array).
    func respond(
        _ context: ChannelHandlerContext,
        _ head: HTTPRequestHead,
        _ status: HTTPResponseStatus,
        json: ByteBuffer,
        etag: String? = nil,
        headers extra: [(String, String)] = []
    ) {
        // One array of exactly the fields, handed to HTTPHeaders whole: adding them one by one
        // regrows the array and checks every name again (every long-poll message comes here).
        let closing = Self.endsConnection(head)
        var fields: [(String, String)] = []
        fields.reserveCapacity(5 + extra.count)
        fields.append(("Content-Type", "application/json"))
        fields.append(("Content-Length", String(json.readableBytes)))
        fields.append(("Cache-Control", "no-store"))
        if let etag { fields.append(("ETag", etag)) }
        if !extra.isEmpty { fields.append(contentsOf: extra) }
        if closing { fields.append(("Connection", "close")) }
        let headers = HTTPHeaders(fields)
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(json))), promise: nil)
        self.end(context, closing: closing)
    }

    /// Writes and flushes the end of the response; with `closing`, closes the connection once
    /// the end is written (a response the client can only see end that way, or a connection
    /// that can carry no further request).
    func end(_ context: ChannelHandlerContext, closing: Bool) {
        guard closing else {
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    /// True for a request that asked for an upgrade (`Upgrade` with `Connection: upgrade`) and
    /// reached the router, i.e. was not upgraded: the upgrader refused it, or it was not the
    /// connection's first request (NIO upgrades only that one; a proxy that reuses upstream
    /// connections, such as squid, sends upgrades on later ones). NIO's HTTP decoder stops
    /// parsing after such a request whatever the answer, so the connection can carry no
    /// further request: answering and keeping it open would leave the next request on it —
    /// a proxy's, for another client — unanswered for ever.
    static func endsConnection(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade") && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }
}

/// A response that outlives its request: it is cancelled when the connection goes away, and
/// hears when the channel's writability changes (a held poll ignores it).
protocol ActiveResponse: AnyObject {
    func cancel()
    func channelWritabilityChanged(to isWritable: Bool)
}

extension ActiveResponse {
    func channelWritabilityChanged(to isWritable: Bool) {}
}
