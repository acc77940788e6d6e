/// What every transport client is told, whatever its wire: which server, which topic, from
/// where in the stream, and as whom.
public struct ClientSubscription: Sendable, Equatable {
    /// Value of the `Host` header.
    public var host: String
    /// Topic to follow.
    public var topic: String
    /// Resume after this cursor (the last message the application has): the server replays
    /// what was missed, or says it could not (`recovered: false`). Sent as WebSocket `cursor=`,
    /// SSE `Last-Event-ID` and Custom Sync `since=`.
    public var resumeFrom: StreamCursor?
    /// A stable client id (`[A-Za-z0-9._-]`), so the server recognises resent client messages
    /// across connections and transports.
    public var clientID: String?
    /// An access token for a server that requires one (``ServerAuthentication``): sent as the
    /// `token` query parameter by WebSocket and SSE, as `Authorization: Bearer` by Custom Sync
    /// and client-message POSTs.
    public var accessToken: String?

    public init(host: String, topic: String, resumeFrom: StreamCursor? = nil, clientID: String? = nil, accessToken: String? = nil) {
        self.host = host
        self.topic = topic
        self.resumeFrom = resumeFrom
        self.clientID = clientID
        self.accessToken = accessToken
    }
}

/// The shape every transport client's configuration shares: a ``ClientSubscription`` and
/// the path of the transport's endpoint, plus whatever the wire needs. The subscription's
/// fields read as the configuration's own (`configuration.topic`, `configuration.resumeFrom`).
@dynamicMemberLookup
public protocol TransportClientConfiguration: Sendable {
    /// Server, topic, resume cursor and client id.
    var subscription: ClientSubscription { get set }
    /// Path of the transport's endpoint on the server.
    var path: String { get set }
    /// The configuration for `subscription`, every other setting at its default.
    init(_ subscription: ClientSubscription)
}

extension TransportClientConfiguration {
    /// The configuration for `topic` on `host`, from the live end, without a client id.
    public init(host: String, topic: String) {
        self.init(ClientSubscription(host: host, topic: topic))
    }

    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<ClientSubscription, Value>) -> Value {
        get { self.subscription[keyPath: keyPath] }
        set { self.subscription[keyPath: keyPath] = newValue }
    }

    /// `path?topic=T[&client=ID][&token=T]`: the start of every client request's target.
    func target(tokenInQuery: Bool = true) -> String {
        var uri = "\(self.path)?topic=\(self.subscription.topic)"
        if let id = self.subscription.clientID { uri += "&client=\(id)" }
        if tokenInQuery, let token = self.subscription.accessToken { uri += "&token=\(token)" }
        return uri
    }
}
