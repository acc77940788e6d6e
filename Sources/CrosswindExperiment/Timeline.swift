import CrosswindMiddlebox
import CrosswindNetwork
import NIOCore

/// Which direction of a client group's links an action touches (up: client → server).
public enum LinkDirection: String, Sendable, Equatable, CaseIterable {
    case up, down, both
}

/// Which packets of a port a firewall rule matches. The raw values are the names experiment files use.
public enum FirewallDirection: String, Sendable, Equatable, CaseIterable {
    /// Packets the groups' clients send to the port: connects and requests.
    case inbound
    /// Packets the port sends to the groups' clients: answers, pushes and pongs.
    case outbound
}

/// What a packet firewall rule does to matching packets.
public enum FirewallAction: String, Sendable, Equatable, CaseIterable {
    /// Silently discard (the client waits out its SYN retries).
    case drop
    /// Answer with a TCP RST (the client learns at once).
    case reject
}

/// What a timeline action or a firewall rule applies to: client groups (the links between each
/// of their clients and the node it connects to), or, for the link and firewall actions, a
/// middlebox's link to the server or every link that reaches the server.
///
/// A string literal is one group (`"office"`), an array literal a list (`["office", "home"]`).
public enum GroupSelection: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// One group (YAML `group: office`).
    case group(String)
    /// Several groups, in this order (YAML `groups: [office, home]`).
    case groups([String])
    /// Every group of the topology, in its order (YAML `groups: all`).
    case all
    /// The link between a middlebox and the server (YAML `middlebox: corp-proxy`): `up` is
    /// proxy → server, `down` server → proxy; the proxy's clients' own links are untouched.
    case middlebox(String)
    /// Every link that reaches the server — from the groups that connect to it directly and
    /// from each middlebox — as when the server's own network goes (YAML `server: true`): `up`
    /// is towards the server.
    case server

    public init(stringLiteral name: String) {
        self = .group(name)
    }

    public init(arrayLiteral names: String...) {
        self = .groups(names)
    }

    /// As written in a file: `office`, `[office, home]`, `all`, `middlebox corp-proxy`, `server`.
    public var description: String {
        switch self {
        case .group(let name): return name
        case .groups(let names): return "[\(names.joined(separator: ", "))]"
        case .all: return "all"
        case .middlebox(let name): return "middlebox \(name)"
        case .server: return "server"
        }
    }

    /// The names of the groups whose clients' paths the selection cuts across in `topology`,
    /// in order: the groups named, the groups behind a middlebox, or every group for the server.
    public func names(in topology: Topology) -> [String] {
        switch self {
        case .group(let name): return [name]
        case .groups(let names): return names
        case .all, .server: return topology.groups.map(\.name)
        case .middlebox(let name): return topology.middleboxes.first { $0.name == name }?.groups ?? []
        }
    }

    /// Whether it names client groups (and not a middlebox's or the server's links).
    public var isGroups: Bool {
        switch self {
        case .group, .groups, .all: return true
        case .middlebox, .server: return false
        }
    }
}

/// One scheduled fault or repair, `at` a time after the start of the run.
public struct TimelineEvent: Sendable, Equatable {
    public var at: TimeAmount
    public var action: TimelineAction
    /// When set, the action is undone by itself this long after `at` (YAML `for:`): a partition
    /// heals, a link change, a proxy policy or a NAT goes back to what it was just before, a
    /// firewall rule is removed, a flap stops with the links up. Only for actions that can be undone
    /// (``TimelineAction/isRevertible``).
    public var revertAfter: TimeAmount?
    /// The line of the file it was written on, when loaded from YAML.
    public var sourceLine: Int?

    public init(at: TimeAmount, action: TimelineAction, revertAfter: TimeAmount? = nil, sourceLine: Int? = nil) {
        self.at = at
        self.action = action
        self.revertAfter = revertAfter
        self.sourceLine = sourceLine
    }
}

/// The actions of an experiment's fault timeline. Link, firewall and NAT actions name client
/// groups and act on the links between each of their clients and the node it connects to (the
/// server, or the proxy in front of it); the link and firewall actions (`partition`, `heal`,
/// `setLink`, `flap`, `firewall`, `removeFirewall`) may name a middlebox's link to the server or
/// the server's links instead (``GroupSelection``); `setProxyPolicy` names a middlebox;
/// `restartServer` acts on the server.
public enum TimelineAction: Sendable, Equatable {
    /// The links go down (a black hole: no RST, no FIN).
    case partition(group: GroupSelection, direction: LinkDirection)
    /// The links come back up.
    case heal(group: GroupSelection, direction: LinkDirection)
    /// The links take new properties (latency, loss, bandwidth…). Whether a link is up stays
    /// as it is (partition and heal decide that): the configuration's `isUp` is not applied.
    case setLink(group: GroupSelection, direction: LinkDirection, link: LinkConfiguration)
    /// A firewall rule on the selection's links (see ``FirewallRule``): packets to the server's
    /// (or proxy's) `port` (`inbound`) or from it (`outbound`) are dropped or rejected.
    case addFirewall(name: String, group: GroupSelection, port: Int, action: FirewallAction, direction: FirewallDirection = .inbound)
    /// Removes the firewall rules called `name` from the selection's links, whether the
    /// timeline or the topology put them there.
    case removeFirewall(name: String, group: GroupSelection)
    /// The groups' NAT takes a new idle timeout, or goes (`nil`). A NAT that was there keeps
    /// its flows, each now expiring `idleTimeout` after its last packet; a NAT switched on
    /// adopts the connections already open as if each had just carried a packet (see
    /// `IdleExpiringState`). Groups only: a middlebox has no NAT on its upstream.
    case setNat(group: GroupSelection, idleTimeout: TimeAmount?)
    /// The links go down and up repeatedly: each `period`, up for `upFraction` of it, until
    /// `until` (then they stay up).
    case flap(group: GroupSelection, direction: LinkDirection, period: TimeAmount, upFraction: Double, until: TimeAmount)
    /// An HTTP proxy middlebox takes a new policy from now on (for new connections and for
    /// responses and upgrades still to come); the pass-through default "removes" it.
    case setProxyPolicy(middlebox: String, policy: HTTPProxyPolicy)
    /// The server process crashes and starts again `down` later on the same node and ports.
    /// The crash sends nothing (no FIN, no RST): its connections vanish, and every segment that
    /// reaches the host for them afterwards gets an RST, as does every SYN while it is down
    /// (the host is up, the port closed). The new server starts with a new epoch and no history,
    /// unless `persist` keeps its topic streams (epoch, offsets and retained messages), as a
    /// server with a durable log would. Nothing is published while it is down.
    ///
    /// With several server nodes, `node` names the one that crashes (nil: the only one). The
    /// others go on serving and the workload goes on publishing into the shared log; the
    /// balancers send no new connection to the node while it is down, and it comes back with
    /// the log as it stands (`persist` does not apply: the log outlives any node).
    case restartServer(down: TimeAmount, persist: Bool, node: String? = nil)

    /// The groups the action applies to (nil for middlebox and server actions).
    public var groups: GroupSelection? {
        switch self {
        case .partition(let group, _), .heal(let group, _), .setLink(let group, _, _),
            .addFirewall(_, let group, _, _, _), .removeFirewall(_, let group), .flap(let group, _, _, _, _),
            .setNat(let group, _):
            return group
        case .setProxyPolicy, .restartServer:
            return nil
        }
    }

    /// The one group the action names (nil when it names several or all, and for middlebox actions).
    public var group: String? {
        if case .group(let name) = groups { return name }
        return nil
    }

    /// Whether the action can be undone after a while (``TimelineEvent/revertAfter``): every
    /// fault can; the repairs `heal` and `removeFirewall` cannot, nor `restartServer` (its
    /// `down` says when the server is back). `setNat` goes back to the timeout before it, or to
    /// no NAT.
    public var isRevertible: Bool {
        switch self {
        case .partition, .setLink, .addFirewall, .flap, .setProxyPolicy, .setNat: return true
        case .heal, .removeFirewall, .restartServer: return false
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
        case .restartServer: return "restartServer"
        case .setNat: return "setNat"
        }
    }
}
