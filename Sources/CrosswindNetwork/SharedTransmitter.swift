import NIOCore

/// One transmitter and one queue that several links send through: an office uplink, a home
/// router's line or a cell that many clients' traffic crosses, instead of a line of its own
/// for each.
///
/// A link given one (``Link/transmitter``) serializes every packet on it, behind whatever the
/// other links sharing it have queued, at the link's own `bandwidthBitsPerSecond` and with its
/// `queueBytes` as the shared queue's size (links that share a transmitter are configured alike);
/// latency, jitter and loss still apply per link and per packet after the queue. The backlog —
/// the queueing delay every packet entering it waits — is one for all.
///
/// Confined to the simulation loop, like the links.
public final class SharedTransmitter {
    /// A name for reports ("office uplink").
    public let name: String
    /// When the transmitter has sent everything queued so far.
    var freeAt: NIODeadline
    /// The longest a packet waited in the queue so far.
    public internal(set) var maxQueueingDelay: TimeAmount = .zero

    /// A transmitter idle from `now` on.
    public init(name: String, now: NIODeadline) {
        self.name = name
        self.freeAt = now
    }
}
