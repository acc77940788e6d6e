/// A packet firewall rule declared in a topology (YAML `firewall:`), in force from the start of
/// the run: the same rule a timeline `firewall:` entry adds at its time, and one the timeline
/// can remove by its name (`removeFirewall` with the same target).
///
/// Where it stands decides whose packets it sees: on client groups, the links between each of
/// their clients and the server or their proxy; on a middlebox, its link to the server (the
/// proxy's upstream, not its clients'); on the server, every link that reaches it.
public struct FirewallRule: Sendable, Equatable {
    /// The rule's name (for `removeFirewall`, and in traces as the filter's name).
    public var name: String
    /// The links it stands on: groups, a middlebox's link to the server, or the server's links.
    public var target: GroupSelection
    /// The server's (or proxy's) port whose packets it matches.
    public var port: Int
    /// What it does to a matching packet.
    public var action: FirewallAction
    /// Packets to `port` (`inbound`, towards the server) or from it (`outbound`).
    public var direction: FirewallDirection

    /// Creates a rule.
    public init(name: String, target: GroupSelection, port: Int, action: FirewallAction, direction: FirewallDirection = .inbound) {
        self.name = name
        self.target = target
        self.port = port
        self.action = action
        self.direction = direction
    }
}
