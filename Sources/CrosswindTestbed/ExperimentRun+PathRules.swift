import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import NIOCore

/// The packet-level rules on the run's paths: firewall rules (the topology's from the start,
/// the timeline's at their time) and the groups' NATs as the timeline changes them.
extension ExperimentRun {
    /// Installs the topology's firewall rules, in order, before any client connects.
    func installTopologyFirewall() {
        for rule in self.experiment.topology.firewall { self.install(rule) }
    }

    /// Installs `rule` on the links of its target; returns them (for the undoing).
    ///
    /// The rule stands in front of the node the links reach: the server, or the proxy a group
    /// goes through. Inbound, where the up links arrive: a DROP lets the SYN cross the link
    /// first, and a REJECT's RST crosses the down link back, one round trip in all, as a
    /// remote firewall's does. Outbound, where the down links leave: the receiver hears
    /// nothing, and a REJECT's RST goes back to the sender at once. Being on these links alone,
    /// it matches their packets and no others: on a middlebox's link to the server, the
    /// proxy's upstream packets and not its clients'.
    @discardableResult
    func install(_ rule: FirewallRule) -> [Link] {
        let inbound = rule.direction == .inbound
        let links = self.links(rule.target, inbound ? .up : .down)
        let filterRule = PortFirewall.Rule(
            port: UInt16(rule.port), action: rule.action == .drop ? .drop : .reject, direction: inbound ? .inbound : .outbound
        )
        for link in links {
            self.network.install(PortFirewall(name: rule.name, rules: [filterRule]), on: link, at: inbound ? .receiving : .sending)
        }
        return links
    }

    /// Gives group `name`'s NAT `idleTimeout`, switching it on (adopting the flows already
    /// open, see ``IdleExpiringState/switchOn(at:)``) or off (`nil`: off the path, its flows
    /// forgotten).
    func setNat(_ name: String, idleTimeout: TimeAmount?) {
        let (up, down) = self.groupLinks[name] ?? ([], [])
        switch (self.natTables[name], idleTimeout) {
        case (let table?, let timeout?):
            table.idleTimeout = timeout
        case (let table?, nil):
            self.natTables[name] = nil
            for link in up + down { self.network.removeFilter(named: table.name, from: link) }
        case (nil, let timeout?):
            let table = IdleExpiringState(name: "nat:\(name)", idleTimeout: timeout, inside: Set(up.map(\.from)))
            table.switchOn(at: self.simulation.now)
            self.natTables[name] = table
            // Next to the client, as a NAT from the topology stands.
            for link in up { self.network.install(table, on: link, at: .sending) }
            for link in down { self.network.install(table, on: link, at: .receiving) }
        case (nil, nil):
            break
        }
    }
}
