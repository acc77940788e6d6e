import CrosswindExperiment
import CrosswindKernel
import CrosswindMiddlebox
import CrosswindNetwork
import NIOCore

/// The fault timeline: each entry of the experiment's `timeline` runs at its time, acting on
/// links, firewall rules and NATs (`+PathRules`), a proxy's policy, or the server (`+Restart`). An entry
/// with `revertAfter` (YAML `for:`) is undone at `at + revertAfter` by a task that records
/// `timeline.revert` in the trace and performs the inverse the action returned when it ran.
///
/// A fault lasts the half-open interval `[at, at + for)`: the undoing due at a moment runs
/// before the actions due at that moment, so a fault that begins as another of the same links
/// ends (`{ at: 10s, for: 2s }` then `{ at: 12s, … }`) follows it instead of being undone by
/// it — and a later undoing of its own never brings the earlier fault back.
extension ExperimentRun {
    func scheduleTimeline() {
        // Stable by time: entries at the same time keep their file order.
        let ordered = self.experiment.timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
        let undos = UndoSlots()
        // The undoings first, so that at one moment every undoing due runs before every action
        // due (same-deadline tasks run in the order they were scheduled), in time order.
        let reverts = ordered.compactMap { entry in entry.element.revertAfter.map { (index: entry.offset, at: entry.element.at + $0) } }
        for revert in reverts.sorted(by: { ($0.at, $0.index) < ($1.at, $1.index) }) {
            self.simulation.schedule(at: self.simulation.at(revert.at)) { [unowned self] in
                guard let undo = undos.slots.removeValue(forKey: revert.index) else { return }
                // Registered on first use, so runs without `for:` keep their traces (and digests).
                let actions = self.simulation.trace.vocabulary("timeline.action")
                let kindRevert = self.simulation.trace.kind("timeline.revert", fields: [TraceField("action", actions)])
                self.simulation.trace.record(self.simulation.now, self.timelineComponent, kindRevert, Int64(revert.index))
                undo()
            }
        }
        for (index, event) in ordered {
            self.simulation.schedule(at: self.simulation.at(event.at)) { [unowned self] in
                self.simulation.trace.record(self.simulation.now, self.timelineComponent, self.kindTimeline, Int64(index))
                let undo = self.perform(event.action)
                if event.revertAfter != nil, let undo { undos.slots[index] = undo }
            }
        }
    }

    /// The links of the selection in `direction`: the selected groups', group by group in the
    /// selection's order; a middlebox's link to the server; or every link that reaches the
    /// server (the direct groups' in topology order, then each middlebox's).
    func links(_ selection: GroupSelection, _ direction: LinkDirection) -> [Link] {
        let topology = self.experiment.topology
        let pairs: [(up: [Link], down: [Link])]
        switch selection {
        case .group, .groups, .all:
            pairs = selection.names(in: topology).map { self.groupLinks[$0] ?? ([], []) }
        case .middlebox(let name):
            pairs = self.middleboxLinks[name].map { [$0] } ?? []
        case .server:
            let direct = topology.groups.filter { self.gateways[$0.name] == nil }.map { self.groupLinks[$0.name] ?? ([], []) }
            let proxies = topology.middleboxes.compactMap { self.middleboxLinks[$0.name] }
            pairs = direct + proxies
        }
        return pairs.flatMap { links -> [Link] in
            switch direction {
            case .up: return links.up
            case .down: return links.down
            case .both: return links.up + links.down
            }
        }
    }

    /// Performs `action`; returns what undoes it (nil for the repairs, which are not undone).
    @discardableResult
    private func perform(_ action: TimelineAction) -> (() -> Void)? {
        switch action {
        case .partition(let group, let direction):
            for link in self.links(group, direction) { link.configuration.isUp = false }
            return { [unowned self] in self.perform(.heal(group: group, direction: direction)) }
        case .heal(let group, let direction):
            for link in self.links(group, direction) { link.configuration.isUp = true }
            let now = self.simulation.now
            let names = Set(group.names(in: self.experiment.topology))
            for agent in self.agents where names.contains(self.experiment.topology.groups[agent.group].name) { agent.markHeal(at: now) }
            return nil
        case .setLink(let group, let direction, let configuration):
            let links = self.links(group, direction)
            let previous = links.map(\.configuration)
            for link in links { Self.apply(configuration, to: link) }
            return {
                for (link, configuration) in zip(links, previous) { Self.apply(configuration, to: link) }
            }
        case .addFirewall(let name, let group, let port, let firewallAction, let direction):
            let links = self.install(FirewallRule(name: name, target: group, port: port, action: firewallAction, direction: direction))
            return { [unowned self] in
                for link in links { self.network.removeFilter(named: name, from: link) }
            }
        case .removeFirewall(let name, let group):
            for link in self.links(group, .both) { self.network.removeFilter(named: name, from: link) }
            return nil
        case .setNat(let group, let idleTimeout):
            let names = group.names(in: self.experiment.topology)
            let previous = names.map { self.natTables[$0]?.idleTimeout }
            for name in names { self.setNat(name, idleTimeout: idleTimeout) }
            return { [unowned self] in
                for (name, timeout) in zip(names, previous) { self.setNat(name, idleTimeout: timeout) }
            }
        case .flap(let group, let direction, let period, let upFraction, let until):
            let flapping = Flapping()
            self.flap(group, direction, period: period, upFraction: upFraction, until: self.simulation.at(until), flapping)
            return { [unowned self] in
                guard !flapping.stopped else { return }
                flapping.stopped = true
                self.perform(.heal(group: group, direction: direction))
            }
        case .setProxyPolicy(let middlebox, let policy):
            let previous = self.proxies[middlebox]?.policy
            self.proxies[middlebox]?.policy = policy
            return { [unowned self] in
                if let previous { self.proxies[middlebox]?.policy = previous }
            }
        case .restartServer(let down, let persist, let node):
            if let node, self.serverNodes.count > 1 {
                self.crashNode(node, down: down)
            } else {
                self.crashServer(down: down, persist: persist)
            }
            return nil
        }
    }

    /// A link takes `configuration`; whether it is up stays as partition and heal left it.
    private static func apply(_ configuration: LinkConfiguration, to link: Link) {
        let isUp = link.configuration.isUp
        link.configuration = configuration
        link.configuration.isUp = isUp
    }

    /// Down for (1 − upFraction) of each period, then up for the rest, until `until` or until
    /// `flapping` is stopped (by the entry's revert).
    private func flap(
        _ group: GroupSelection, _ direction: LinkDirection, period: TimeAmount, upFraction: Double, until: NIODeadline,
        _ flapping: Flapping
    ) {
        let now = self.simulation.now
        guard now < until else {
            flapping.stopped = true
            self.perform(.heal(group: group, direction: direction))
            return
        }
        for link in self.links(group, direction) { link.configuration.isUp = false }
        let downFor = TimeAmount.nanoseconds(Int64(Double(period.nanoseconds) * (1 - upFraction)))
        self.simulation.schedule(at: min(now + downFor, until)) { [unowned self] in
            guard !flapping.stopped else { return }
            self.perform(.heal(group: group, direction: direction))
            let next = now + period
            if next < until {
                self.simulation.schedule(at: next) { [unowned self] in
                    guard !flapping.stopped else { return }
                    self.flap(group, direction, period: period, upFraction: upFraction, until: until, flapping)
                }
            }
        }
    }
}

/// The undoings of the entries that ran, by entry index, until their time comes. Confined to
/// the simulation loop.
private final class UndoSlots {
    var slots: [Int: () -> Void] = [:]
}

/// Whether a flap has ended: its revert (or its `until`) stops the down-and-up tasks still
/// scheduled. Confined to the simulation loop.
private final class Flapping {
    var stopped = false
}
