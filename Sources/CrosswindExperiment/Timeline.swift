import CrosswindMiddlebox
import CrosswindNetwork
import NIOCore

/// Which direction of a client group's links an action touches (up: client → server).
public enum LinkDirection: String, Sendable, Equatable, CaseIterable {
    case up, down, both
}

/// What a packet firewall rule does to matching packets.
public enum FirewallAction: String, Sendable, Equatable, CaseIterable {
    /// Silently discard (the client waits out its SYN retries).
    case drop
    /// Answer with a TCP RST (the client learns at once).
    case reject
}

/// One scheduled fault or repair, `at` a time after the start of the run.
public struct TimelineEvent: Sendable, Equatable {
    public var at: TimeAmount
    public var action: TimelineAction
    /// The line of the file it was written on, when loaded from YAML.
    public var sourceLine: Int?

    public init(at: TimeAmount, action: TimelineAction, sourceLine: Int? = nil) {
        self.at = at
        self.action = action
        self.sourceLine = sourceLine
    }
}

/// The actions of an experiment's fault timeline. Link and firewall actions name a client
/// group and act on the links between each of its clients and the node it connects to (the
/// server, or the proxy in front of it); `setProxyPolicy` names a middlebox.
public enum TimelineAction: Sendable, Equatable {
    /// The links go down (a black hole: no RST, no FIN).
    case partition(group: String, direction: LinkDirection)
    /// The links come back up.
    case heal(group: String, direction: LinkDirection)
    /// The links take new properties (latency, loss, bandwidth…). Whether a link is up stays
    /// as it is (partition and heal decide that): the configuration's `isUp` is not applied.
    case setLink(group: String, direction: LinkDirection, link: LinkConfiguration)
    /// A firewall rule on the group's up links: packets to `port` are dropped or rejected.
    case addFirewall(name: String, group: String, port: Int, action: FirewallAction)
    /// Removes the firewall rules called `name` from the group's up links.
    case removeFirewall(name: String, group: String)
    /// The links go down and up repeatedly: each `period`, up for `upFraction` of it, until
    /// `until` (then they stay up).
    case flap(group: String, direction: LinkDirection, period: TimeAmount, upFraction: Double, until: TimeAmount)
    /// An HTTP proxy middlebox takes a new policy from now on (for new connections and for
    /// responses and upgrades still to come); the pass-through default "removes" it.
    case setProxyPolicy(middlebox: String, policy: HTTPProxyPolicy)

    /// The group the action applies to (nil for middlebox actions).
    public var group: String? {
        switch self {
        case .partition(let group, _), .heal(let group, _), .setLink(let group, _, _),
            .addFirewall(_, let group, _, _), .removeFirewall(_, let group), .flap(let group, _, _, _, _):
            return group
        case .setProxyPolicy:
            return nil
        }
    }

    /// The action's key in a file's timeline entry (`firewall` for ``addFirewall(name:group:port:action:)``).
    var fileKey: String {
        switch self {
        case .partition: return "partition"
        case .heal: return "heal"
        case .setLink: return "setLink"
        case .addFirewall: return "firewall"
        case .removeFirewall: return "removeFirewall"
        case .flap: return "flap"
        case .setProxyPolicy: return "setProxyPolicy"
        }
    }
}
