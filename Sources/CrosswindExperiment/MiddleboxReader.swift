import CrosswindMiddlebox
import NIOCore
import Yams

/// Reads the entries of a topology's `middleboxes:` into ``MiddleboxSpec``s, and the proxy policy
/// keys shared with the timeline's `setProxyPolicy:` action; keys, defaults and ranges are
/// ``Schema/middlebox`` and ``Schema/policy``.
///
/// `up` of the link is proxy → server, `down` server → proxy. Names and the groups a middlebox
/// fronts (unique names, known groups, a group behind at most one middlebox) are checked by
/// ``ModelRules/topology(_:_:)``.
enum MiddleboxReader {
    /// Reads one entry of `middleboxes:`.
    static func middlebox(_ value: YAMLValue) throws(ExperimentError) -> MiddleboxSpec {
        typealias Keys = Schema.MiddleboxKeys
        let map = try value.mapping(Schema.middlebox)
        let name = map.required(Keys.name)
        _ = map.read(Keys.kind, Self.kind)
        let groups = map.read(Keys.groups) { (v: YAMLValue) throws(ExperimentError) in
            try v.list { (element: YAMLValue) throws(ExperimentError) in try element.scalarText(expected: "a client group name") }
        }
        let link = map.read(Keys.link, TopologyReader.link)
        let policy = map.read(Keys.policy, Self.policy)
        let mode = map.read(Keys.mode)
        let port = map.read(Keys.port)
        let tcp = map.read(Keys.tcp, TopologyReader.tcp)
        let sticky = map.read(Keys.sticky)
        map.finish()
        guard let name else { throw ExperimentError.reported }
        var spec = MiddleboxSpec(name: name, groups: groups ?? [], mode: mode, port: port, sticky: sticky)
        if let link { spec.link = link }
        if let policy { spec.policy = policy }
        if let tcp { spec.tcp = tcp }
        return spec
    }

    /// The group whose clients include a node called `name` (clients are `<group>-1` … `<group>-<count>`).
    static func clientGroup(owningNodeName name: String, in groups: [ClientGroup]) -> ClientGroup? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let prefix = String(name[..<dash])
        let number = name[name.index(after: dash)...]
        guard !number.isEmpty, number.first != "0", number.allSatisfy(\.isASCIIDigit), let member = Int(number) else {
            return nil
        }
        return groups.first { $0.name == prefix && $0.count >= 1 && (1...$0.count).contains(member) }
    }

    /// Reads `kind:`; only `http-proxy`.
    private static func kind(_ value: YAMLValue) throws(ExperimentError) -> String {
        let kinds = Schema.MiddleboxKeys.kinds
        let text = try value.scalarText(expected: "a middlebox kind")
        guard kinds.contains(text) else {
            throw value.error("unknown middlebox kind '\(text)' (expected one of: \(kinds.joined(separator: ", ")))")
        }
        return text
    }

    /// Reads `policy:`.
    static func policy(_ value: YAMLValue) throws(ExperimentError) -> HTTPProxyPolicy {
        let map = try value.mapping(Schema.policy)
        let policy = policy(in: map)
        map.finish()
        return policy
    }

    /// Reads the policy keys of `map` (which may allow more keys, as a timeline
    /// `setProxyPolicy:` does); absent keys keep the pass-through defaults. Does not call `finish()`.
    static func policy(in map: YAMLMapping) -> HTTPProxyPolicy {
        typealias Keys = Schema.PolicyKeys
        let blocked = map.read(Keys.blockContentTypes) { (v: YAMLValue) throws(ExperimentError) in
            try v.list { (element: YAMLValue) throws(ExperimentError) -> String in
                let text = try element.scalarText(expected: "a media type")
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !text.contains(" ") else {
                    throw element.error("'\(text)' is not a media type (expected type/subtype, like text/event-stream)")
                }
                return text
            }
        }
        let ports = map.read(Keys.connectPorts) { (v: YAMLValue) throws(ExperimentError) in
            try v.list { (element: YAMLValue) throws(ExperimentError) in try ValueFormat<Int>.port.read(element) }
        }
        return HTTPProxyPolicy(
            stripUpgrade: map.read(Keys.stripUpgrade),
            afterUpgrade: map.read(Keys.afterUpgrade),
            bufferResponseBytes: map.optional(Keys.bufferResponses),
            idleTimeout: map.optional(Keys.idleTimeout),
            bufferAfter: map.optional(Keys.bufferAfter),
            holdEvents: map.read(Keys.holdEvents),
            holdEventsBytes: map.optional(Keys.holdEventsBytes),
            maxConnectionLifetime: map.optional(Keys.maxConnectionLifetime),
            maxResponseTime: map.optional(Keys.maxResponseTime),
            blockContentTypes: blocked ?? [],
            maxConnectionsPerClient: map.optional(Keys.maxConnectionsPerClient),
            webSocketBytesBudget: map.optional(Keys.dropFramesAfterBytes),
            webSocketTimeBudget: map.optional(Keys.dropFramesAfter),
            tls: map.read(Keys.tls),
            connectPorts: ports
        )
    }
}
