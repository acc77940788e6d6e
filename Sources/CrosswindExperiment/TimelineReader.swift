import NIOCore
import Yams

/// Reads the `timeline:` list of an experiment into ``TimelineEvent``s, in file order.
///
/// ```yaml
/// timeline:
///   - at: 20s
///     partition: { groups: [office, home], direction: both, for: 10s }  # heals by itself 10 s later
///   - at: 35s
///     heal: { group: office }                             # direction as for partition
///   - at: 10s
///     setLink: { group: home, direction: down, latency: 200ms, loss: 5% }  # + jitter, bandwidth, queue, for
///   - at: 0s
///     firewall: { name: block-ws, groups: all, port: 80, action: drop }   # action: drop | reject; direction: inbound | outbound
///   - at: 40s
///     partition: { middlebox: corp-proxy, for: 8s }     # the proxy's link to the server; or server: true
///   - at: 5s
///     firewall: { name: no-upstream, middlebox: corp-proxy, port: 443, action: reject }  # or server: true
///   - at: 60s
///     removeFirewall: { name: block-ws, group: office }   # also a rule of the topology's firewall:
///   - at: 30s
///     setNat: { group: office, idleTimeout: 20s }     # or off; + for
///   - at: 5s
///     flap: { group: office, direction: both, period: 10s, up: 70%, until: 60s }  # or for: 55s
///   - at: 60s
///     setProxyPolicy: { middlebox: corp-proxy, stripUpgrade: false }  # + afterUpgrade, bufferResponses, idleTimeout, for
///   - at: 30s
///     restartServer: { down: 2s, persist: false }   # the server crashes, back 2 s later
/// ```
///
/// Each entry has `at:` and exactly one action key (keys, defaults and ranges: ``Schema``'s
/// timeline blocks). Every action but `setProxyPolicy` and `restartServer` names client groups: `group: NAME`, or
/// `groups: [NAME, …]` or `groups: all`; the link and firewall actions may name `middlebox: NAME` or `server: true` instead. What depends on the rest of the file — that `at` is
/// before the run ends, that the groups and middleboxes exist, that `removeFirewall` removes a
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
        let action = map.read(actionKey) { (body: YAMLValue) throws(ExperimentError) in
            try self.action(first.key, body, at: at)
        }
        for extra in actions.dropFirst() {
            if let info = Schema.timelineEntry.key(extra.key) { _ = map.value(info) }
        }
        map.finish()
        guard let at, let action else { throw ExperimentError.reported }
        return TimelineEvent(at: at, action: action.action, revertAfter: action.revertAfter, sourceLine: value.mark?.line)
    }

    /// Reads the body of the action called `key`; `at` (if it could be read) turns a flap's `for` into its `until`.
    private static func action(_ key: String, _ body: YAMLValue, at: TimeAmount?) throws(ExperimentError)
        -> (action: TimelineAction, revertAfter: TimeAmount?)
    {
        switch key {
        case "partition":
            let map = try body.mapping(Schema.partition)
            let groups = groupSelection(map, links: true)
            let direction = map.read(Target.direction)
            let revertAfter = map.optional(Target.revertAfter)
            map.finish()
            guard let groups else { throw ExperimentError.reported }
            return (.partition(group: groups, direction: direction), revertAfter)
        case "heal":
            let map = try body.mapping(Schema.heal)
            let groups = groupSelection(map, links: true)
            let direction = map.read(Target.direction)
            map.finish()
            guard let groups else { throw ExperimentError.reported }
            return (.heal(group: groups, direction: direction), nil)
        case "setLink":
            let map = try body.mapping(Schema.setLink)
            let groups = groupSelection(map, links: true)
            let direction = map.read(Target.direction)
            let link = TopologyReader.linkSpec(in: map)
            let revertAfter = map.optional(Target.revertAfter)
            map.finish()
            guard let groups else { throw ExperimentError.reported }
            return (.setLink(group: groups, direction: direction, link: link), revertAfter)
        case "firewall":
            let map = try body.mapping(Schema.firewall)
            let rule = firewallRule(in: map)
            let revertAfter = map.optional(Target.revertAfter)
            map.finish()
            guard let rule else { throw ExperimentError.reported }
            return (.addFirewall(name: rule.name, group: rule.target, port: rule.port, action: rule.action, direction: rule.direction), revertAfter)
        case "removeFirewall":
            let map = try body.mapping(Schema.removeFirewall)
            let name = map.required(Schema.FirewallKeys.name)
            let groups = groupSelection(map, links: true)
            map.finish()
            guard let name, let groups else { throw ExperimentError.reported }
            return (.removeFirewall(name: name, group: groups), nil)
        case "flap":
            return try flap(body, at: at)
        case "setProxyPolicy":
            let map = try body.mapping(Schema.setProxyPolicy)
            let middlebox = map.required(Schema.ProxyPolicyActionKeys.middlebox)
            let policy = MiddleboxReader.policy(in: map)
            let revertAfter = map.optional(Target.revertAfter)
            map.finish()
            guard let middlebox else { throw ExperimentError.reported }
            return (.setProxyPolicy(middlebox: middlebox, policy: policy), revertAfter)
        case "setNat":
            let map = try body.mapping(Schema.setNat)
            let groups = groupSelection(map)
            let idleTimeout = map.required(Schema.SetNatKeys.idleTimeout)
            let revertAfter = map.optional(Target.revertAfter)
            map.finish()
            guard let groups, let idleTimeout else { throw ExperimentError.reported }
            return (.setNat(group: groups, idleTimeout: idleTimeout), revertAfter)
        case "restartServer":
            let map = try body.mapping(Schema.restartServer)
            let down = map.required(Schema.RestartServerKeys.down)
            let persist = map.read(Schema.RestartServerKeys.persist)
            let node = map.optional(Schema.RestartServerKeys.node)
            map.finish()
            guard let down else { throw ExperimentError.reported }
            return (.restartServer(down: down, persist: persist, node: node), nil)
        default:
            preconditionFailure("timeline action '\(key)' has no reader")
        }
    }

    /// Reads the keys of a firewall rule in `map` (a timeline `firewall:` or an entry of a
    /// topology's `firewall:`): its name, where it stands, port, action and direction. `nil`
    /// when one cannot be read (the problem is recorded). Does not call `finish()`.
    static func firewallRule(in map: YAMLMapping) -> FirewallRule? {
        typealias Keys = Schema.FirewallKeys
        let name = map.required(Keys.name)
        let target = groupSelection(map, links: true)
        let port = map.required(Keys.port)
        let action = map.required(Keys.action)
        let direction = map.read(Keys.direction)
        guard let name, let target, let port, let action else { return nil }
        return FirewallRule(name: name, target: target, port: port, action: action, direction: direction)
    }

    /// The groups an action names: `group: NAME`, or `groups: [NAME, …]` or `groups: all`
    /// (exactly one of the two keys), or with `links` (a link action) `middlebox: NAME` or
    /// `server: true` in their place. `nil` when none can be read (the problem is recorded).
    static func groupSelection(_ map: YAMLMapping, links: Bool = false) -> GroupSelection? {
        let single = map.value(Target.group.info)
        let several = map.value(Target.groups)
        if links {
            let middlebox = map.value(Target.middlebox.info)
            let server = map.value(Target.server.info)
            let given = [single, several, middlebox, server].compactMap { $0 }
            // Both group and groups alone get the message the actions without links get.
            if given.count > 1, middlebox != nil || server != nil {
                map.diagnostics.record(given[1].errorAtKey("give one of group, groups, middlebox or server, not several"))
                return nil
            }
            if middlebox != nil {
                return map.optional(Target.middlebox).map { .middlebox($0) }
            }
            if let server {
                guard let value = map.optional(Target.server) else { return nil }
                guard value else {
                    map.diagnostics.record(server.error("write server: true to act on the server's links, or leave it out"))
                    return nil
                }
                return .server
            }
        }
        switch (single, several) {
        case (nil, nil):
            map.diagnostics.record(map.missing(Target.group.name), missingKey: true)
            return nil
        case (.some, .some(let several)):
            map.diagnostics.record(several.errorAtKey("give either group (one) or groups (several or all), not both"))
            return nil
        case (.some(let single), nil):
            return map.diagnostics.attempt { () throws(ExperimentError) in .group(try Target.group.format.read(single)) }
        case (nil, .some(let several)):
            return map.diagnostics.attempt { () throws(ExperimentError) -> GroupSelection in
                if case .scalar = several.node, !several.isNull {
                    let text = try several.scalarText(expected: "a list of client group names or 'all'")
                    guard text == "all" else {
                        throw several.error("expected a list of client group names or 'all', got '\(text)' (for one group write group: \(text))")
                    }
                    return .all
                }
                guard case .sequence = several.node else {
                    throw several.error("expected a list of client group names or 'all', got \(several.shape)")
                }
                return .groups(try several.list { (element: YAMLValue) throws(ExperimentError) in
                    try element.scalarText(expected: "a client group name")
                })
            }
        }
    }

    /// Reads `flap: { group, direction, period, up, until }` (or `for` in place of `until`, which is
    /// then `at + for`).
    private static func flap(_ body: YAMLValue, at: TimeAmount?) throws(ExperimentError)
        -> (action: TimelineAction, revertAfter: TimeAmount?)
    {
        typealias Keys = Schema.FlapKeys
        let map = try body.mapping(Schema.flap)
        let groups = groupSelection(map, links: true)
        let direction = map.read(Target.direction)
        let period = map.required(Keys.period)
        let upFraction = map.required(Keys.up)
        var until: TimeAmount?
        switch (map.value(Keys.until.info), map.value(Keys.revertAfter.info)) {
        case (nil, nil):
            map.diagnostics.record(map.missing(Keys.until.name), missingKey: true)
        case (.some, .some(let revertAfter)):
            map.diagnostics.record(revertAfter.errorAtKey("give either until or for, not both"))
        case (.some, nil):
            until = map.optional(Keys.until)
        case (nil, .some(let revertAfter)):
            if let duration = map.optional(Keys.revertAfter), let at {
                until = Quantity.sum(at, duration)
                if until == nil { map.diagnostics.record(revertAfter.error("at + for is too large")) }
            }
        }
        map.finish()
        guard let groups, let period, let upFraction, let until else { throw ExperimentError.reported }
        return (.flap(group: groups, direction: direction, period: period, upFraction: upFraction, until: until), nil)
    }
}
