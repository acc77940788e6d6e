import NIOCore
import NIOHTTP1

/// Settings of a Custom Sync client.
public struct SyncClientConfiguration: Sendable {
    /// Value of the `Host` header.
    public var host: String
    /// Topic to follow.
    public var topic: String
    /// Path of the server's Custom Sync endpoint.
    public var path = "/sync"
    /// Resume after this cursor (the first request's `since`).
    public var resumeFrom: StreamCursor?
    /// Pause between a response and the next request (interval polling; the seed's 2 s).
    public var syncInterval: TimeAmount = .seconds(2)
    /// Long-poll: ask the server to hold a request this long when nothing is new (0: off).
    public var longPollWait: TimeAmount = .zero
    /// Most messages per response (`limit=`).
    public var batchSize = 50
    /// Consecutive failed requests (HTTP errors) tolerated, with exponential backoff
    /// (0.5 s doubling to 20 s) between them, before the client gives up.
    public var maxConsecutiveErrors = 5

    /// A stable client id (see ``WebSocketClientConfiguration/clientID``).
    public var clientID: String?
    /// Path of the server's endpoint for client messages.
    public var sendPath = "/send"

    public init(host: String, topic: String) {
        self.host = host
        self.topic = topic
    }
}

/// A Custom Sync client over NIOHTTP1 on one keep-alive connection: `GET /sync` with the
/// `since` cursor and `If-None-Match`, batches delivered once and in order, `304` as a
/// heartbeat, interval polling or long-polling, and exponential backoff on HTTP errors.
///
/// The first response is the application round trip: it opens the client with the batch's
/// epoch and `recovered` flag, like a welcome.
///
/// Calling contract: as ``WebSocketClient``.
public final class SyncClient: RealtimeTransportClient, @unchecked Sendable {
    private enum State {
        case idle
        /// Configured on a channel that has not connected.
        case connecting(any Channel)
        case polling(any Channel)
        case open(any Channel)
        case closed
    }

    public var method: TransportMethod { .sync }
    public var sideConnector: ((@escaping (any Channel) throws -> Void) -> Void)?
    /// Client messages, posted beside the stream or the polls.
    private let outgoing = SideSender()
    public let configuration: SyncClientConfiguration
    public weak var delegate: (any RealtimeClientDelegate)?
    public private(set) var tracker: DeliveryTracker
    private var state: State = .idle
    private var cursor: StreamCursor?
    private var etag: String?
    private var consecutiveErrors = 0
    private var pendingStatus: HTTPResponseStatus?
    private var pendingETag: String?
    private var pendingBody: ByteBuffer?
    private var nextPoll: Scheduled<Void>?

    public init(configuration: SyncClientConfiguration, delegate: any RealtimeClientDelegate) {
        self.configuration = configuration
        self.delegate = delegate
        self.cursor = configuration.resumeFrom
        self.tracker = DeliveryTracker(last: configuration.resumeFrom)
    }

    /// Posts a client message on a connection of its own (the session comes from the welcome).
    public func send(sequence: UInt64, data: ByteBuffer) {
        guard let connector = self.sideConnector else { return }
        self.outgoing.send(sequence: sequence, data: data, host: self.configuration.host, path: self.configuration.sendPath, connect: connector) { [weak self] sequence, time in
            guard let self else { return }
            self.delegate?.realtimeClient(self, acknowledged: sequence, at: time)
        }
    }

    public var isOpen: Bool {
        if case .open = self.state { return true }
        return false
    }

    public func configure(_ channel: any Channel) throws {
        self.state = .connecting(channel)
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(SyncClientHandler(client: self))
    }

    public func close() {
        switch self.state {
        case .connecting(let channel), .polling(let channel), .open(let channel):
            self.fail(.closedByApplication, channel: channel)
        case .idle, .closed:
            self.state = .closed
        }
    }

    // MARK: Requests

    func active(channel: any Channel) {
        guard case .connecting = self.state else { return }
        self.state = .polling(channel)
        self.sendRequest(channel)
    }

    private func sendRequest(_ channel: any Channel) {
        var uri = "\(self.configuration.path)?topic=\(self.configuration.topic)&limit=\(self.configuration.batchSize)"
        if let id = self.configuration.clientID { uri += "&client=\(id)" }
        if let cursor = self.cursor { uri += "&since=\(cursor)" }
        if self.configuration.longPollWait > .zero && self.isOpen {
            uri += "&wait=\(self.configuration.longPollWait.nanoseconds / 1_000_000)"
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.configuration.host)
        headers.add(name: "Accept", value: "application/json")
        if let etag = self.etag { headers.add(name: "If-None-Match", value: etag) }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    private func schedulePoll(after delay: TimeAmount, channel: any Channel) {
        self.nextPoll = channel.eventLoop.scheduleTask(in: delay) { [self] in
            switch self.state {
            case .polling, .open: self.sendRequest(channel)
            case .idle, .connecting, .closed: break
            }
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
        switch self.state {
        case .polling, .open: break
        case .idle, .connecting, .closed: return
        }
        let now = channel.eventLoop.now
        switch status {
        case .ok:
            guard let batch = self.pendingBody.flatMap(SyncBatch.decode) else {
                self.fail(.protocolViolation("undecodable sync batch"), channel: channel)
                return
            }
            self.consecutiveErrors = 0
            self.etag = self.pendingETag
            self.accept(batch, channel: channel, now: now)
        case .notModified:
            self.consecutiveErrors = 0
            if self.isOpen { self.delegate?.realtimeClient(self, heartbeatAt: now) }
            self.schedulePoll(after: self.pollDelay(full: false), channel: channel)
        default:
            self.consecutiveErrors += 1
            guard self.consecutiveErrors <= self.configuration.maxConsecutiveErrors else {
                self.fail(.connectionFailed("HTTP \(status.code) \(self.consecutiveErrors) times"), channel: channel)
                return
            }
            let backoff = min(TimeAmount.milliseconds(500) * (1 << min(self.consecutiveErrors - 1, 10)), .seconds(20))
            self.schedulePoll(after: backoff, channel: channel)
        }
    }

    private func accept(_ batch: SyncBatch, channel: any Channel, now: NIODeadline) {
        guard batch.topic == self.configuration.topic else {
            self.fail(.protocolViolation("batch for topic \(batch.topic)"), channel: channel)
            return
        }
        if case .polling = self.state {
            let next = batch.messages.first?.offset ?? batch.cursor.offset + 1
            let welcome = Welcome(topic: batch.topic, epoch: batch.epoch, next: next, recovered: batch.recovered)
            self.tracker.expect(epoch: welcome.epoch, next: welcome.next)
            self.state = .open(channel)
            self.outgoing.eventLoop = channel.eventLoop
            self.outgoing.session = batch.session
            self.delegate?.realtimeClient(self, opened: welcome, at: now)
        }
        for message in batch.messages {
            guard self.isOpen else { return }
            if self.tracker.accept(epoch: message.epoch, offset: message.offset) != .duplicate {
                self.delegate?.realtimeClient(self, received: message, at: now)
            }
        }
        guard self.isOpen else { return }
        self.cursor = batch.cursor
        self.schedulePoll(after: self.pollDelay(full: batch.messages.count >= self.configuration.batchSize), channel: channel)
    }

    /// A full batch means more is waiting: ask again at once. Long-polling asks again at once
    /// too (the server holds the request); interval polling waits `syncInterval`.
    private func pollDelay(full: Bool) -> TimeAmount {
        if full || self.configuration.longPollWait > .zero { return .zero }
        return self.configuration.syncInterval
    }

    func failed(_ error: any Error, channel: any Channel) {
        if case .connecting = self.state, isConnectionRefused(error) {
            self.finish(.connectionRefused, channel: channel)
            return
        }
        switch self.state {
        case .connecting, .polling, .open: self.finish(.connectionFailed(String(describing: error)), channel: channel)
        case .idle, .closed: break
        }
    }

    func inactive(channel: any Channel) {
        switch self.state {
        case .connecting, .polling: self.finish(.connectionFailed("closed before a response"), channel: channel)
        case .open: self.finish(.connectionLost, channel: channel)
        case .idle, .closed: break
        }
    }

    private func fail(_ reason: ClientCloseReason, channel: any Channel) {
        self.finish(reason, channel: channel)
        channel.close(promise: nil)
    }

    private func finish(_ reason: ClientCloseReason, channel: any Channel) {
        if case .closed = self.state { return }
        self.state = .closed
        self.nextPoll?.cancel()
        self.nextPoll = nil
        self.delegate?.realtimeClient(self, closed: reason, at: channel.eventLoop.now)
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

    static func decode(_ buffer: ByteBuffer) -> SyncBatch? {
        guard let fields = JSONObjectScanner.scan(buffer), fields.string("type") == "batch",
            let topic = fields.string("topic"), let epoch = fields.unsigned("epoch"),
            let cursorText = fields.string("cursor"), let cursor = StreamCursor(parsing: cursorText[...]),
            let list = fields.raw("messages"), let elements = JSONObjectScanner.arrayElements(list)
        else { return nil }
        var messages: [RealtimeMessage] = []
        for element in elements {
            guard case .message(let message) = WireFrame.decode(element) else { return nil }
            messages.append(message)
        }
        let recovered = fields.raw("recovered").map { String(buffer: $0) != "false" } ?? true
        return SyncBatch(topic: topic, epoch: epoch, recovered: recovered, cursor: cursor, session: fields.string("session"), messages: messages)
    }
}

/// Feeds responses of the sync connection to the client.
final class SyncClientHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let client: SyncClient

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

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.client.failed(error, channel: context.channel)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.client.inactive(channel: context.channel)
        context.fireChannelInactive()
    }
}
