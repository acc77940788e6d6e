import NIOCore
import NIOHTTP1

/// Settings of the server side of all three transports, with the defaults DESIGN.md gives.
public struct RealtimeServerConfiguration: Sendable {
    /// Path of the WebSocket endpoint.
    public var webSocketPath = "/ws"
    /// Path of the SSE endpoint.
    public var eventsPath = "/events"
    /// Path of the Custom Sync endpoint.
    public var syncPath = "/sync"
    /// Path of a WebSocket echo endpoint for conformance tests; nil (the default) offers none.
    public var echoPath: String?
    /// Path of client → server messages beside SSE and Custom Sync.
    public var sendPath = "/send"
    /// Largest WebSocket frame accepted from a client (1 MiB): a larger one closes the
    /// connection with 1009 (message too big), by NIO's frame decoder. Client messages are
    /// single frames; continuation frames are not reassembled (nor accepted as messages).
    public var maxFrameBytes = 1 << 20
    /// Largest request body accepted (64 KiB): `POST /send` with more is answered 413.
    public var maxBodyBytes = 64 * 1024
    /// Largest request head, request line and headers together (16 KiB): a head still
    /// incomplete after that many bytes is answered 431 and the connection closed. NIO's
    /// decoder is given the same limit for header names and values.
    public var maxRequestHeadBytes = 16 * 1024
    /// Longest a connection may take to deliver a complete request head, from its start or
    /// from the end of its previous response; past it, 408 if part of a head arrived, a quiet
    /// close if nothing did (an idle keep-alive connection). nil (the default here; live
    /// servers set 20 s) waits for ever.
    public var requestHeadTimeout: TimeAmount?

    /// Size of the comment that opens every SSE response, so buffering proxies and browsers
    /// flush at once (2 KiB).
    public var ssePreludeBytes = 2048
    /// The `retry:` an SSE stream advertises.
    public var sseRetry: TimeAmount = .seconds(1)
    /// The `retry:` an SSE stream advises just before the server ends it on purpose (a
    /// recycle, an expired token): the client comes back at once instead of after `sseRetry`,
    /// so the messages published meanwhile wait milliseconds, not a second. The next stream
    /// advises `sseRetry` again, so a client keeps the short one only if that reconnect fails.
    public var sseEndRetry: TimeAmount = .milliseconds(100)
    /// Interval of SSE comment heartbeats.
    public var sseHeartbeatInterval: TimeAmount = .seconds(25)
    /// An SSE response ends after this many bytes (the client reconnects with Last-Event-ID),
    /// so intermediaries that buffer until the end of a response cannot hold it forever.
    public var sseRecycleBytes = 128 * 1024
    /// … or after this long.
    public var sseRecycleAfter: TimeAmount = .minutes(10)

    /// Most messages in one Custom Sync batch.
    public var syncBatchSize = 50
    /// Longest a Custom Sync long-poll (`wait=`) is held.
    public var syncMaxWait: TimeAmount = .seconds(25)

    /// Token authentication of the stream and message endpoints; nil (the default) lets every
    /// client in. See ``ServerAuthentication``.
    public var authentication: ServerAuthentication?

    /// Client messages one client (by client id, or session) may send, over WebSocket and
    /// `POST /send` together; nil (the default here; live servers set 20 a second, bursts of
    /// 50) admits all. Over it, a POST is answered 429 with `Retry-After` and a WebSocket is
    /// closed with 1008 (policy violation) and the reason; unacknowledged messages are resent
    /// by the client after its backoff, so nothing is lost.
    public var clientMessageRateLimit: ClientRateLimit?

    /// Origins (`scheme://host[:port]`) whose pages may use the stream and message endpoints;
    /// nil (the default) allows every origin. A request with an `Origin` header not in the
    /// list is answered 403 (a WebSocket upgrade is declined with it); a request without one
    /// (not from a browser page) is not an origin matter and passes.
    public var allowedOrigins: [String]?

    /// Whether a request with these headers comes from an allowed origin.
    func allowsOrigin(_ headers: HTTPHeaders) -> Bool {
        guard let allowed = self.allowedOrigins, let origin = headers.first(name: "Origin") else { return true }
        let normalized = normalizedOrigin(origin)
        return allowed.contains { normalizedOrigin($0) == normalized }
    }

    /// Where the server writes one line per rejected request or broken client frame (the
    /// status, the request and why). Live servers print it; simulated runs keep it in
    /// `server.log`.
    public var log: (@Sendable (String) -> Void)?

    /// The topics clients may subscribe to; nil accepts any valid name (a topic then exists
    /// from its first subscriber or publish). With a list, a subscription to another topic is
    /// answered 404 on every transport and logged, instead of waiting for ever on a topic
    /// nobody publishes (a typo in a client's configuration).
    public var topics: Set<String>?

    /// Whether `topic` is a valid name this server serves.
    public func serves(topic: Substring) -> Bool {
        isValidTopicName(topic) && (self.topics.map { $0.contains(String(topic)) } ?? true)
    }

    /// Files served as they are at `GET path` (the dashboard page and its script).
    public var staticFiles: [String: StaticFile] = [:]

    public init() {}

    /// The former name of `webSocketPath`.
    public var path: String {
        get { self.webSocketPath }
        set { self.webSocketPath = newValue }
    }
}

/// A file the server answers `GET` with.
public struct StaticFile: Sendable {
    public var contentType: String
    public var body: ByteBuffer
    public init(contentType: String, body: ByteBuffer) {
        self.contentType = contentType
        self.body = body
    }
}

/// An origin as compared: lower case, without a final slash.
func normalizedOrigin(_ origin: String) -> String {
    var text = origin.lowercased()
    while text.hasSuffix("/") { text.removeLast() }
    return text
}
