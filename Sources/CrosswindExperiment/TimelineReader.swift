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
///     setLink: { group: home, direction: down, latency: 200ms, loss: 5% }  # + jitter, bandwidth, queue
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
/// Each entry has `at:` and exactly one action key (keys, defaults and ranges: ``Schema``'s
/// timeline blocks). Every action but `setProxyPolicy` names a client group. What depends on the rest of the file — that `at` is
/// before the run ends, that the group or middlebox exists, that `removeFirewall` removes a
/// rule added earlier, that `until` is after `at` — is checked by ``ModelRules/timeline``.
/// Entries need not be sorted by time (the runner sorts them stably).
enum TimelineReader {
    private typealias Keys = Schema.TimelineKeys
    private typealias Target = Schema.TargetKeys

    /// Reads `timeline:`.
    static func timeline(_ value: YAMLValue) throws(ExperimentError) -> [TimelineEvent] {
        try value.list(Self.event)
    }

    /// Reads one entry: `at:` and exactly one action.
    private static func event(_ value: YAMLValue) throws(ExperimentError) -> TimelineEvent {
        let map = try value.mapping(Schema.timelineEntry)
        let actions = map.entries.filter { entry in Keys.actions.contains { $0.name == entry.key } }
        for extra in actions.dropFirst() {
            map.diagnostics.record(ExperimentError(
                file: value.file, mark: extra.keyMark, path: extra.value.path,
                message: "\(value.path): one action per list entry: start a new '- at:' entry for '\(extra.key)'"
            ))
        }
        guard let first = actions.first, let actionKey = Schema.timelineEntry.key(first.key) else {
            if !map.hadUnknownKeys {
                let names = Keys.actions.map(\.name).joined(separator: ", ")
                map.diagnostics.record(value.errorAtKey("needs an action (one of: \(names))"))
            }
            _ = map.required(Keys.at)
            map.finish()
            throw ExperimentError.reported
        }
        let at = map.required(Keys.at)
        let action = map.read(actionKey) { (body: YAMLValue) throws(ExperimentError) in try self.action(first.key, body) }
        for extra in actions.dropFirst() {
            if let info = Schema.timelineEntry.key(extra.key) { _ = map.value(info) }
        }
        map.finish()
        guard let at, let action else { throw ExperimentError.reported }
        return TimelineEvent(at: at, action: action, sourceLine: value.mark?.line)
    }

    /// Reads the body of the action called `key`.
    private static func action(_ key: String, _ body: YAMLValue) throws(ExperimentError) -> TimelineAction {
        switch key {
        case "partition":
            let map = try body.mapping(Schema.partition)
            let group = map.required(Target.group)
            let direction = map.read(Target.direction)
            map.finish()
            guard let group else { throw ExperimentError.reported }
            return .partition(group: group, direction: direction)
        case "heal":
            let map = try body.mapping(Schema.heal)
            let group = map.required(Target.group)
            let direction = map.read(Target.direction)
            map.finish()
            guard let group else { throw ExperimentError.reported }
            return .heal(group: group, direction: direction)
        case "setLink":
            let map = try body.mapping(Schema.setLink)
            let group = map.required(Target.group)
            let direction = map.read(Target.direction)
            let link = TopologyReader.linkSpec(in: map)
            map.finish()
            guard let group else { throw ExperimentError.reported }
            return .setLink(group: group, direction: direction, link: link)
        case "firewall":
            typealias Keys = Schema.FirewallKeys
            let map = try body.mapping(Schema.firewall)
            let name = map.required(Keys.name)
            let group = map.required(Target.group)
            let port = map.required(Keys.port)
            let action = map.required(Keys.action)
            map.finish()
            guard let name, let group, let port, let action else { throw ExperimentError.reported }
            return .addFirewall(name: name, group: group, port: port, action: action)
        case "removeFirewall":
            let map = try body.mapping(Schema.removeFirewall)
            let name = map.required(Schema.FirewallKeys.name)
            let group = map.required(Target.group)
            map.finish()
            guard let name, let group else { throw ExperimentError.reported }
            return .removeFirewall(name: name, group: group)
        case "flap":
            typealias Keys = Schema.FlapKeys
            let map = try body.mapping(Schema.flap)
            let group = map.required(Target.group)
            let direction = map.read(Target.direction)
            let period = map.required(Keys.period)
            let upFraction = map.required(Keys.up)
            let until = map.required(Keys.until)
            map.finish()
            guard let group, let period, let upFraction, let until else { throw ExperimentError.reported }
            return .flap(group: group, direction: direction, period: period, upFraction: upFraction, until: until)
        case "setProxyPolicy":
            let map = try body.mapping(Schema.setProxyPolicy)
            let middlebox = map.required(Schema.ProxyPolicyActionKeys.middlebox)
            let policy = MiddleboxReader.policy(in: map)
            map.finish()
            guard let middlebox else { throw ExperimentError.reported }
            return .setProxyPolicy(middlebox: middlebox, policy: policy)
        default:
            preconditionFailure("timeline action '\(key)' has no reader")
        }
    }
}
