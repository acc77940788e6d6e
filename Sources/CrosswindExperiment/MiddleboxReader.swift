import CrosswindMiddlebox
import NIOCore
import Yams

/// Reads the `middleboxes:` list of a topology into ``MiddleboxSpec``s, and the proxy policy keys
/// shared with the timeline's `setProxyPolicy:` action.
///
/// ```yaml
/// middleboxes:
///   - name: corp-proxy              # node name; unique among server, groups, clients and middleboxes
///     kind: http-proxy              # optional; the only kind
///     groups: [office, branch]      # client groups of the topology, at least one; a group is behind at most one middlebox
///     link: { latency: 1ms }        # proxy <-> server, as a group's link (up/down or one spec); default 1ms both ways
///     policy:                       # optional; default pass-through
///       stripUpgrade: true          # true | false (default false)
///       afterUpgrade: relay         # relay | silence | close (default relay)
///       bufferResponses: 64KiB      # a size in 1...1GiB; absent = no buffering
///       idleTimeout: 60s            # > 0; absent = none
/// ```
///
/// `up` of the link is proxy → server, `down` server → proxy.
enum MiddleboxReader {
    /// Keys of one entry of `middleboxes:`.
    static let middleboxKeys = ["name", "kind", "groups", "link", "policy"]
    /// Keys of `policy:` (and, with `middlebox`, of a timeline `setProxyPolicy:`).
    static let policyKeys = ["stripUpgrade", "afterUpgrade", "bufferResponses", "idleTimeout"]
    /// The values `kind:` accepts.
    static let kinds = ["http-proxy"]
    /// The accepted range of `bufferResponses` (the model sets no upper bound; 1 GiB matches the
    /// largest link queue).
    static let bufferResponseBytesRange: ClosedRange<Int> = 1...TopologyReader.queueBytesRange.upperBound

    /// Reads `middleboxes:`. Names are checked against the server, the groups (whose `name` values
    /// are on the lines in `groupLines`), the groups' client nodes and each other; group references
    /// against `groups`.
    static func middleboxes(_ value: YAMLValue, server: ServerSpec, groups: [ClientGroup], groupLines: [String: Int])
        throws(ExperimentError) -> [MiddleboxSpec]
    {
        var middleboxes: [MiddleboxSpec] = []
        var lineOfName: [String: Int] = [:]
        /// Each group already behind a middlebox: that middlebox and the line of the reference.
        var behind: [String: (middlebox: String, line: Int)] = [:]
        for element in try value.sequence() {
            let map = try element.mapping(keys: middleboxKeys)
            let nameValue = try map.required("name")
            let name = try nameValue.nodeName()
            try checkUnique(name, at: nameValue, server: server, groups: groups, groupLines: groupLines, middleboxLines: lineOfName)
            lineOfName[name] = nameValue.mark?.line ?? 0
            _ = try map.read("kind", default: kinds[0], Self.kind)
            let groupsValue = try map.required("groups")
            let groupValues = try groupsValue.sequence()
            guard !groupValues.isEmpty else { throw groupsValue.error("needs at least one client group") }
            var names: [String] = []
            var lines: [Int] = []
            for groupValue in groupValues {
                let group = try TopologyReader.groupReference(groupValue, in: groups)
                if let first = names.firstIndex(of: group) {
                    throw groupValue.error("'\(group)' is listed twice (first at groups[\(first)])")
                }
                if let earlier = behind[group] {
                    throw groupValue.error(
                        "group '\(group)' is already behind middlebox '\(earlier.middlebox)' (line \(earlier.line)); a group may be behind at most one middlebox"
                    )
                }
                names.append(group)
                lines.append(groupValue.mark?.line ?? 0)
            }
            for (group, line) in zip(names, lines) { behind[group] = (name, line) }
            var spec = MiddleboxSpec(name: name, groups: names)
            if let linkValue = map.optional("link") {
                spec.link = try TopologyReader.link(linkValue)
            }
            spec.policy = try map.read("policy", default: spec.policy, Self.policy)
            try map.finish()
            middleboxes.append(spec)
        }
        return middleboxes
    }

    /// Throws at `value` when `name` is already a node name: the server's, a group's, a client's
    /// (`<group>-<n>`, `n` in `1...count`) or an earlier middlebox's.
    private static func checkUnique(
        _ name: String, at value: YAMLValue, server: ServerSpec, groups: [ClientGroup], groupLines: [String: Int],
        middleboxLines: [String: Int]
    ) throws(ExperimentError) {
        if name == server.name {
            throw value.error("'\(name)' is already the server's name (node names must be unique)")
        }
        if groups.contains(where: { $0.name == name }) {
            let line = groupLines[name].map { " on line \($0)" } ?? ""
            throw value.error("'\(name)' is already the name of the client group\(line) (node names must be unique)")
        }
        if let group = clientGroup(owningNodeName: name, in: groups) {
            let line = groupLines[group.name].map { " on line \($0)" } ?? ""
            throw value.error(
                "'\(name)' is already the name of a client of the group '\(group.name)'\(line) (node names must be unique)"
            )
        }
        if let line = middleboxLines[name] {
            throw value.error("duplicate middlebox name '\(name)' (already used on line \(line))")
        }
    }

    /// The group whose clients include a node called `name` (clients are `<group>-1` … `<group>-<count>`).
    static func clientGroup(owningNodeName name: String, in groups: [ClientGroup]) -> ClientGroup? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let prefix = String(name[..<dash])
        let number = name[name.index(after: dash)...]
        guard !number.isEmpty, number.first != "0", number.allSatisfy(\.isASCIIDigit), let member = Int(number) else {
            return nil
        }
        return groups.first { $0.name == prefix && (1...$0.count).contains(member) }
    }

    /// Reads `kind:`; only `http-proxy`.
    private static func kind(_ value: YAMLValue) throws(ExperimentError) -> String {
        let text = try value.scalarText(expected: "a middlebox kind")
        guard kinds.contains(text) else {
            throw value.error("unknown middlebox kind '\(text)' (expected one of: \(kinds.joined(separator: ", ")))")
        }
        return text
    }

    /// Reads `policy:`.
    static func policy(_ value: YAMLValue) throws(ExperimentError) -> HTTPProxyPolicy {
        let map = try value.mapping(keys: policyKeys)
        let policy = try policy(in: map)
        try map.finish()
        return policy
    }

    /// Reads the ``policyKeys`` of `map` (which may allow more keys, as a timeline
    /// `setProxyPolicy:` does); absent keys keep the pass-through defaults. Does not call `finish()`.
    static func policy(in map: YAMLMapping) throws(ExperimentError) -> HTTPProxyPolicy {
        let defaults = HTTPProxyPolicy.passThrough
        return HTTPProxyPolicy(
            stripUpgrade: try map.read("stripUpgrade", default: defaults.stripUpgrade) { (v: YAMLValue) throws(ExperimentError) in
                try v.boolean()
            },
            afterUpgrade: try map.read("afterUpgrade", default: defaults.afterUpgrade) { (v: YAMLValue) throws(ExperimentError) in
                try v.oneOf(HTTPProxyPolicy.AfterUpgrade.self, what: "afterUpgrade behaviour")
            },
            bufferResponseBytes: try map.read("bufferResponses", default: defaults.bufferResponseBytes) {
                (v: YAMLValue) throws(ExperimentError) -> Int? in try v.size(in: bufferResponseBytesRange)
            },
            idleTimeout: try map.read("idleTimeout", default: defaults.idleTimeout) {
                (v: YAMLValue) throws(ExperimentError) -> TimeAmount? in try v.positiveDuration()
            }
        )
    }

    /// Reads a reference to a middlebox of `topology` (timeline actions): an unknown name is an
    /// error at the value listing the middlebox names.
    static func middleboxReference(_ value: YAMLValue, in topology: Topology) throws(ExperimentError) -> String {
        let name = try value.scalarText(expected: "a middlebox name")
        guard topology.middleboxes.contains(where: { $0.name == name }) else {
            let known = topology.middleboxes.isEmpty
                ? "the topology has no middleboxes"
                : "middleboxes: " + topology.middleboxes.map(\.name).joined(separator: ", ")
            throw value.error("no middlebox '\(name)' (\(known))")
        }
        return name
    }
}
