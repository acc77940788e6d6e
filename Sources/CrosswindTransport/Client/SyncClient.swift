import NIOCore
import NIOHTTP1

/// Settings of a Custom Sync client.
public struct SyncClientConfiguration: TransportClientConfiguration {
    public var subscription: ClientSubscription
    /// Path of the server's Custom Sync endpoint. A resume sends the cursor as the first
    /// request's `since`.
    public var path = "/sync"
    /// Pause between a response and the next request (interval polling; the seed's 2 s).
    public var syncInterval: TimeAmount = .seconds(2)
    /// Long-poll: ask the server to hold a request this long when nothing is new (0: off).
    public var longPollWait: TimeAmount = .zero
    /// Most messages per response (`limit=`).
    public var batchSize = 50
    /// Consecutive failed requests (HTTP errors) tolerated before the client gives up.
    public var maxConsecutiveErrors = 5
    /// The pause before asking again after an HTTP error: full jitter, 0.5 s doubling to 20 s,
    /// so the clients of a failing server do not all ask again in the same instant.
    public var errorBackoff = FullJitterBackoff()
    /// Path of the server's endpoint for client messages.
    public var sendPath = "/send"
    /// Multiplexing: when this lists topics, every poll asks for all of them (`topics=a,b,c`,
    /// `since=a@E:O,…`, see ``TopicCursors``) instead of `topic`, resuming each topic from its
    /// entry in `resumeFromEach`. Empty: the classic single-topic poll.
    public var topics: [String] = []
    /// Where each topic of a multiplexed poll resumes (topics without an entry start live).
    public var resumeFromEach = TopicCursors()

    public init(_ subscription: ClientSubscription) {
        self.subscription = subscription
    }
}

/// A Custom Sync client over NIOHTTP1 on one keep-alive connection: `GET /sync` with the
/// `since` cursor and `If-None-Match`, batches delivered once and in order, `304` as a
/// heartbeat, interval polling or long-polling, and full-jitter backoff on HTTP errors (its
/// draws come from the generator the owner passes in).
///
/// The first batch is the application round trip: it opens the client with the batch's
/// epoch and `recovered` flag, like a welcome. Until then the client is still connecting (its
/// first request is out, or waiting out a backoff after an HTTP error).
///
/// Multiplexed (``SyncClientConfiguration/topics``), each poll asks for several topics: the
/// first batch welcomes every topic (the delegate hears one `opened` per topic), each topic's
/// messages are delivered once and in order with a tracker per topic, and every poll names
/// every topic's position (``lastCursors``).
///
/// Calling contract: as ``WebSocketClient``.
public final class SyncClient: PostsClientMessages, @unchecked Sendable {
    public var method: TransportMethod { .sync }
    public var sideConnector: ((@escaping (any Channel) throws -> Void) -> Void)?
    /// Client messages, posted beside the polls.
    let outgoing: SideSender
    public let configuration: SyncClientConfiguration
    public weak var delegate: (any RealtimeClientDelegate)?
    var core: ClientCore
    private var cursor: StreamCursor?
    private var etag: String?
    private var consecutiveErrors = 0
    private var pendingStatus: HTTPResponseStatus?
    private var pendingETag: String?
    private var pendingBody: ByteBuffer?
    private var random: any RandomNumberGenerator
    /// Multiplexed: delivery bookkeeping per topic.
    private var topicTrackers: TopicTrackers
    /// Multiplexed: the positions the last batch named (the next poll's `since`).
    private var sinceEach: TopicCursors
    /// The classic poll's request target up to its cursor (`/sync?topic=T[&client=ID]&limit=N`)
    /// and, for long-polling, its `&wait=MS`: fixed for the client, written once.
    private let targetPrefix: ByteBuffer
    private let waitSuffix: String
    /// Where each poll's request target is put together (reused, so a poll allocates only the
    /// target's string).
    private var targetScratch = ByteBuffer()

    static let closedBeforeAnswer = "closed before a response"

    public init(configuration: SyncClientConfiguration, random: any RandomNumberGenerator, delegate: any RealtimeClientDelegate) {
        self.configuration = configuration
        self.random = random
        self.delegate = delegate
        self.cursor = configuration.resumeFrom
        self.core = ClientCore(resumeFrom: configuration.resumeFrom)
        self.topicTrackers = TopicTrackers(topics: configuration.topics, resumeFrom: configuration.resumeFromEach)
        self.sinceEach = configuration.resumeFromEach
        self.outgoing = SideSender(host: configuration.host, path: configuration.sendPath, token: configuration.accessToken)
        self.targetPrefix = ByteBuffer(string: "\(configuration.target(tokenInQuery: false))&limit=\(configuration.batchSize)")
        self.waitSuffix = "&wait=\(configuration.longPollWait.nanoseconds / 1_000_000)"
    }

    /// Delivery bookkeeping within this connection.
    public var tracker: DeliveryTracker { self.core.tracker }

    /// Multiplexed: the position of every topic that has one (what the next poll names).
    public var lastCursors: TopicCursors { self.topicTrackers.cursors }

    private var isMultiplexed: Bool { !self.configuration.topics.isEmpty }

    public func configure(_ channel: any Channel) throws {
        self.beginConnecting(on: channel)
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(SyncClientHandler(client: self))
    }

    /// Polls are accepted while connecting (the first) and once open.
    private var isPolling: Bool {
        switch self.core.phase {
        case .connecting, .open: return true
        case .idle, .answered, .closed: return false
        }
    }

    // MARK: Requests

    func active(channel: any Channel) {
        guard case .connecting = self.core.phase else { return }
        self.sendRequest(channel)
    }

    private func sendRequest(_ channel: any Channel) {
        let waiting = self.configuration.longPollWait > .zero && self.isOpen
        var uri: String
        if self.isMultiplexed {
            uri = "\(self.configuration.path)?topics=\(self.configuration.topics.joined(separator: ","))"
            if let id = self.configuration.clientID { uri += "&client=\(id)" }
            uri += "&limit=\(self.configuration.batchSize)"
            if !self.sinceEach.isEmpty { uri += "&since=\(self.sinceEach)" }
            if waiting { uri += self.waitSuffix }
        } else {
            uri = self.classicTarget(waiting: waiting)
        }
        // The fields in one array handed over whole (adding them one by one regrows it).
        var fields: [(String, String)] = []
        fields.reserveCapacity(4)
        fields.append(("Host", self.configuration.host))
        fields.append(("Accept", "application/json"))
        if let etag = self.etag { fields.append(("If-None-Match", etag)) }
        if let token = self.configuration.accessToken { fields.append(("Authorization", "Bearer \(token)")) }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(fields))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// `/sync?topic=T[&client=ID]&limit=N[&since=E:O][&wait=MS]`, written into the scratch
    /// buffer rather than through string interpolation (a long-poll asks once per message).
    private func classicTarget(waiting: Bool) -> String {
        self.targetScratch.clear()
        self.targetScratch.writeImmutableBuffer(self.targetPrefix)
        if let cursor = self.cursor {
            self.targetScratch.writeFields(maximumBytes: 48) { fields in
                fields.write("&since=")
                fields.writeDecimal(cursor.epoch)
                fields.write(byte: UInt8(ascii: ":"))
                fields.writeDecimal(cursor.offset)
            }
        }
        if waiting { self.targetScratch.writeString(self.waitSuffix) }
        return String(buffer: self.targetScratch)
    }

    /// Asks again after `delay`. With no delay (a long-poll's next request, or a full batch)
    /// the request goes out right here, while the response is handled, as a browser's fetch
    /// loop sends its next request from the last one's handler: a timer of no delay would
    /// cost the event loop a task, a promise and a trip through its heap per message.
    private func schedulePoll(after delay: TimeAmount, channel: any Channel) {
        guard delay > .zero else {
            if self.isPolling { self.sendRequest(channel) }
            return
        }
        self.schedule(.nextRequest, on: channel.eventLoop, in: delay) { [self] in
            if self.isPolling { self.sendRequest(channel) }
        }
    }

    // MARK: Responses

    func responseHead(_ head: HTTPResponseHead) {
        self.pendingStatus = head.status
        self.pendingETag = head.headers.first(name: "ETag")
        self.pendingBody = nil
    }

    func responseBody(_ bytes: ByteBuffer) {
        var bytes = bytes
        if self.pendingBody == nil {
            self.pendingBody = bytes
        } else {
            self.pendingBody!.writeBuffer(&bytes)
        }
    }

    func responseEnd(channel: any Channel) {
        guard let status = self.pendingStatus else { return }
        self.pendingStatus = nil
        // The body is let go of here, not at the next response: it is a slice of the bytes
        // received, and holding it would keep the sender's buffer from being reused.
        let body = self.pendingBody
        self.pendingBody = nil
        guard self.isPolling else { return }
        let now = channel.eventLoop.now
        switch status {
        case .ok where self.isMultiplexed:
            guard let batch = body.flatMap(MultiplexedSyncBatch.decode) else {
                self.fail(.protocolViolation("undecodable sync batch"), channel: channel)
                return
            }
            self.consecutiveErrors = 0
            self.etag = self.pendingETag
            self.accept(batch, channel: channel, now: now)
        case .ok:
            guard let batch = body.flatMap(SyncBatch.decode) else {
                self.fail(.protocolViolation("undecodable sync batch"), channel: channel)
                return
            }
            self.consecutiveErrors = 0
            self.etag = self.pendingETag
            self.accept(batch, channel: channel, now: now)
        case .notModified:
            self.consecutiveErrors = 0
            self.heartbeat(at: now)
            self.schedulePoll(after: self.pollDelay(full: false), channel: channel)
        case .unauthorized:
            // The token is missing or has expired: asking again with it cannot succeed. The
            // owner reconnects, with a fresh token if it has one, from this client's cursor.
            self.fail(.connectionFailed("HTTP 401: access token refused"), channel: channel)
        default:
            self.consecutiveErrors += 1
            guard self.consecutiveErrors <= self.configuration.maxConsecutiveErrors else {
                self.fail(.connectionFailed("HTTP \(status.code) \(self.consecutiveErrors) times"), channel: channel)
                return
            }
            let backoff = self.configuration.errorBackoff.delay(retry: self.consecutiveErrors - 1, using: &self.random)
            self.schedulePoll(after: backoff, channel: channel)
        }
    }

    private func accept(_ batch: SyncBatch, channel: any Channel, now: NIODeadline) {
        guard batch.topic == self.configuration.topic else {
            self.fail(.protocolViolation("batch for topic \(batch.topic)"), channel: channel)
            return
        }
        if case .connecting = self.core.phase {
            let next = batch.messages.first?.offset ?? batch.cursor.offset + 1
            let welcome = Welcome(topic: batch.topic, epoch: batch.epoch, next: next, recovered: batch.recovered, live: batch.live)
            self.outgoing.opened(session: batch.session, on: channel)
            self.open(welcome, on: channel)
        }
        for message in batch.messages {
            guard self.isOpen else { return }
            self.deliver(message, at: now)
        }
        guard self.isOpen else { return }
        self.cursor = batch.cursor
        self.schedulePoll(after: self.pollDelay(full: batch.messages.count >= self.configuration.batchSize), channel: channel)
    }

    private func accept(_ batch: MultiplexedSyncBatch, channel: any Channel, now: NIODeadline) {
        guard batch.topics.map(\.topic) == self.configuration.topics else {
            self.fail(.protocolViolation("batch for topics \(batch.topics.map(\.topic))"), channel: channel)
            return
        }
        if case .connecting = self.core.phase {
            // The first batch welcomes every topic: from its first message of that topic, or
            // right after the position it names.
            for entry in batch.topics {
                let next = batch.messages.first { $0.topic == entry.topic }?.offset ?? entry.cursor.offset &+ 1
                let welcome = Welcome(topic: entry.topic, epoch: entry.epoch, next: next, recovered: entry.recovered, session: batch.session, live: entry.live)
                switch self.topicTrackers.welcome(welcome, continuing: false) {
                case .waiting:
                    continue
                case .complete(let welcomes):
                    self.outgoing.opened(session: batch.session, on: channel)
                    self.openMultiplexed(welcomes, on: channel)
                case .unexpected, .discontinuous:
                    self.fail(.protocolViolation("bad batch for topic \(entry.topic)"), channel: channel)
                    return
                }
            }
        }
        for message in batch.messages {
            guard self.isOpen else { return }
            let decision = self.topicTrackers.accept(message)
            self.deliver(message, decision: decision, at: now, channel: channel)
        }
        guard self.isOpen else { return }
        var since = TopicCursors()
        for entry in batch.topics { since[entry.topic] = entry.cursor }
        self.sinceEach = since
        // A topic whose replay `limit` cut short has more waiting: ask again at once.
        let full = batch.topics.contains { entry in entry.live.map { entry.cursor.offset &+ 1 < $0 } ?? false }
        self.schedulePoll(after: self.pollDelay(full: full), channel: channel)
    }

    /// A full batch means more is waiting: ask again at once. Long-polling asks again at once
    /// too (the server holds the request); interval polling waits `syncInterval`.
    private func pollDelay(full: Bool) -> TimeAmount {
        if full || self.configuration.longPollWait > .zero { return .zero }
        return self.configuration.syncInterval
    }
}

/// A decoded Custom Sync response body.
struct SyncBatch {
    var topic: String
    var epoch: UInt64
    var recovered: Bool
    var cursor: StreamCursor
    var session: String?
    var messages: [RealtimeMessage]
    /// The stream's live end when the server answered (see ``Welcome/live``); nil from a server
    /// that does not send it.
    var live: UInt64?

    static func decode(_ buffer: ByteBuffer) -> SyncBatch? {
        guard let fields = JSONObjectScanner.scan(buffer, objectsAt: "messages"), Self.isBatch(fields),
            let position = MultiplexedSyncBatch.TopicEntry(fields), let messages = Self.messages(of: fields)
        else { return nil }
        return SyncBatch(
            topic: position.topic, epoch: position.epoch, recovered: position.recovered, cursor: position.cursor,
            session: fields.string("session"), messages: messages, live: position.live
        )
    }

    /// Whether the object's type is `batch`: compared as bytes, or decoded when escaped.
    static func isBatch(_ fields: JSONObjectScanner) -> Bool {
        fields.raw("type", equals: #""batch""#) == true || fields.string("type") == "batch"
    }

    /// The `messages` list of a batch, nil unless every element is a message frame.
    static func messages(of fields: JSONObjectScanner) -> [RealtimeMessage]? {
        guard let elements = fields.objects("messages") else { return nil }
        var messages: [RealtimeMessage] = []
        messages.reserveCapacity(elements.count)
        for element in elements {
            guard case .message(let message) = WireFrame.decode(scanned: element) else { return nil }
            messages.append(message)
        }
        return messages
    }
}

/// A decoded multiplexed Custom Sync response body: every topic's position, and the messages.
struct MultiplexedSyncBatch {
    /// One topic's part: its epoch, whether its resume was complete, its position after the
    /// batch and its live end. A one-topic batch carries the same fields at its top level.
    struct TopicEntry {
        var topic: String
        var epoch: UInt64
        var recovered: Bool
        var cursor: StreamCursor
        var live: UInt64?

        /// The fields of `object`, nil when a required one is missing or malformed.
        init?(_ object: JSONObjectScanner) {
            // The cursor is read from its bytes unless escaped (a server's own never is).
            guard let topic = object.string("topic"), let epoch = object.unsigned("epoch"),
                let cursor = object.withUnescapedString("cursor", StreamCursor.parse)
                    ?? object.string("cursor").flatMap({ StreamCursor(parsing: $0[...]) })
            else { return nil }
            self.topic = topic
            self.epoch = epoch
            self.recovered = object.raw("recovered", equals: "false").map { !$0 } ?? true
            self.cursor = cursor
            self.live = object.unsigned("live")
        }
    }

    var topics: [TopicEntry]
    var session: String?
    var messages: [RealtimeMessage]

    static func decode(_ buffer: ByteBuffer) -> MultiplexedSyncBatch? {
        guard let fields = JSONObjectScanner.scan(buffer, objectsAt: "messages"), SyncBatch.isBatch(fields),
            let topicList = fields.raw("topics"), let topicElements = JSONObjectScanner.arrayElements(topicList),
            let messages = SyncBatch.messages(of: fields)
        else { return nil }
        var topics: [TopicEntry] = []
        for element in topicElements {
            guard let object = JSONObjectScanner.scan(element), let entry = TopicEntry(object) else { return nil }
            topics.append(entry)
        }
        return MultiplexedSyncBatch(topics: topics, session: fields.string("session"), messages: messages)
    }
}

/// Feeds responses of the sync connection to the client.
final class SyncClientHandler: TransportClientHandler {
    typealias InboundIn = HTTPClientResponsePart

    let client: SyncClient

    init(client: SyncClient) {
        self.client = client
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.client.active(channel: context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.client.responseHead(head)
        case .body(let bytes): self.client.responseBody(bytes)
        case .end: self.client.responseEnd(channel: context.channel)
        }
    }
}
