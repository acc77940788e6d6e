import NIOCore

/// What a packet-level middlebox decides about a segment.
public enum Verdict: Sendable, Equatable {
    /// Let it through unchanged (the next filter decides).
    case pass
    /// Let it through after an extra delay.
    case deliver(after: TimeAmount)
    /// Silently discard it (a firewall DROP, a black hole).
    case drop
    /// Discard it and answer the sender with a TCP RST (a firewall REJECT with tcp-reset).
    case reset
}

/// A packet-level middlebox: one narrow hook, evaluated in installation order, first
/// non-`pass` verdict wins. Filters get time as a parameter and own any randomness they
/// need (seeded in their constructor), so they stay deterministic.
public protocol PacketFilter: AnyObject {
    /// A name for traces and reports ("firewall:office").
    var name: String { get }
    func process(_ segment: Segment, now: NIODeadline) -> Verdict
}

/// A firewall rule set matching on destination node and port.
///
/// The simplest real middlebox: `DROP` costs a client the whole SYN retry schedule,
/// `REJECT` (with tcp-reset) one round trip.
public final class PortFirewall: PacketFilter {
    /// What the rule does to a matching packet.
    public enum Action: Sendable, Equatable {
        case drop
        case reject
    }

    /// One rule: packets to `port` (on `node`, or on any node when nil) get `action`.
    public struct Rule: Sendable, Equatable {
        public var node: NodeID?
        public var port: UInt16
        public var action: Action
        public init(node: NodeID? = nil, port: UInt16, action: Action) {
            self.node = node
            self.port = port
            self.action = action
        }
    }

    public let name: String
    public var rules: [Rule]

    public init(name: String, rules: [Rule]) {
        self.name = name
        self.rules = rules
    }

    public func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        for rule in self.rules where rule.port == segment.destination.port {
            if let node = rule.node, node != segment.destination.node { continue }
            switch rule.action {
            case .drop: return .drop
            case .reject: return .reset
            }
        }
        return .pass
    }
}
