import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// The checks that span several keys — unique names, references between groups, middleboxes and
/// timeline entries, the order of related values — written once on the model's values, for the
/// reader (``DocumentReporter``: positions in the file) and for values built in Swift
/// (``ModelValidator``: key paths) alike.
///
/// A rule stays silent about a value that already has a problem (``RuleReporter/hasProblem(_:)``),
/// so one mistake is reported once.
enum ModelRules {
    // MARK: - Topology

    /// Checks a topology: at least one group; group names unique and not the server's; each
    /// group's TCP timeouts and manager; the middleboxes; the groups and middleboxes the firewall
    /// rules stand on. `groupNamesComplete` (`middleboxNamesComplete`) says whether every group
    /// (middlebox) of the file could be read (a reference to an unknown one is reported only then).
    static func topology(
        _ topology: Topology, groupNamesComplete: Bool = true, middleboxNamesComplete: Bool = true, _ r: some RuleReporter
    ) {
        let groups = topology.groups
        if groups.isEmpty, !r.hasProblem("groups") {
            r.report(["groups"], "needs at least one client group")
        }
        let serverNameKnown = !r.hasProblem("server.name")
        var firstIndexOfName: [String: Int] = [:]
        for (index, group) in groups.enumerated() {
            let path = r.element("groups", index)
            let name = "\(path).name"
            if !r.hasProblem(name) {
                if serverNameKnown, group.name == topology.server.name {
                    r.report([name], "'\(group.name)' is already the server's name (node names must be unique)")
                } else if let first = firstIndexOfName[group.name] {
                    r.report([name], "duplicate group name '\(group.name)' (already used \(r.place("\(r.element("groups", first)).name")))")
                }
            }
            if firstIndexOfName[group.name] == nil { firstIndexOfName[group.name] = index }
            tcp(group.tcp, at: "\(path).tcp", r)
            if group.sharedLink, !r.hasProblem("\(path).link") {
                let missing = [("up", group.link.up), ("down", group.link.down)].filter { $0.1.bandwidthBitsPerSecond == nil }.map(\.0)
                if !missing.isEmpty {
                    r.report(
                        ["\(path).sharedLink"],
                        "a shared link needs a bandwidth both ways (the rate its one queue drains at); \(missing.joined(separator: " and ")) has none"
                    )
                }
            }
            if let manager = group.manager { self.manager(manager, at: "\(path).manager", r) }
        }
        tcp(topology.server.tcp, at: "server.tcp", r)
        middleboxes(topology, groupNamesComplete: groupNamesComplete, r)
        serverNodes(topology, r)
        for (index, rule) in topology.firewall.enumerated() where rule.target.isGroups ? groupNamesComplete : middleboxNamesComplete {
            Self.groups(rule.target, at: r.element("firewall", index), in: topology, r)
        }
    }

    /// Several server nodes are reached only through a balancer: every group is behind a
    /// middlebox. `sticky` means something only with several nodes.
    static func serverNodes(_ topology: Topology, _ r: some RuleReporter) {
        let nodes = topology.server.nodes
        guard !r.hasProblem("server.nodes") else { return }
        if nodes > 1 {
            let fronted = Set(topology.middleboxes.flatMap(\.groups))
            let direct = topology.groups.map(\.name).filter { !fronted.contains($0) }
            if !direct.isEmpty {
                r.report(
                    ["server.nodes", "server"],
                    "with \(nodes) server nodes every group must be behind a middlebox, which balances connections over them; not behind one: \(direct.joined(separator: ", "))"
                )
            }
        }
        for (index, middlebox) in topology.middleboxes.enumerated() where middlebox.sticky && nodes == 1 {
            let path = "\(r.element("middleboxes", index)).sticky"
            if !r.hasProblem(path) {
                r.report([path], "sticky applies only with several server nodes (server.nodes above 1)")
            }
        }
    }

    /// Checks the topics of the groups against the workload: a group follows only topics the
    /// workload publishes. Reported at the workload's topics.
    static func groupTopics(_ topology: Topology, workload: Workload, _ r: some RuleReporter) {
        guard !r.hasProblem("workload.topics"), !r.hasProblem("workload.topic") else { return }
        for group in topology.groups {
            let candidates = ["workload.topics", "workload.topic", "workload"]
            if let topics = group.topics {
                if let stranger = topics.first(where: { !workload.topics.contains($0) }) {
                    r.report(candidates, "group '\(group.name)' follows topic '\(stranger)', which the workload does not publish")
                }
            }
        }
    }

    /// `minRTO <= initialRTO <= maxRTO`, reported at the first of the keys involved that is written.
    static func tcp(_ settings: TCPSettings, at path: String, _ r: some RuleReporter) {
        let minRTO = "\(path).minRTO"
        let maxRTO = "\(path).maxRTO"
        let initialRTO = "\(path).initialRTO"
        guard ![minRTO, maxRTO, initialRTO].contains(where: r.hasProblem) else { return }
        let describe = Quantity.describe(_:)
        if settings.minRTO > settings.maxRTO {
            r.report([minRTO, maxRTO, path], "minRTO (\(describe(settings.minRTO))) must not exceed maxRTO (\(describe(settings.maxRTO)))")
        } else if settings.initialRTO < settings.minRTO || settings.initialRTO > settings.maxRTO {
            let bounds = "\(describe(settings.minRTO))...\(describe(settings.maxRTO))"
            r.report(
                [initialRTO, minRTO, maxRTO, path],
                "initialRTO (\(describe(settings.initialRTO))) must be within minRTO...maxRTO (\(bounds))"
            )
        }
    }

    /// The fallbacks exclude the default method and repeat nothing; the backoff's cap is at least its base.
    static func manager(_ settings: RealtimeManagerConfiguration, at path: String, _ r: some RuleReporter) {
        let fallbacks = "\(path).fallbackMethods"
        let defaultMethod = "\(path).defaultMethod"
        if !r.hasProblem(fallbacks), !r.hasProblem(defaultMethod) {
            for (index, method) in settings.fallbackMethods.enumerated() {
                let element = "\(fallbacks)[\(index)]"
                if method == settings.defaultMethod {
                    let implicit = r.isWritten(defaultMethod) ? "" : " (by default)"
                    r.report([element], "'\(method.rawValue)' is the defaultMethod\(implicit); list only the transports to fall back to")
                } else if let first = settings.fallbackMethods[..<index].firstIndex(of: method) {
                    r.report([element], "'\(method.rawValue)' is listed twice (first at fallbackMethods[\(first)])")
                }
            }
        }
        let backoff = "\(path).backoff"
        let base = "\(backoff).base"
        let cap = "\(backoff).cap"
        let (baseValue, capValue) = (settings.backoff.base, settings.backoff.cap)
        if !r.hasProblem(base), !r.hasProblem(cap), capValue < baseValue {
            let describe = Quantity.describe(_:)
            if r.isWritten(cap) {
                r.report([cap], "cap (\(describe(capValue))) must be at least base (\(describe(baseValue)))")
            } else {
                r.report([base, backoff], "base (\(describe(baseValue))) must not exceed cap (\(describe(capValue)) by default)")
            }
        }
    }

    /// Middlebox names unique among all node names; each fronts at least one known group, lists
    /// a group once, and a group is behind at most one middlebox.
    static func middleboxes(_ topology: Topology, groupNamesComplete: Bool, _ r: some RuleReporter) {
        let groups = topology.groups
        let serverNameKnown = !r.hasProblem("server.name")
        var firstIndexOfName: [String: Int] = [:]
        /// Each group already behind a middlebox: that middlebox and the path of the reference.
        var behind: [String: (middlebox: String, path: String)] = [:]
        for (index, middlebox) in topology.middleboxes.enumerated() {
            let path = r.element("middleboxes", index)
            let name = "\(path).name"
            tcp(middlebox.tcp, at: "\(path).tcp", r)
            if !r.hasProblem(name) {
                if serverNameKnown, middlebox.name == topology.server.name {
                    r.report([name], "'\(middlebox.name)' is already the server's name (node names must be unique)")
                } else if serverNameKnown, topology.server.nodes > 1, topology.server.nodeNames.contains(middlebox.name) {
                    r.report([name], "'\(middlebox.name)' is already the name of a server node (node names must be unique)")
                } else if let group = groups.firstIndex(where: { $0.name == middlebox.name }) {
                    let at = r.place("\(r.element("groups", group)).name")
                    r.report([name], "'\(middlebox.name)' is already the name of the client group \(at) (node names must be unique)")
                } else if let owner = MiddleboxReader.clientGroup(owningNodeName: middlebox.name, in: groups),
                          let group = groups.firstIndex(where: { $0.name == owner.name }),
                          !r.hasProblem("\(r.element("groups", group)).count") {
                    let at = r.place("\(r.element("groups", group)).name")
                    r.report(
                        [name],
                        "'\(middlebox.name)' is already the name of a client of the group '\(owner.name)' \(at) (node names must be unique)"
                    )
                } else if let first = firstIndexOfName[middlebox.name] {
                    r.report([name], "duplicate middlebox name '\(middlebox.name)' (already used \(r.place("\(r.element("middleboxes", first)).name")))")
                }
            }
            if firstIndexOfName[middlebox.name] == nil { firstIndexOfName[middlebox.name] = index }
            policy(middlebox.policy, at: "\(path).policy", r)
            let groupsPath = "\(path).groups"
            guard !r.hasProblem(groupsPath) else { continue }
            guard !middlebox.groups.isEmpty else {
                r.report([groupsPath], "needs at least one client group")
                continue
            }
            var accepted: [(name: String, path: String)] = []
            for (position, group) in middlebox.groups.enumerated() {
                let element = "\(groupsPath)[\(position)]"
                if let reason = unknownGroup(group, in: topology) {
                    if groupNamesComplete { r.report([element], reason) }
                } else if let first = middlebox.groups[..<position].firstIndex(of: group) {
                    r.report([element], "'\(group)' is listed twice (first at groups[\(first)])")
                } else if let earlier = behind[group] {
                    r.report(
                        [element],
                        "group '\(group)' is already behind middlebox '\(earlier.middlebox)' (\(r.reference(earlier.path))); a group may be behind at most one middlebox"
                    )
                } else {
                    accepted.append((group, element))
                }
            }
            for (group, element) in accepted { behind[group] = (middlebox.name, element) }
        }
    }

    /// A policy's keys that only mean something beside another: `bufferAfter` with
    /// `bufferResponses`, `holdEventsBytes` with `holdEvents`.
    static func policy(_ policy: HTTPProxyPolicy, at path: String, _ r: some RuleReporter) {
        if policy.bufferAfter != nil, policy.bufferResponseBytes == nil, !r.hasProblem("\(path).bufferAfter") {
            r.report(["\(path).bufferAfter", path], "bufferAfter needs bufferResponses (how many bytes to hold once buffering starts)")
        }
        if policy.holdEventsBytes != nil, !policy.holdEvents, !r.hasProblem("\(path).holdEventsBytes") {
            r.report(["\(path).holdEventsBytes", path], "holdEventsBytes applies only with holdEvents: true")
        }
    }

    // MARK: - Timeline

    /// Checks a timeline against the rest of the experiment: every entry before the run ends;
    /// groups and middleboxes that exist; `for` only on actions that can be undone; a firewall
    /// removed only after an earlier entry added it to that group; a flap that ends after it
    /// starts; a restarted server back before the run ends, and no restart while it is down.
    static func timeline(
        _ events: [TimelineEvent], topology: Topology?, groupNamesComplete: Bool, middleboxNamesComplete: Bool,
        workload: Workload?, _ r: some RuleReporter
    ) {
        let runEnd: TimeAmount? = workload.flatMap { workload in
            ["workload.start", "workload.duration", "workload.drain"].contains(where: r.hasProblem) ? nil : workload.metricsAt
        }
        // Where each rule stands (`group 'office'`, `middlebox 'corp-proxy'`, `the server's links`):
        // the topology's from the start, then the timeline's as they are added.
        var firewalls: [(target: String, name: String, at: TimeAmount, path: String)] = []
        for (index, rule) in (topology?.firewall ?? []).enumerated() {
            for target in firewallTargets(rule.target, topology) {
                firewalls.append((target, rule.name, .zero, "topology.firewall[\(index)]"))
            }
        }
        let orInTopology = topology?.firewall.isEmpty == false ? " or in the topology's firewall" : ""
        // Restarts by start time: a node may not restart while another restart has it down.
        var restarts: [(at: TimeAmount, back: TimeAmount, node: String?, path: String)] = []
        for (index, event) in events.enumerated() {
            let path = r.element("timeline", index)
            let atPath = "\(path).at"
            let actionPath = "\(path).\(event.action.fileKey)"
            let atKnown = !r.hasProblem(atPath)
            if atKnown, let runEnd, event.at >= runEnd {
                r.report(
                    [atPath],
                    "must be before the run ends at \(Quantity.describe(runEnd)) (workload start + duration + drain), got \(Quantity.describe(event.at))"
                )
            }
            if event.revertAfter != nil, !event.action.isRevertible {
                r.report(
                    ["\(actionPath).for", actionPath],
                    "'for' does not apply to \(event.action.fileKey): a repair is not undone (it applies to partition, setLink, firewall, flap, setProxyPolicy and setNat)"
                )
            }
            if let selection = event.action.groups, let topology, selection.isGroups ? groupNamesComplete : middleboxNamesComplete {
                groups(selection, at: actionPath, in: topology, r)
            }
            // Entries left out before this one may have added a firewall: say nothing about removals then.
            let nothingLeftOut = path == "timeline[\(index)]"
            switch event.action {
            case .setProxyPolicy(let middlebox, let newPolicy):
                policy(newPolicy, at: actionPath, r)
                let reference = "\(actionPath).middlebox"
                if let topology, middleboxNamesComplete, !r.hasProblem(reference), let reason = unknownMiddlebox(middlebox, in: topology) {
                    r.report([reference], reason)
                }
            case .addFirewall(let name, let selection, _, _, _):
                for target in firewallTargets(selection, topology) {
                    firewalls.append((target, name, event.at, path))
                }
            case .removeFirewall(let name, let selection):
                guard nothingLeftOut, !r.hasProblem("\(actionPath).name") else { break }
                for target in firewallTargets(selection, topology) {
                    let added = firewalls.filter { $0.target == target && $0.name == name }
                    guard let first = added.min(by: { $0.at < $1.at }) else {
                        var known: [String] = []
                        for firewall in firewalls where firewall.target == target && !known.contains(firewall.name) {
                            known.append(firewall.name)
                        }
                        let hint = known.isEmpty ? "" : " (added to it so far: \(known.joined(separator: ", ")))"
                        r.report(["\(actionPath).name"], "no firewall '\(name)' was added to \(target) earlier in the timeline\(orInTopology)\(hint)")
                        continue
                    }
                    if atKnown, first.at > event.at {
                        r.report(
                            [atPath],
                            "removes firewall '\(name)' of \(target) at \(Quantity.describe(event.at)), before it is added at \(Quantity.describe(first.at)) (\(r.reference(first.path)))"
                        )
                    }
                }
            case .flap(_, _, _, _, let until):
                let untilPath = "\(actionPath).until"
                if atKnown, !r.hasProblem(untilPath), !r.hasProblem("\(actionPath).for"), until <= event.at {
                    r.report([untilPath, "\(actionPath).for", actionPath], "must be after at (\(Quantity.describe(event.at))), got \(Quantity.describe(until))")
                }
            case .restartServer(let down, let persist, let node):
                if let topology { restartNode(node, persist: persist, at: actionPath, topology, r) }
                let downPath = "\(actionPath).down"
                guard atKnown, !r.hasProblem(downPath), let back = Quantity.sum(event.at, down) else { break }
                if let runEnd, event.at < runEnd, back >= runEnd {
                    r.report(
                        [downPath, actionPath],
                        "the server must be back before the run ends at \(Quantity.describe(runEnd)), got back at \(Quantity.describe(back)) (at + down)"
                    )
                }
                restarts.append((event.at, back, node, path))
            case .setNat(let selection, _) where !selection.isGroups:
                r.report([actionPath], "setNat applies to client groups (their NAT), not to \(selection)")
            case .partition, .heal, .setLink, .setNat:
                break
            }
        }
        let byStart = restarts.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        for (position, later) in byStart.enumerated() {
            guard let earlier = byStart[..<position].last(where: { $0.node == later.node }), later.at < earlier.back else { continue }
            r.report(
                ["\(later.path).at"],
                "restarts the server\(later.node.map { " node \($0)" } ?? "") at \(Quantity.describe(later.at)) while it is down from the restart at \(Quantity.describe(earlier.at)) until \(Quantity.describe(earlier.back)) (\(r.reference(earlier.path)))"
            )
        }
    }

    /// A restart names a node of the server when it has several (and only then), and does not
    /// ask one node of several to persist: the log is shared and outlives every node.
    private static func restartNode(_ node: String?, persist: Bool, at actionPath: String, _ topology: Topology, _ r: some RuleReporter) {
        let server = topology.server
        guard !r.hasProblem("server.nodes"), !r.hasProblem("server.name") else { return }
        let nodePath = "\(actionPath).node"
        guard !r.hasProblem(nodePath) else { return }
        let names = server.nodeNames.joined(separator: ", ")
        switch node {
        case nil where server.nodes > 1:
            r.report([actionPath], "the server has \(server.nodes) nodes: name the one that restarts with node (\(names))")
        case let node? where !server.nodeNames.contains(node):
            r.report([nodePath], "no server node '\(node)' (nodes: \(names))")
        case _? where persist && server.nodes > 1:
            r.report(["\(actionPath).persist", actionPath], "persist does not apply to a node of several: they share the log, which outlives every node")
        default:
            break
        }
    }

    /// The places a selection puts a firewall rule, in messages' words: `group 'office'` for each
    /// group (none for `all` without a topology), `middlebox 'corp-proxy'`, `the server's links`.
    private static func firewallTargets(_ selection: GroupSelection, _ topology: Topology?) -> [String] {
        switch selection {
        case .group(let name): return ["group '\(name)'"]
        case .groups(let names): return names.map { "group '\($0)'" }
        case .all: return topology?.groups.map { "group '\($0.name)'" } ?? []
        case .middlebox(let name): return ["middlebox '\(name)'"]
        case .server: return ["the server's links"]
        }
    }

    /// A selection names groups of the topology, each once, and at least one.
    private static func groups(_ selection: GroupSelection, at actionPath: String, in topology: Topology, _ r: some RuleReporter) {
        switch selection {
        case .group(let name):
            let path = "\(actionPath).group"
            if !r.hasProblem(path), let reason = unknownGroup(name, in: topology) {
                r.report([path], name == "all" ? "\(reason); for every group write groups: all" : reason)
            }
        case .groups(let names):
            let path = "\(actionPath).groups"
            guard !r.hasProblem(path) else { return }
            guard !names.isEmpty else {
                r.report([path], "needs at least one client group")
                return
            }
            for (index, name) in names.enumerated() {
                if let reason = unknownGroup(name, in: topology) {
                    r.report(["\(path)[\(index)]"], reason)
                } else if let first = names[..<index].firstIndex(of: name) {
                    r.report(["\(path)[\(index)]"], "'\(name)' is listed twice (first at groups[\(first)])")
                }
            }
        case .all, .server:
            break
        case .middlebox(let name):
            let path = "\(actionPath).middlebox"
            if !r.hasProblem(path), let reason = unknownMiddlebox(name, in: topology) { r.report([path], reason) }
        }
    }

    // MARK: - Shared by the expectation reader and the validation of values built in Swift

    /// "no middlebox 'x' (middleboxes: a, b)" when `topology` has no middlebox `name`.
    static func unknownMiddlebox(_ name: String, in topology: Topology) -> String? {
        guard !topology.middleboxes.contains(where: { $0.name == name }) else { return nil }
        let known = topology.middleboxes.isEmpty
            ? "the topology has no middleboxes"
            : "middleboxes: " + topology.middleboxes.map(\.name).joined(separator: ", ")
        return "no middlebox '\(name)' (\(known))"
    }

    /// "no client group 'x' (groups: a, b)" when `topology` has no group `name`.
    static func unknownGroup(_ name: String, in topology: Topology) -> String? {
        guard !topology.groups.contains(where: { $0.name == name }) else { return nil }
        return "no client group '\(name)' (groups: \(topology.groups.map(\.name).joined(separator: ", ")))"
    }

    /// Why a latency lower bound above its upper bound is refused, or `nil`.
    static func latencyBounds(atLeast: TimeAmount, atMost: TimeAmount) -> String? {
        guard atLeast > atMost else { return nil }
        return "atLeast (\(Quantity.describe(atLeast))) is greater than atMost (\(Quantity.describe(atMost))): no latency can pass"
    }

    /// Why a transport expectation's `notBefore` after its `within` is refused, or `nil`.
    static func transportWindow(notBefore: TimeAmount, within: TimeAmount) -> String? {
        guard notBefore > within else { return nil }
        return "notBefore (\(Quantity.describe(notBefore))) is after within (\(Quantity.describe(within))): no client can pass"
    }
}
