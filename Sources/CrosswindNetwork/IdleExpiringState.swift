import NIOCore

/// The per-flow state table of a NAT or a stateful firewall, with an idle timeout: a flow
/// whose packets stopped — in both directions — for `idleTimeout` is forgotten, and every
/// later packet of it, either way, is dropped silently until a SYN opens a new flow. Neither
/// end learns of it (no RST, no ICMP): the connection is half-open on both sides, as behind a
/// NAT gateway or a carrier-grade NAT whose mapping timed out.
///
/// One table stands on the path of some nodes (their "inside"): install it on each inside
/// node's up link with ``Network/install(_:on:at:)`` at `.sending` (the packets the inside node
/// sends) and on its down link at `.receiving` (the packets it receives); a flow is the pair of
/// endpoints, whichever way a packet goes. A SYN without ACK from the inside makes state; a
/// packet from the outside never does (a NAT has no mapping to send it to).
///
/// A table may come into the path, or change its timeout, while connections are open
/// (``switchOn(at:)``, ``idleTimeout``): a timeout changed applies to every flow from then on,
/// counted from its last packet; a table switched on adopts the flows already open as if each
/// had carried a packet at that moment, so they keep going and expire only after `idleTimeout`
/// of silence from then.
///
/// Simplifications: one timeout for every state (real gateways often expire flows that saw a
/// FIN or RST sooner, and half-open SYN state sooner still); a SYN that reuses the endpoints
/// of a live flow refreshes it; expiry is lazy (checked when a packet of the flow arrives), which
/// decides every verdict as an eager timer would.
public final class IdleExpiringState: PacketFilter {
    /// One flow, keyed by its inside and outside endpoints.
    private struct Flow: Hashable {
        var inside: Endpoint
        var outside: Endpoint
    }

    public let name: String
    /// How long a flow may carry nothing before its state is gone.
    public var idleTimeout: TimeAmount
    /// The nodes on the inside of the table (add each before its first packet).
    public var inside: Set<NodeID>
    /// When each live flow last carried a packet.
    private var lastSeen: [Flow: NIODeadline] = [:]
    /// When the table was switched on mid-run: a flow without state counts as seen then.
    private var adoptedSince: NIODeadline?
    /// Flows forgotten after their idle timeout so far.
    public private(set) var flowsExpired = 0
    /// Packets dropped because their flow had no state.
    public private(set) var packetsDropped = 0

    /// A table for the nodes in `inside`.
    public init(name: String, idleTimeout: TimeAmount, inside: Set<NodeID> = []) {
        self.name = name
        self.idleTimeout = idleTimeout
        self.inside = inside
    }

    /// Flows with state now (expired ones still counted until a packet of theirs comes).
    public var flowCount: Int { self.lastSeen.count }

    /// Starts the table afresh at `now` on a path whose connections may be open already: it
    /// forgets what it held and treats every flow as last seen at `now`. A flow that carries
    /// nothing for `idleTimeout` from then is forgotten as any other (it does not count in
    /// ``flowsExpired``, which counts flows the table held state for).
    public func switchOn(at now: NIODeadline) {
        self.lastSeen.removeAll()
        self.adoptedSince = now
    }

    public func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        let outbound = self.inside.contains(segment.source.node)
        let flow = outbound
            ? Flow(inside: segment.source, outside: segment.destination)
            : Flow(inside: segment.destination, outside: segment.source)
        // Once the adopted flows' time is up it stays up, whatever the timeout becomes later.
        if let adopted = self.adoptedSince, now - adopted >= self.idleTimeout { self.adoptedSince = nil }
        if let seen = self.lastSeen[flow] ?? self.adoptedSince, now - seen < self.idleTimeout {
            self.lastSeen[flow] = now
            return .pass
        }
        if self.lastSeen.removeValue(forKey: flow) != nil { self.flowsExpired += 1 }
        if outbound, segment.flags.contains(.syn), !segment.flags.contains(.ack) {
            self.lastSeen[flow] = now
            return .pass
        }
        self.packetsDropped += 1
        return .drop
    }
}
