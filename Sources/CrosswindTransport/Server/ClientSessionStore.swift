import NIOCore

/// What a session store decided about one client → server message.
public enum SessionAcceptance: Sendable, Equatable {
    /// New: the client and topic of its session (the store now acknowledges `sequence`).
    case accepted(client: String, topic: String)
    /// Seen before: the highest number accepted from the client.
    case duplicate(highest: UInt64)
    /// No such session.
    case unknownSession
}

/// Client sessions (`EPOCH-N` ids naming a client and a topic) and the highest message number
/// accepted from each client: what lets a POST on one connection be matched to the stream of
/// another, and a resend be recognised.
///
/// Calling contract: a store is used by every hub that shares it, from their event loops;
/// one that is shared across loops must be thread-safe.
public protocol ClientSessionStore: AnyObject, Sendable {
    /// Opens a session and returns its id.
    func open(client: String?, topic: String) -> String
    /// Ends a session.
    func close(_ id: String)
    /// Records `sequence` from the session's client if it is new.
    func accept(session: String, sequence: UInt64) -> SessionAcceptance
    /// The highest number accepted from `client` (0: none).
    func acknowledged(client: String) -> UInt64
    /// Takes one message's worth from the bucket of the session's client under `limit`: nil
    /// when admitted (or the session is unknown: that answer comes from ``accept``), else
    /// how long until the client may send again.
    func throttle(session: String, limit: ClientRateLimit, now: NIODeadline) -> TimeAmount?
}

/// The sessions of one hub on one event loop (the simulation's, or a one-loop server): no
/// locking, ids numbered in call order, so a simulated run numbers them the same every time.
public final class LoopConfinedSessionStore: ClientSessionStore, @unchecked Sendable {
    private let epoch: UInt64
    private var sessions: [String: (client: String, topic: String)] = [:]
    private var nextSession: UInt64 = 1
    private var highestSequence: [String: UInt64] = [:]
    private var buckets: [String: TokenBucket] = [:]

    public init(epoch: UInt64) {
        self.epoch = epoch
    }

    public func open(client: String?, topic: String) -> String {
        let id = "\(self.epoch)-\(self.nextSession)"
        self.nextSession += 1
        self.sessions[id] = (client ?? id, topic)
        return id
    }

    public func close(_ id: String) {
        self.sessions[id] = nil
    }

    public func accept(session: String, sequence: UInt64) -> SessionAcceptance {
        guard let (client, topic) = self.sessions[session] else { return .unknownSession }
        let highest = self.highestSequence[client] ?? 0
        guard sequence > highest else { return .duplicate(highest: highest) }
        self.highestSequence[client] = sequence
        return .accepted(client: client, topic: topic)
    }

    public func acknowledged(client: String) -> UInt64 { self.highestSequence[client] ?? 0 }

    public func throttle(session: String, limit: ClientRateLimit, now: NIODeadline) -> TimeAmount? {
        guard let (client, _) = self.sessions[session] else { return nil }
        var bucket = self.buckets[client] ?? TokenBucket(limit)
        let wait = bucket.take(now: now)
        self.buckets[client] = bucket
        return wait
    }
}
