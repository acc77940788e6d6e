import CrosswindNetwork
import CrosswindTransport
import NIOCore
import Yams

/// Reads the topology schema (version 1) from a YAML mapping: the root of a topology file or the
/// inline `topology:` mapping of an experiment file.
///
/// Each block of the schema (``Schema``) has one function here; `manager:` is read by
/// ``ManagerReader``, `middleboxes:` by ``MiddleboxReader``. What spans several keys — unique
/// names, references between groups and middleboxes, the order of the retransmission timeouts —
/// is checked afterwards by ``ModelRules/topology(_:_:)``, the same rules a value built in Swift
/// goes through.
enum TopologyReader {
    /// A topology as read, and whether every group and middlebox name could be read (references
    /// to unknown names are reported only when they could).
    struct ReadTopology {
        var topology: Topology
        var groupNamesComplete: Bool
        var middleboxNamesComplete: Bool
    }

    /// Reads a topology mapping. `kind`/`version` are required when `isFile`, optional inline;
    /// `name` is required in a file and defaults to `defaultName` inline.
    static func topology(_ value: YAMLValue, isFile: Bool, defaultName: String) throws(ExperimentError) -> ReadTopology {
        typealias Keys = Schema.TopologyKeys
        try SchemaHeader.check(value, expecting: .topology, required: isFile)
        let map = try value.mapping(Schema.topology)
        map.markRead(Keys.kind, Keys.version)
        let name = isFile ? map.required(Keys.name) : (map.optional(Keys.name) ?? defaultName)
        let server = map.read(Keys.server, Self.server) ?? ServerSpec()
        let groups = map.read(Keys.groups) { (v: YAMLValue) throws(ExperimentError) in try v.list(Self.group) }
        let middleboxes = map.read(Keys.middleboxes) { (v: YAMLValue) throws(ExperimentError) in
            try v.list(MiddleboxReader.middlebox)
        } ?? []
        let firewall = map.read(Keys.firewall) { (v: YAMLValue) throws(ExperimentError) in try v.list(Self.firewallRule) } ?? []
        map.finish()
        let topology = Topology(name: name ?? defaultName, server: server, groups: groups ?? [], middleboxes: middleboxes, firewall: firewall)
        // A list element is left out only when it cannot be read at all (not a mapping, or no
        // readable name): then a reference to an unknown name may be to it.
        let groupNamesComplete = groups.map { $0.count == map.value(Keys.groups)?.node.sequence?.count } ?? false
        let middleboxNamesComplete = middleboxes.count == (map.value(Keys.middleboxes)?.node.sequence?.count ?? 0)
        ModelRules.topology(
            topology, groupNamesComplete: groupNamesComplete, middleboxNamesComplete: middleboxNamesComplete, DocumentReporter(root: value)
        )
        guard name != nil || !isFile, groups != nil else { throw ExperimentError.reported }
        return ReadTopology(topology: topology, groupNamesComplete: groupNamesComplete, middleboxNamesComplete: middleboxNamesComplete)
    }

    /// Reads one entry of `firewall:`: a rule as a timeline `firewall:` entry has it, without `for`.
    static func firewallRule(_ value: YAMLValue) throws(ExperimentError) -> FirewallRule {
        let map = try value.mapping(Schema.firewallRule)
        let rule = TimelineReader.firewallRule(in: map)
        map.finish()
        guard let rule else { throw ExperimentError.reported }
        return rule
    }

    /// Reads `server:`.
    static func server(_ value: YAMLValue) throws(ExperimentError) -> ServerSpec {
        typealias Keys = Schema.ServerKeys
        let map = try value.mapping(Schema.server)
        let spec = ServerSpec(
            name: map.read(Keys.name), port: map.read(Keys.port), webSocketPort: map.optional(Keys.webSocketPort), tls: map.read(Keys.tls),
            tcp: map.read(Keys.tcp, Self.tcp) ?? TCPSettings(), nodes: map.read(Keys.nodes)
        )
        map.finish()
        return spec
    }

    /// Reads one entry of `groups:`. A group without a readable name is left out; other problems
    /// are recorded and the group is kept (with defaults in place of what could not be read), so
    /// that references to it do not add problems of their own.
    static func group(_ value: YAMLValue) throws(ExperimentError) -> ClientGroup {
        typealias Keys = Schema.GroupKeys
        let map = try value.mapping(Schema.group)
        let name = map.required(Keys.name)
        let count = map.required(Keys.count)
        // A manager group starts on `manager.defaultMethod`; a `transport:` beside it would be ignored.
        let hasManager = map.has(Keys.manager.name)
        if hasManager, let transportValue = map.value(Keys.transport.info) {
            map.diagnostics.record(transportValue.errorAtKey("a group with manager: starts on manager.defaultMethod; remove transport"))
        }
        let manager = map.read(Keys.manager) { (v: YAMLValue) throws(ExperimentError) in try ManagerReader.manager(v) }
        let transport = hasManager ? (manager?.defaultMethod ?? .websocket) : map.read(Keys.transport)
        let connectAt = map.read(Keys.connectAt)
        let connectSpread = map.read(Keys.connectSpread)
        let link = map.read(Keys.link, Self.link)
        let tcp = map.read(Keys.tcp, Self.tcp) ?? TCPSettings()
        let heartbeat = map.read(Keys.heartbeat, Self.heartbeat) ?? HeartbeatSettings()
        let sync = map.read(Keys.sync, Self.sync) ?? SyncSettings()
        let nat = map.read(Keys.nat, Self.nat)
        let sharedLink = map.read(Keys.sharedLink)
        let topics = map.read(Keys.topics, ExperimentReader.topicList)
        let tabs = map.read(Keys.tabs)
        let multiplex = map.read(Keys.multiplex)
        let browser = map.read(Keys.browser, Self.browser)
        map.finish()
        guard let name else { throw ExperimentError.reported }
        return ClientGroup(
            name: name, count: count ?? ClientGroup.countRange.lowerBound, transport: transport, connectAt: connectAt,
            connectSpread: connectSpread, link: link ?? LinkPair(), tcp: tcp, heartbeat: heartbeat, sync: sync, manager: manager,
            nat: nat, sharedLink: sharedLink,
            topics: topics, tabs: tabs, multiplex: multiplex, browser: browser
        )
    }

    /// Reads `browser:`.
    static func browser(_ value: YAMLValue) throws(ExperimentError) -> BrowserSettings {
        let map = try value.mapping(Schema.browser)
        let settings = BrowserSettings(connectionsPerHost: map.read(Schema.BrowserKeys.connectionsPerHost))
        map.finish()
        return settings
    }

    /// Reads `transport:`: `websocket`, `sse` or `sync`.
    static func transport(_ value: YAMLValue) throws(ExperimentError) -> TransportMethod {
        try Schema.GroupKeys.transport.format.read(value)
    }

    /// Reads `link:`, either `{up: …, down: …}` or one spec that applies both ways.
    static func link(_ value: YAMLValue) throws(ExperimentError) -> LinkPair {
        let directions = Schema.linkDirections.keyNames
        if case .mapping(let mapping) = value.node, mapping.keys.contains(where: { directions.contains($0.scalar?.string ?? "") }) {
            typealias Keys = Schema.LinkDirectionKeys
            let map = try value.mapping(Schema.linkDirections)
            let up = map.read(Keys.up) { (v: YAMLValue) throws(ExperimentError) in try accessLink(v).up }
            let down = map.read(Keys.down) { (v: YAMLValue) throws(ExperimentError) in try accessLink(v).down }
            map.finish()
            guard let up, let down else { throw ExperimentError.reported }
            return LinkPair(up: up, down: down)
        }
        return try accessLink(value)
    }

    /// Reads a link of a group or a middlebox (or one of its directions, which takes its side
    /// of the pair): a profile with the keys written beside it overriding it, or the keys alone.
    private static func accessLink(_ value: YAMLValue) throws(ExperimentError) -> LinkPair {
        // Without a profile it is a plain link, read (and its problems reported) as one.
        let hasProfile: Bool
        if case .mapping(let mapping) = value.node {
            hasProfile = mapping.keys.contains { $0.scalar?.string == Schema.AccessLinkKeys.profile.name }
        } else {
            hasProfile = false
        }
        let map = try value.mapping(hasProfile ? Schema.accessLink : Schema.link)
        let profile = hasProfile ? map.optional(Schema.AccessLinkKeys.profile) : nil
        let spec = linkSpec(in: map)
        let written = Set(Schema.link.keyNames.filter { map.has($0) })
        map.finish()
        guard let profile else { return LinkPair(both: spec) }
        var pair = profile.pair
        for direction in [\LinkPair.up, \LinkPair.down] {
            typealias Keys = Schema.LinkKeys
            if written.contains(Keys.latency.name) { pair[keyPath: direction].latency = spec.latency }
            if written.contains(Keys.jitter.name) { pair[keyPath: direction].jitter = spec.jitter }
            if written.contains(Keys.loss.name) { pair[keyPath: direction].loss = spec.loss }
            if written.contains(Keys.bandwidth.name) { pair[keyPath: direction].bandwidthBitsPerSecond = spec.bandwidthBitsPerSecond }
            if written.contains(Keys.queue.name) { pair[keyPath: direction].queueBytes = spec.queueBytes }
        }
        return pair
    }

    /// Reads the keys of a link in `map` (which may allow more keys, as a timeline `setLink:`
    /// does); absent keys keep the ``LinkConfiguration`` defaults. Does not call `finish()`.
    static func linkSpec(in map: YAMLMapping) -> LinkConfiguration {
        typealias Keys = Schema.LinkKeys
        return LinkConfiguration(
            latency: map.read(Keys.latency),
            jitter: map.read(Keys.jitter),
            loss: map.read(Keys.loss, Self.loss) ?? .none,
            bandwidthBitsPerSecond: map.read(Keys.bandwidth),
            queueBytes: map.read(Keys.queue)
        )
    }

    /// Reads `loss:`: `0.02`, `2%`, `none`, or `{model: independent | gilbert-elliott | none, …}`.
    /// A probability of zero reads as ``LinkLoss/none``. In mapping form, the keys allowed besides
    /// `model` are the model's (all of them while the model is unknown).
    static func loss(_ value: YAMLValue) throws(ExperimentError) -> LinkLoss {
        typealias Keys = Schema.LossKeys
        guard case .mapping(let mapping) = value.node else {
            if value.node.scalar?.string == "none" { return .none }
            let probability = try ValueFormat<Double>.probability.read(value)
            return probability == 0 ? .none : .independent(probability: probability)
        }
        let modelNode = mapping.first { $0.key.scalar?.string == Keys.model.name }
        let modelName = modelNode?.value.scalar?.string
        let modelKeys = Keys.models.first { $0.name == modelName }.map { [Keys.model.name] + $0.keys }
        let map = try value.mapping(Schema.loss, allowing: modelKeys)
        let model = map.read(Keys.model) { (v: YAMLValue) throws(ExperimentError) -> String in
            let text = try v.scalarText(expected: "a loss model")
            guard modelKeys != nil else {
                let names = Keys.models.map(\.name).joined(separator: ", ")
                throw v.error("unknown loss model '\(text)' (expected one of: \(names))")
            }
            return text
        }
        let loss: LinkLoss?
        switch model {
        case "independent":
            loss = map.required(Keys.probability).map { .independent(probability: $0) }
        case "gilbert-elliott":
            let p = map.required(Keys.p)
            let r = map.required(Keys.r)
            let lossInGood = map.read(Keys.lossInGood)
            let lossInBad = map.read(Keys.lossInBad)
            if let p, let r {
                loss = .gilbertElliott(p: p, r: r, lossInGood: lossInGood, lossInBad: lossInBad)
            } else {
                loss = nil
            }
        case "none":
            loss = LinkLoss.none
        default:
            loss = nil
        }
        map.finish()
        guard let loss else { throw ExperimentError.reported }
        return loss
    }

    /// Reads `tcp:`; the order of the retransmission timeouts is one of ``ModelRules``. The model's
    /// other knobs (`synAckRetries`, `rtoAfterSynRetransmission`) keep their defaults.
    static func tcp(_ value: YAMLValue) throws(ExperimentError) -> TCPSettings {
        typealias Keys = Schema.TCPKeys
        let map = try value.mapping(Schema.tcp)
        let settings = TCPSettings(
            mss: map.read(Keys.mss),
            initialRTO: map.read(Keys.initialRTO),
            minRTO: map.read(Keys.minRTO),
            maxRTO: map.read(Keys.maxRTO),
            synRetries: map.read(Keys.synRetries),
            maxRetransmissions: map.read(Keys.maxRetransmissions),
            windowBytes: map.read(Keys.window),
            timestamps: map.read(Keys.timestamps),
            congestionControl: map.read(Keys.congestionControl),
            initialCongestionWindow: map.read(Keys.initialWindow),
            timeWait: map.read(Keys.timeWait)
        )
        map.finish()
        return settings
    }

    /// Reads `heartbeat:`.
    static func heartbeat(_ value: YAMLValue) throws(ExperimentError) -> HeartbeatSettings {
        typealias Keys = Schema.HeartbeatKeys
        let map = try value.mapping(Schema.heartbeat)
        let settings = HeartbeatSettings(interval: map.read(Keys.interval), timeout: map.read(Keys.timeout))
        map.finish()
        return settings
    }

    /// Reads `nat:`.
    static func nat(_ value: YAMLValue) throws(ExperimentError) -> NATSettings {
        let map = try value.mapping(Schema.nat)
        let idleTimeout = map.required(Schema.NATKeys.idleTimeout)
        map.finish()
        guard let idleTimeout else { throw ExperimentError.reported }
        return NATSettings(idleTimeout: idleTimeout)
    }

    /// Reads `sync:`.
    static func sync(_ value: YAMLValue) throws(ExperimentError) -> SyncSettings {
        typealias Keys = Schema.SyncKeys
        let map = try value.mapping(Schema.sync)
        let settings = SyncSettings(interval: map.read(Keys.interval), longPoll: map.read(Keys.longPoll), batchSize: map.read(Keys.batchSize))
        map.finish()
        return settings
    }
}
