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

/// A firewall rule set matching on a port and the direction of the packet: inbound to it (the
/// destination port, on one node or any), or outbound from it (the source port).
///
/// The simplest real middlebox: `DROP` costs a client the whole SYN retry schedule,
/// `REJECT` (with tcp-reset) one round trip. Which hosts a rule applies to is where it is
/// installed: on the links of one group of clients and not another's, a rule matches that
/// group's packets alone.
public final class PortFirewall: PacketFilter {
    /// What the rule does to a matching packet.
    public enum Action: Sendable, Equatable {
        case drop
        case reject
    }

    /// Which packets of a port a rule matches.
    public enum Direction: Sendable, Equatable {
        /// Packets to the port (its destination port): requests to a service.
        case inbound
        /// Packets from the port (its source port): what the service sends back.
        case outbound
    }

    /// One rule: packets to `port` (on `node`, or on any node when nil) when `inbound`, or
    /// from `port` (of `node`, or of any node) when `outbound`, get `action`.
    public struct Rule: Sendable, Equatable {
        public var node: NodeID?
        public var port: UInt16
        public var action: Action
        public var direction: Direction
        public init(node: NodeID? = nil, port: UInt16, action: Action, direction: Direction = .inbound) {
            self.node = node
            self.port = port
            self.action = action
            self.direction = direction
        }

        /// Whether `segment` is one of the packets the rule matches.
        func matches(_ segment: Segment) -> Bool {
            let service = self.direction == .inbound ? segment.destination : segment.source
            return service.port == self.port && (self.node.map { $0 == service.node } ?? true)
        }
    }

    public let name: String
    public var rules: [Rule]

    public init(name: String, rules: [Rule]) {
        self.name = name
        self.rules = rules
    }

    public func process(_ segment: Segment, now: NIODeadline) -> Verdict {
        for rule in self.rules where rule.matches(segment) {
            switch rule.action {
            case .drop: return .drop
            case .reject: return .reset
            }
        }
        return .pass
    }
}
