import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import NIOCore

/// The fault timeline: each entry of the experiment's `timeline` runs at its time, acting on a
/// group's links, its firewall rules, or a proxy's policy.
extension ExperimentRun {
    func scheduleTimeline() {
        // Stable by time: entries at the same time keep their file order.
        let ordered = self.experiment.timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
        for (index, event) in ordered {
            self.simulation.schedule(at: self.simulation.at(event.at)) { [unowned self] in
                self.simulation.trace.record(self.simulation.now, self.timelineComponent, self.kindTimeline, Int64(index))
                self.perform(event.action)
            }
        }
    }

    private func links(_ group: String, _ direction: LinkDirection) -> [Link] {
        let links = self.groupLinks[group] ?? ([], [])
        switch direction {
        case .up: return links.up
        case .down: return links.down
        case .both: return links.up + links.down
        }
    }

    private func perform(_ action: TimelineAction) {
        switch action {
        case .partition(let group, let direction):
            for link in self.links(group, direction) { link.configuration.isUp = false }
        case .heal(let group, let direction):
            for link in self.links(group, direction) { link.configuration.isUp = true }
            let now = self.simulation.now
            for agent in self.agents where self.experiment.topology.groups[agent.group].name == group { agent.markHeal(at: now) }
        case .setLink(let group, let direction, let configuration):
            for link in self.links(group, direction) {
                // Up or down stays as partition and heal left it.
                let isUp = link.configuration.isUp
                link.configuration = configuration
                link.configuration.isUp = isUp
            }
        case .addFirewall(let name, let group, let port, let firewallAction):
            let rule = PortFirewall.Rule(port: UInt16(port), action: firewallAction == .drop ? .drop : .reject)
            for link in self.links(group, .up) { self.network.install(PortFirewall(name: name, rules: [rule]), on: link) }
        case .removeFirewall(let name, let group):
            for link in self.links(group, .up) { self.network.removeFilter(named: name, from: link) }
        case .flap(let group, let direction, let period, let upFraction, let until):
            self.flap(group, direction, period: period, upFraction: upFraction, until: self.simulation.at(until))
        case .setProxyPolicy(let middlebox, let policy):
            self.proxies[middlebox]?.policy = policy
        }
    }

    /// Down for (1 − upFraction) of each period, then up for the rest, until `until`.
    private func flap(_ group: String, _ direction: LinkDirection, period: TimeAmount, upFraction: Double, until: NIODeadline) {
        let now = self.simulation.now
        guard now < until else {
            self.perform(.heal(group: group, direction: direction))
            return
        }
        for link in self.links(group, direction) { link.configuration.isUp = false }
        let downFor = TimeAmount.nanoseconds(Int64(Double(period.nanoseconds) * (1 - upFraction)))
        self.simulation.schedule(at: min(now + downFor, until)) { [unowned self] in
            self.perform(.heal(group: group, direction: direction))
            let next = now + period
            if next < until {
                self.simulation.schedule(at: next) { [unowned self] in
                    self.flap(group, direction, period: period, upFraction: upFraction, until: until)
                }
            }
        }
    }
}
