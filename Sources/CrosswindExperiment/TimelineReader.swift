import NIOCore
import Yams

/// Reads the `timeline:` list of an experiment into ``TimelineEvent``s, in file order.
///
/// ```yaml
/// timeline:
///   - at: 20s
///     partition: { group: office, direction: both }      # direction: up | down | both (default both)
///   - at: 35s
///     heal: { group: office }                             # direction as for partition
///   - at: 10s
///     setLink: { group: office, direction: down, latency: 200ms, loss: 5% }  # + jitter, bandwidth, queue
///   - at: 0s
///     firewall: { name: block-ws, group: office, port: 80, action: drop }   # action: drop | reject
///   - at: 60s
///     removeFirewall: { name: block-ws, group: office }
///   - at: 5s
///     flap: { group: office, direction: both, period: 10s, up: 70%, until: 60s }
///   - at: 60s
///     setProxyPolicy: { middlebox: corp-proxy, stripUpgrade: false }  # + afterUpgrade, bufferResponses, idleTimeout
/// ```
///
/// Each entry has `at:` (`0 <= at <` the run's end, `workload.start + duration + drain`) and
/// exactly one action key. Every action but `setProxyPolicy` names a client group of the
/// experiment's topology; `setProxyPolicy` names one of its middleboxes and gives the whole new
/// policy (keys as in a middlebox's `policy:`, see ``MiddleboxReader``; absent keys take the
/// pass-through defaults, so `{ middlebox: corp-proxy }` alone turns the proxy's effects off).
/// `removeFirewall` must name a firewall added to the same group earlier in the file, at a time
/// not after the removal. Entries need not be sorted by time (the runner sorts them stably).
enum TimelineReader {
    /// The action keys; an entry has exactly one.
    static let actionKeys = ["partition", "heal", "setLink", "firewall", "removeFirewall", "flap", "setProxyPolicy"]
    /// Keys of one timeline entry.
    static let entryKeys = ["at"] + actionKeys
    /// Keys of `partition:` and `heal:`.
    static let groupDirectionKeys = ["group", "direction"]
    /// Keys of `setLink:`: a group and direction plus the keys of a link spec.
    static let setLinkKeys = groupDirectionKeys + TopologyReader.linkSpecKeys
    /// Keys of `firewall:`.
    static let firewallKeys = ["name", "group", "port", "action"]
    /// Keys of `removeFirewall:`.
    static let removeFirewallKeys = ["name", "group"]
    /// Keys of `flap:`.
    static let flapKeys = ["group", "direction", "period", "up", "until"]
    /// Keys of `setProxyPolicy:`: a middlebox plus the keys of a proxy policy.
    static let setProxyPolicyKeys = ["middlebox"] + MiddleboxReader.policyKeys

    /// A firewall added by an earlier entry, for checking `removeFirewall`.
    private struct AddedFirewall {
        let group: String
        let name: String
        let at: TimeAmount
        let line: Int
    }

    /// Reads `timeline:`; groups are checked against `topology`, times against `workload`.
    static func timeline(_ value: YAMLValue, topology: Topology, workload: Workload) throws(ExperimentError) -> [TimelineEvent] {
        var events: [TimelineEvent] = []
        var firewalls: [AddedFirewall] = []
        for entry in try value.sequence() {
            let event = try self.event(entry, topology: topology, workload: workload, firewalls: firewalls)
            if case .addFirewall(let name, let group, _, _) = event.action {
                firewalls.append(AddedFirewall(group: group, name: name, at: event.at, line: event.sourceLine ?? 0))
            }
            events.append(event)
        }
        return events
    }

    /// Reads one entry: `at:` and exactly one action key.
    private static func event(_ value: YAMLValue, topology: Topology, workload: Workload, firewalls: [AddedFirewall])
        throws(ExperimentError) -> TimelineEvent
    {
        let map = try value.mapping(keys: entryKeys)
        let actions = map.entries.filter { actionKeys.contains($0.key) }
        guard let action = actions.first else {
            throw value.errorAtKey("needs an action (one of: \(actionKeys.joined(separator: ", ")))")
        }
        if actions.count > 1 {
            let second = actions[1]
            throw ExperimentError(
                file: value.file, mark: second.keyMark,
                message: "\(value.path): one action per list entry: start a new '- at:' entry for '\(second.key)'"
            )
        }
        let atValue = try map.required("at")
        let at = try atValue.duration()
        let end = workload.metricsAt
        guard at < end else {
            throw atValue.error(
                "must be before the run ends at \(Quantity.describe(end)) (workload start + duration + drain), got \(Quantity.describe(at))"
            )
        }
        let body = try map.required(action.key)
        let result: TimelineAction
        switch action.key {
        case "partition":
            let map = try body.mapping(keys: groupDirectionKeys)
            result = .partition(group: try group(map, topology), direction: try direction(map))
            try map.finish()
        case "heal":
            let map = try body.mapping(keys: groupDirectionKeys)
            result = .heal(group: try group(map, topology), direction: try direction(map))
            try map.finish()
        case "setLink":
            let map = try body.mapping(keys: setLinkKeys)
            result = .setLink(
                group: try group(map, topology), direction: try direction(map), link: try TopologyReader.linkSpec(in: map)
            )
            try map.finish()
        case "firewall":
            let map = try body.mapping(keys: firewallKeys)
            result = .addFirewall(
                name: try map.read("name") { (v: YAMLValue) throws(ExperimentError) in try v.identifier() },
                group: try group(map, topology),
                port: try map.integer("port", in: ServerSpec.portRange),
                action: try map.read("action") { (v: YAMLValue) throws(ExperimentError) in
                    try v.oneOf(FirewallAction.self, what: "firewall action")
                }
            )
            try map.finish()
        case "removeFirewall":
            result = try removeFirewall(body, at: at, atValue: atValue, topology: topology, firewalls: firewalls)
        case "flap":
            result = try flap(body, at: at, topology: topology)
        case "setProxyPolicy":
            let map = try body.mapping(keys: setProxyPolicyKeys)
            result = .setProxyPolicy(
                middlebox: try map.read("middlebox") { (v: YAMLValue) throws(ExperimentError) in
                    try MiddleboxReader.middleboxReference(v, in: topology)
                },
                policy: try MiddleboxReader.policy(in: map)
            )
            try map.finish()
        default:
            throw ExperimentError(file: value.file, mark: action.keyMark, message: "\(value.path): unknown key '\(action.key)'")
        }
        try map.finish()
        return TimelineEvent(at: at, action: result, sourceLine: value.mark?.line)
    }

    /// The required `group:` of an action: a client group of the topology.
    private static func group(_ map: YAMLMapping, _ topology: Topology) throws(ExperimentError) -> String {
        try map.read("group") { (v: YAMLValue) throws(ExperimentError) in try TopologyReader.groupReference(v, in: topology) }
    }

    /// The optional `direction:` of an action (default both).
    private static func direction(_ map: YAMLMapping) throws(ExperimentError) -> LinkDirection {
        try map.read("direction", default: .both) { (v: YAMLValue) throws(ExperimentError) in
            try v.oneOf(LinkDirection.self, what: "direction")
        }
    }

    /// Reads `removeFirewall: { name, group }`; the firewall must have been added to the group by an
    /// earlier entry of the file, at a time not after `at`.
    private static func removeFirewall(
        _ body: YAMLValue, at: TimeAmount, atValue: YAMLValue, topology: Topology, firewalls: [AddedFirewall]
    ) throws(ExperimentError) -> TimelineAction {
        let map = try body.mapping(keys: removeFirewallKeys)
        let nameValue = try map.required("name")
        let name = try nameValue.identifier()
        let group = try group(map, topology)
        try map.finish()
        let added = firewalls.filter { $0.group == group && $0.name == name }
        guard !added.isEmpty else {
            var known: [String] = []
            for firewall in firewalls where firewall.group == group && !known.contains(firewall.name) {
                known.append(firewall.name)
            }
            let hint = known.isEmpty ? "" : " (added to it so far: \(known.joined(separator: ", ")))"
            throw nameValue.error("no firewall '\(name)' was added to group '\(group)' earlier in the timeline\(hint)")
        }
        if let first = added.min(by: { $0.at < $1.at }), first.at > at {
            throw atValue.error(
                "removes firewall '\(name)' of group '\(group)' at \(Quantity.describe(at)), before it is added at \(Quantity.describe(first.at)) (line \(first.line))"
            )
        }
        return .removeFirewall(name: name, group: group)
    }

    /// Reads `flap: { group, direction, period, up, until }`: `period > 0`, `up` strictly between 0
    /// and 1 (a number or a percentage), `until > at`.
    private static func flap(_ body: YAMLValue, at: TimeAmount, topology: Topology) throws(ExperimentError) -> TimelineAction {
        let map = try body.mapping(keys: flapKeys)
        let group = try group(map, topology)
        let direction = try direction(map)
        let period = try map.duration("period", positive: true)
        let upFraction = try map.read("up") { (v: YAMLValue) throws(ExperimentError) in
            let text = try v.scalarText(expected: "a fraction like 0.7 or 70%")
            guard case .success(let fraction) = Quantity.probability(text) else {
                throw v.error("expected a fraction like 0.7 or 70%, got '\(text)'")
            }
            guard fraction > 0, fraction < 1 else {
                throw v.error("must be strictly between 0 and 1 (or 0% and 100%), got \(text)")
            }
            return fraction
        }
        let untilValue = try map.required("until")
        let until = try untilValue.duration()
        guard until > at else {
            throw untilValue.error("must be after at (\(Quantity.describe(at))), got \(Quantity.describe(until))")
        }
        try map.finish()
        return .flap(group: group, direction: direction, period: period, upFraction: upFraction, until: until)
    }
}
