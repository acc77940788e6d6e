import CrosswindNetwork
import CrosswindTransport
import NIOCore
import Yams

/// Reads the topology schema (version 1) from a YAML mapping: the root of a topology file or the
/// inline `topology:` mapping of an experiment file.
///
/// Each schema object has one function; each function lists its keys, so adding a key or object to
/// the schema is adding a line or a function here. `middleboxes:` is read by ``MiddleboxReader``.
enum TopologyReader {
    /// Keys of a topology mapping.
    static let topologyKeys = ["kind", "version", "name", "server", "groups", "middleboxes"]
    /// Topology keys reserved for later schema versions.
    static let reservedTopologyKeys: [String] = []
    /// Keys of `server:`.
    static let serverKeys = ["name", "port", "webSocketPort"]
    /// Keys of one entry of `groups:`.
    static let groupKeys = ["name", "count", "transport", "connectAt", "connectSpread", "link", "tcp", "heartbeat", "sync", "manager"]
    /// Keys of `sync:`.
    static let syncKeys = ["interval", "longPoll", "batchSize"]
    /// Group keys reserved for later schema versions.
    static let reservedGroupKeys = ["path"]
    /// Keys of a `link:` given per direction.
    static let linkPairKeys = ["up", "down"]
    /// Keys of one link direction (or of a `link:` that applies both ways).
    static let linkSpecKeys = ["latency", "jitter", "loss", "bandwidth", "queue"]
    /// Keys of `loss:` in mapping form, over all models.
    static let lossKeys = ["model", "probability", "p", "r", "lossInGood", "lossInBad"]
    /// Keys of `loss:` in mapping form, per `model:`.
    static let lossModelKeys: [String: [String]] = [
        "none": ["model"],
        "independent": ["model", "probability"],
        "gilbert-elliott": ["model", "p", "r", "lossInGood", "lossInBad"],
    ]
    /// Keys of `tcp:`.
    static let tcpKeys = ["mss", "initialRTO", "minRTO", "maxRTO", "synRetries", "maxRetransmissions", "window"]
    /// Keys of `heartbeat:`.
    static let heartbeatKeys = ["interval", "timeout"]

    // Limits of what a file may ask of the network model (which itself takes any value).

    /// The largest accepted link `latency`.
    static let maxLatency: TimeAmount = .seconds(60)
    /// The largest accepted link `jitter`.
    static let maxJitter: TimeAmount = .seconds(10)
    /// The smallest accepted link `bandwidth`, in bits per second.
    static let minBandwidthBitsPerSecond = 1000
    /// The accepted range of a link's `queue`: at least one full-size Ethernet frame, at most 1 GiB.
    static let queueBytesRange: ClosedRange<Int> = 1500...1_073_741_824
    /// The accepted range of `tcp.mss` (65495 = 65535 minus IPv4 and TCP headers).
    static let mssRange: ClosedRange<Int> = 64...65495
    /// The accepted range of `tcp.synRetries`.
    static let synRetriesRange: ClosedRange<Int> = 0...20
    /// The accepted range of `tcp.maxRetransmissions`.
    static let maxRetransmissionsRange: ClosedRange<Int> = 1...50
    /// The accepted range of `tcp.window` (1 GiB, the largest window TCP window scaling allows).
    static let windowBytesRange: ClosedRange<Int> = 1...1_073_741_824

    /// Reads a topology mapping. `kind`/`version` are required when `isFile`, optional inline;
    /// `name` is required in a file and defaults to `defaultName` inline.
    static func topology(_ value: YAMLValue, isFile: Bool, defaultName: String) throws(ExperimentError) -> Topology {
        try SchemaHeader.check(value, expecting: .topology, required: isFile)
        let map = try value.mapping(keys: topologyKeys, reserved: reservedTopologyKeys)
        map.markRead("kind", "version")
        let name = isFile
            ? try map.read("name") { (v: YAMLValue) throws(ExperimentError) in try v.identifier() }
            : try map.read("name", default: defaultName) { (v: YAMLValue) throws(ExperimentError) in try v.identifier() }
        let server = try map.read("server", default: ServerSpec(), Self.server)
        let groupsValue = try map.required("groups")
        let groupValues = try groupsValue.sequence()
        guard !groupValues.isEmpty else { throw groupsValue.error("needs at least one client group") }
        var groups: [ClientGroup] = []
        var firstLineOfName: [String: Int] = [:]
        for groupValue in groupValues {
            let (group, nameValue) = try Self.group(groupValue)
            if group.name == server.name {
                throw nameValue.error("'\(group.name)' is already the server's name (node names must be unique)")
            }
            if let line = firstLineOfName[group.name] {
                throw nameValue.error("duplicate group name '\(group.name)' (already used on line \(line))")
            }
            firstLineOfName[group.name] = nameValue.mark?.line ?? 0
            groups.append(group)
        }
        // Read after the groups (whatever the key order in the file): a middlebox names groups.
        let middleboxes = try map.read("middleboxes", default: []) { (v: YAMLValue) throws(ExperimentError) in
            try MiddleboxReader.middleboxes(v, server: server, groups: groups, groupLines: firstLineOfName)
        }
        try map.finish()
        return Topology(name: name, server: server, groups: groups, middleboxes: middleboxes)
    }

    /// Reads `server:`.
    static func server(_ value: YAMLValue) throws(ExperimentError) -> ServerSpec {
        let map = try value.mapping(keys: serverKeys)
        let defaults = ServerSpec()
        let spec = ServerSpec(
            name: try map.read("name", default: defaults.name) { (v: YAMLValue) throws(ExperimentError) in try v.nodeName() },
            port: try map.integer("port", in: ServerSpec.portRange, default: defaults.port),
            webSocketPort: map.optional("webSocketPort") == nil ? nil : try map.integer("webSocketPort", in: ServerSpec.portRange)
        )
        try map.finish()
        return spec
    }

    /// Reads one entry of `groups:`; also returns the `name` value, for uniqueness messages.
    static func group(_ value: YAMLValue) throws(ExperimentError) -> (ClientGroup, nameValue: YAMLValue) {
        let map = try value.mapping(keys: groupKeys, reserved: reservedGroupKeys)
        let nameValue = try map.required("name")
        let name = try nameValue.nodeName()
        let count = try map.integer("count", in: ClientGroup.countRange)
        // A manager group starts on `manager.defaultMethod`; a `transport:` beside it would be ignored.
        if let transportValue = map.optional("transport"), map.optional("manager") != nil {
            throw transportValue.errorAtKey("a group with manager: starts on manager.defaultMethod; remove transport")
        }
        let manager = try map.read("manager", default: nil) { (v: YAMLValue) throws(ExperimentError) -> RealtimeManagerConfiguration? in
            try ManagerReader.manager(v)
        }
        let transport = try map.read("transport", default: manager?.defaultMethod ?? .websocket, Self.transport)
        let connectAt = try map.duration("connectAt", default: .zero)
        let connectSpread = try map.duration("connectSpread", default: .zero)
        let link = try map.read("link", Self.link)
        let tcp = try map.read("tcp", default: TCPSettings(), Self.tcp)
        let heartbeat = try map.read("heartbeat", default: HeartbeatSettings(), Self.heartbeat)
        let sync = try map.read("sync", default: SyncSettings(), Self.sync)
        try map.finish()
        let group = ClientGroup(
            name: name, count: count, transport: transport, connectAt: connectAt, connectSpread: connectSpread,
            link: link, tcp: tcp, heartbeat: heartbeat, sync: sync, manager: manager
        )
        return (group, nameValue)
    }

    /// Reads `transport:`: `websocket`, `sse` or `sync`.
    static func transport(_ value: YAMLValue) throws(ExperimentError) -> TransportMethod {
        try value.oneOf(TransportMethod.self, what: "transport")
    }

    /// Reads `link:`, either `{up: …, down: …}` or one spec that applies both ways.
    static func link(_ value: YAMLValue) throws(ExperimentError) -> LinkPair {
        if case .mapping(let mapping) = value.node,
           mapping.keys.contains(where: { linkPairKeys.contains($0.scalar?.string ?? "") }) {
            let map = try value.mapping(keys: linkPairKeys)
            let pair = LinkPair(up: try map.read("up", Self.linkSpec), down: try map.read("down", Self.linkSpec))
            try map.finish()
            return pair
        }
        return LinkPair(both: try linkSpec(value))
    }

    /// Reads one link direction.
    static func linkSpec(_ value: YAMLValue) throws(ExperimentError) -> LinkConfiguration {
        let map = try value.mapping(keys: linkSpecKeys)
        let spec = try linkSpec(in: map)
        try map.finish()
        return spec
    }

    /// Reads the ``linkSpecKeys`` of `map` (which may allow more keys, as a timeline `setLink:`
    /// does); absent keys keep the ``LinkConfiguration`` defaults. Does not call `finish()`.
    static func linkSpec(in map: YAMLMapping) throws(ExperimentError) -> LinkConfiguration {
        LinkConfiguration(
            latency: try map.duration("latency", default: .zero, atMost: maxLatency),
            jitter: try map.duration("jitter", default: .zero, atMost: maxJitter),
            loss: try map.read("loss", default: .none, Self.loss),
            bandwidthBitsPerSecond: try map.bandwidth("bandwidth", atLeast: minBandwidthBitsPerSecond),
            queueBytes: try map.size("queue", in: queueBytesRange, default: LinkConfiguration.defaultQueueBytes)
        )
    }

    /// Reads a reference to a client group of `topology` (timeline actions, expectations): an
    /// unknown name is an error at the value listing the group names.
    static func groupReference(_ value: YAMLValue, in topology: Topology) throws(ExperimentError) -> String {
        try groupReference(value, in: topology.groups)
    }

    /// Reads a reference to one of `groups` (a middlebox's `groups:`), with the same message.
    static func groupReference(_ value: YAMLValue, in groups: [ClientGroup]) throws(ExperimentError) -> String {
        let name = try value.scalarText(expected: "a client group name")
        guard groups.contains(where: { $0.name == name }) else {
            let names = groups.map(\.name).joined(separator: ", ")
            throw value.error("no client group '\(name)' (groups: \(names))")
        }
        return name
    }

    /// Reads `loss:`: `0.02`, `2%`, `none`, or `{model: independent | gilbert-elliott | none, …}`.
    /// A probability of zero reads as ``LinkLoss/none``.
    static func loss(_ value: YAMLValue) throws(ExperimentError) -> LinkLoss {
        guard case .mapping = value.node else {
            if value.node.scalar?.string == "none" { return .none }
            let probability = try value.probability()
            return probability == 0 ? .none : .independent(probability: probability)
        }
        let modelValue = try value.mapping(keys: lossKeys).required("model")
        let model = try modelValue.scalarText(expected: "a loss model")
        guard let keys = lossModelKeys[model] else {
            throw modelValue.error("unknown loss model '\(model)' (expected one of: none, independent, gilbert-elliott)")
        }
        let map = try value.mapping(keys: keys)
        map.markRead("model")
        let loss: LinkLoss
        switch model {
        case "independent":
            loss = .independent(probability: try map.probability("probability"))
        case "gilbert-elliott":
            loss = .gilbertElliott(
                p: try map.probability("p"),
                r: try map.probability("r"),
                lossInGood: try map.probability("lossInGood", default: 0),
                lossInBad: try map.probability("lossInBad", default: 1)
            )
        default:
            loss = .none
        }
        try map.finish()
        return loss
    }

    /// Reads `tcp:`; the retransmission timeouts must satisfy `minRTO <= initialRTO <= maxRTO`.
    /// The model's other knobs (`synAckRetries`, `rtoAfterSynRetransmission`) keep their defaults.
    static func tcp(_ value: YAMLValue) throws(ExperimentError) -> TCPSettings {
        let map = try value.mapping(keys: tcpKeys)
        let defaults = TCPSettings()
        let settings = TCPSettings(
            mss: try map.integer("mss", in: mssRange, default: defaults.mss),
            initialRTO: try map.duration("initialRTO", default: defaults.initialRTO, positive: true),
            minRTO: try map.duration("minRTO", default: defaults.minRTO, positive: true),
            maxRTO: try map.duration("maxRTO", default: defaults.maxRTO, positive: true),
            synRetries: try map.integer("synRetries", in: synRetriesRange, default: defaults.synRetries),
            maxRetransmissions: try map.integer("maxRetransmissions", in: maxRetransmissionsRange, default: defaults.maxRetransmissions),
            windowBytes: try map.size("window", in: windowBytesRange, default: defaults.windowBytes)
        )
        try map.finish()
        let describe = Quantity.describe(_:)
        if settings.minRTO > settings.maxRTO {
            let at = map.optional("minRTO") ?? map.optional("maxRTO") ?? value
            throw at.error("minRTO (\(describe(settings.minRTO))) must not exceed maxRTO (\(describe(settings.maxRTO)))")
        }
        if settings.initialRTO < settings.minRTO || settings.initialRTO > settings.maxRTO {
            let bounds = "\(describe(settings.minRTO))...\(describe(settings.maxRTO))"
            let at = map.optional("initialRTO") ?? map.optional("minRTO") ?? map.optional("maxRTO") ?? value
            throw at.error("initialRTO (\(describe(settings.initialRTO))) must be within minRTO...maxRTO (\(bounds))")
        }
        return settings
    }

    /// Reads `heartbeat:`.
    static func heartbeat(_ value: YAMLValue) throws(ExperimentError) -> HeartbeatSettings {
        let map = try value.mapping(keys: heartbeatKeys)
        let defaults = HeartbeatSettings()
        let settings = HeartbeatSettings(
            interval: try map.duration("interval", default: defaults.interval, positive: true),
            timeout: try map.duration("timeout", default: defaults.timeout, positive: true)
        )
        try map.finish()
        return settings
    }

    /// Reads `sync:`.
    static func sync(_ value: YAMLValue) throws(ExperimentError) -> SyncSettings {
        let map = try value.mapping(keys: syncKeys)
        let defaults = SyncSettings()
        let settings = SyncSettings(
            interval: try map.duration("interval", default: defaults.interval, positive: true),
            longPoll: try map.duration("longPoll", default: defaults.longPoll),
            batchSize: try map.integer("batchSize", in: SyncSettings.batchSizeRange, default: defaults.batchSize)
        )
        try map.finish()
        return settings
    }
}
