import CrosswindReport
import CrosswindTransport
import NIOCore
import Yams

/// Reads the experiment schema (version 1) from the root mapping of an experiment file: header,
/// `topology:` (a path to a topology file or an inline mapping), `workload:`, `timeline:` (see
/// ``TimelineReader``) and `expect:`.
///
/// Keys are read in a fixed order whatever their order in the file (the topology before what
/// names its groups); every problem goes to the document's ``Diagnostics``, and the rules that
/// span the file (``ModelRules``) run on what could be read.
enum ExperimentReader {
    private typealias Keys = Schema.ExperimentKeys

    /// Reads an experiment; a `topology:` path is resolved against `baseDirectory`. Problems are
    /// recorded; the result is meaningful only when none was.
    static func experiment(_ root: YAMLValue, baseDirectory: String) throws(ExperimentError) -> Experiment {
        try SchemaHeader.check(root, expecting: .experiment, required: true)
        let map = try root.mapping(Schema.experiment)
        map.markRead(Keys.kind, Keys.version)
        let name = map.required(Keys.name)
        let description = map.read(Keys.description)
        let seed = map.read(Keys.seed)
        let topology = map.read(Keys.topology) { (v: YAMLValue) throws(ExperimentError) in
            try Self.topology(v, baseDirectory: baseDirectory, experimentName: name ?? "")
        }
        let workload = map.read(Keys.workload, Self.workload)
        let timeline = map.read(Keys.timeline) { (v: YAMLValue) throws(ExperimentError) in try TimelineReader.timeline(v) } ?? []
        let expectations = map.read(Keys.expect) { (v: YAMLValue) throws(ExperimentError) in
            try Self.expectations(v, topology: topology)
        } ?? []
        map.finish()
        if !timeline.isEmpty {
            ModelRules.timeline(
                timeline, topology: topology?.topology, groupNamesComplete: topology?.groupNamesComplete ?? false,
                middleboxNamesComplete: topology?.middleboxNamesComplete ?? false, workload: workload,
                DocumentReporter(root: root)
            )
        }
        if let topology, let workload, topology.groupNamesComplete {
            ModelRules.groupTopics(topology.topology, workload: workload, DocumentReporter(root: root))
        }
        guard let name, let topology, let workload else { throw ExperimentError.reported }
        return Experiment(
            name: name, description: description, seed: seed, topology: topology.topology, workload: workload,
            expectations: expectations, timeline: timeline
        )
    }

    /// Reads `topology:`: a path string loads and reads that topology file (its problems carry its
    /// own path); a mapping is read inline.
    static func topology(_ value: YAMLValue, baseDirectory: String, experimentName: String)
        throws(ExperimentError) -> TopologyReader.ReadTopology
    {
        switch value.node {
        case .mapping:
            return try TopologyReader.topology(value, isFile: false, defaultName: experimentName)
        case .scalar where !value.isNull:
            let reference = try value.string()
            let resolved = YAMLDocument.resolve(reference, against: baseDirectory)
            let text: String
            switch YAMLDocument.readText(path: resolved) {
            case .success(let contents):
                text = contents
            case .failure(let problem):
                let shown = resolved == reference ? "" : " (resolved to '\(resolved)')"
                throw value.error("cannot read topology file '\(reference)'\(shown): \(problem.reason)")
            }
            let document = try YAMLDocument(text: text, file: resolved, diagnostics: value.diagnostics)
            return try TopologyReader.topology(document.root, isFile: true, defaultName: experimentName)
        default:
            throw value.error("expected a path to a topology file or an inline mapping, got \(value.shape)")
        }
    }

    // MARK: - Workload

    /// Reads `workload:`.
    static func workload(_ value: YAMLValue) throws(ExperimentError) -> Workload {
        typealias Keys = Schema.WorkloadKeys
        let map = try value.mapping(Schema.workload)
        let topic = map.read(Keys.topic)
        if map.has(Keys.topic.name), let topicsValue = map.value(Keys.topics) {
            map.diagnostics.record(topicsValue.errorAtKey("give either topic or topics, not both"))
        }
        let topics = map.read(Keys.topics, Self.topicList)
        let rate = map.required(Keys.rate)
        let size = map.required(Keys.size)
        let start = map.read(Keys.start)
        let duration = map.required(Keys.duration)
        let drain = map.read(Keys.drain)
        let clientSends = map.read(Keys.clientSends) { (v: YAMLValue) throws(ExperimentError) -> ClientSends in
            let sends = try v.mapping(Schema.clientSends)
            let rate = sends.required(Schema.ClientSendsKeys.rate)
            let size = sends.required(Schema.ClientSendsKeys.size)
            sends.finish()
            guard let rate, let size else { throw ExperimentError.reported }
            return ClientSends(ratePerSecond: rate, messageBytes: size)
        }
        map.finish()
        guard let rate, let size, let duration else { throw ExperimentError.reported }
        return Workload(
            topic: topic, topics: topics, ratePerSecond: rate, messageBytes: size, start: start, duration: duration, drain: drain,
            clientSends: clientSends
        )
    }

    /// Reads a list of topic names (`topics:` of a workload or a group): 1 to
    /// ``Workload/topicCountRange`` valid names, none twice.
    static func topicList(_ value: YAMLValue) throws(ExperimentError) -> [String] {
        let names = try value.list { (element: YAMLValue) throws(ExperimentError) -> String in
            let name = try element.scalarText(expected: "a topic name")
            if let problem = ValueCheck.identifier(name) { throw element.error(problem) }
            return name
        }
        guard Workload.topicCountRange.contains(names.count) else {
            throw value.error("must list \(Workload.topicCountRange.lowerBound) to \(Workload.topicCountRange.upperBound) topics, got \(names.count)")
        }
        var seen: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            throw value.error("topic '\(name)' is listed twice")
        }
        return names
    }

    // MARK: - Expectations

    /// Reads `expect:`, a list; one entry may yield two expectations (a latency with both bounds).
    /// Group names (`transport: { group: … }`) are checked against `topology` when all its names
    /// could be read.
    static func expectations(_ value: YAMLValue, topology: TopologyReader.ReadTopology?) throws(ExperimentError) -> [Expectation] {
        try value.list { (entry: YAMLValue) throws(ExperimentError) in try expectation(entry, topology: topology) }.flatMap { $0 }
    }

    /// Reads one entry of `expect:`, a mapping with exactly one key.
    static func expectation(_ value: YAMLValue, topology: TopologyReader.ReadTopology?) throws(ExperimentError) -> [Expectation] {
        let map = try value.mapping(Schema.expectation)
        guard let first = map.entries.first, let key = Schema.expectation.key(first.key) else {
            if map.hadUnknownKeys { throw ExperimentError.reported }
            throw value.error("an expectation needs one key (one of: \(Schema.expectation.keyNames.joined(separator: ", ")))")
        }
        for extra in map.entries.dropFirst() {
            map.diagnostics.record(ExperimentError(
                file: value.file, mark: extra.keyMark, path: extra.value.path,
                message: "\(value.path): one expectation per list entry: start a new '- ' entry for '\(extra.key)'"
            ))
            if let info = Schema.expectation.key(extra.key) { _ = map.value(info) }
        }
        let line = first.keyMark?.line
        let kinds = map.read(key) { (entry: YAMLValue) throws(ExperimentError) -> [(Expectation.Kind, Int?)] in
            switch first.key {
            case "delivery":
                return [(try delivery(entry), line)]
            case "duplicates":
                try word("none", in: entry)
                return [(.noDuplicates, line)]
            case "clientSends":
                try word("complete", in: entry)
                return [(.clientSendsComplete, line)]
            case "reordered":
                try word("none", in: entry)
                return [(.noReordering, line)]
            case "connected":
                try word("all", in: entry)
                return [(.allConnected, line)]
            case "latency":
                return try latency(entry)
            case "transport":
                return [(try endsOnTransport(entry, topology: topology), line)]
            case "recovery":
                return try recovery(entry)
            default:
                preconditionFailure("expectation key '\(first.key)' has no reader")
            }
        }
        map.finish()
        guard let kinds else { throw ExperimentError.reported }
        return kinds.map { Expectation(kind: $0.0, sourceLine: $0.1) }
    }

    /// Requires the scalar `word` (`duplicates: none`, `connected: all`).
    private static func word(_ word: String, in value: YAMLValue) throws(ExperimentError) {
        let text = try value.scalarText(expected: "'\(word)'")
        guard text == word else { throw value.error("expected '\(word)', got '\(text)'") }
    }

    /// Reads `delivery: complete` or `delivery: { atLeast: 0.999 }`.
    private static func delivery(_ value: YAMLValue) throws(ExperimentError) -> Expectation.Kind {
        if case .mapping = value.node {
            let map = try value.mapping(Schema.deliveryRate)
            let fraction = map.required(Schema.DeliveryRateKeys.atLeast)
            map.finish()
            guard let fraction else { throw ExperimentError.reported }
            return .deliveryRateAtLeast(fraction)
        }
        let text = try value.scalarText(expected: "'complete' or { atLeast: 0.999 }")
        guard text == "complete" else {
            throw value.error("expected 'complete' or { atLeast: 0.999 }, got '\(text)'")
        }
        return .deliveryComplete
    }

    /// Reads `latency: { p99: { atMost: 1500ms, atLeast: 200ms }, … }`: one expectation per bound, in
    /// file order, each with the line of its bound.
    private static func latency(_ value: YAMLValue) throws(ExperimentError) -> [(Expectation.Kind, Int?)] {
        typealias Keys = Schema.LatencyBoundKeys
        return try statisticBounds(value, statistics: Schema.latencyStatistics, bounds: Schema.latencyBounds) {
            (statistic, boundsValue, bounds) throws(ExperimentError) in
            guard !bounds.entries.isEmpty else {
                if bounds.hadUnknownKeys { throw ExperimentError.reported }
                throw boundsValue.error("needs a bound: atMost, atLeast or both")
            }
            let atMost = bounds.optional(Keys.atMost)
            let atLeast = bounds.optional(Keys.atLeast)
            var result: [(Expectation.Kind, Int?)] = []
            for bound in bounds.entries {
                if bound.key == Keys.atMost.name, let atMost {
                    result.append((.latencyAtMost(statistic, milliseconds: milliseconds(atMost)), bound.keyMark?.line))
                } else if bound.key == Keys.atLeast.name, let atLeast {
                    result.append((.latencyAtLeast(statistic, milliseconds: milliseconds(atLeast)), bound.keyMark?.line))
                }
            }
            if let atMost, let atLeast, let reason = ModelRules.latencyBounds(atLeast: atLeast, atMost: atMost),
               let atLeastValue = bounds.value(Keys.atLeast.info) {
                throw atLeastValue.error(reason)
            }
            return result
        }
    }

    /// Reads `transport: { group: office, endsOn: sse, within: 30s, notBefore: 5s }`; only `endsOn`
    /// is required, `group` must name a client group, `within > 0`, `notBefore <= within`.
    private static func endsOnTransport(_ value: YAMLValue, topology: TopologyReader.ReadTopology?) throws(ExperimentError)
        -> Expectation.Kind
    {
        typealias Keys = Schema.TransportExpectationKeys
        let map = try value.mapping(Schema.transportExpectation)
        let group = map.optional(Keys.group)
        if let group, let topology, topology.groupNamesComplete, let groupValue = map.value(Keys.group.info),
           let reason = ModelRules.unknownGroup(group, in: topology.topology) {
            map.diagnostics.record(groupValue.error(reason))
        }
        let transport = map.required(Keys.endsOn)
        let within = map.optional(Keys.within)
        let notBefore = map.optional(Keys.notBefore)
        map.finish()
        if let within, let notBefore, let reason = ModelRules.transportWindow(notBefore: notBefore, within: within),
           let notBeforeValue = map.value(Keys.notBefore.info) {
            map.diagnostics.record(notBeforeValue.error(reason))
        }
        guard let transport else { throw ExperimentError.reported }
        return .endsOnTransport(
            group: group, transport: transport,
            withinMilliseconds: within.map(milliseconds), notBeforeMilliseconds: notBefore.map(milliseconds)
        )
    }

    /// Reads `recovery: complete` (no incomplete resume), `recovery: incomplete` (every client
    /// told of one) or `recovery: { p99: { atMost: 20s }, … }` (one expectation per statistic,
    /// in file order, each with the line of its bound).
    private static func recovery(_ value: YAMLValue) throws(ExperimentError) -> [(Expectation.Kind, Int?)] {
        guard case .mapping = value.node else {
            let text = try value.scalarText(expected: "'complete', 'incomplete' or { p99: { atMost: 20s } }")
            switch text {
            case "complete": return [(.noIncompleteRecovery, value.keyMark?.line)]
            case "incomplete": return [(.everyRecoveryIncomplete, value.keyMark?.line)]
            default: throw value.error("expected 'complete', 'incomplete' or { p99: { atMost: 20s } }, got '\(text)'")
            }
        }
        return try statisticBounds(value, statistics: Schema.recoveryStatistics, bounds: Schema.recoveryBound) {
            (statistic, boundsValue, bounds) throws(ExperimentError) in
            guard let bound = bounds.entries.first else {
                if bounds.hadUnknownKeys { throw ExperimentError.reported }
                throw boundsValue.error("needs a bound: atMost")
            }
            guard let amount = bounds.required(Schema.RecoveryBoundKeys.atMost) else { throw ExperimentError.reported }
            return [(.recoveryAtMost(statistic, milliseconds: milliseconds(amount)), bound.keyMark?.line)]
        }
    }

    /// Reads `{ STATISTIC: { BOUND: …, … }, … }` with at least one statistic: `read` turns each
    /// statistic's bounds (a mapping of `bounds`) into expectations, in file order.
    private static func statisticBounds(
        _ value: YAMLValue,
        statistics: SchemaBlock,
        bounds boundsBlock: SchemaBlock,
        read: (Expectation.LatencyStatistic, YAMLValue, YAMLMapping) throws(ExperimentError) -> [(Expectation.Kind, Int?)]
    ) throws(ExperimentError) -> [(Expectation.Kind, Int?)] {
        let map = try value.mapping(statistics)
        guard !map.entries.isEmpty else {
            if map.hadUnknownKeys { throw ExperimentError.reported }
            throw value.error("needs a statistic (one of: \(statistics.keyNames.joined(separator: ", ")))")
        }
        var result: [(Expectation.Kind, Int?)] = []
        var failed = false
        for entry in map.entries {
            guard let key = statistics.key(entry.key), let statistic = Expectation.LatencyStatistic(rawValue: entry.key) else { continue }
            let kinds = map.read(key) { (boundsValue: YAMLValue) throws(ExperimentError) in
                let bounds = try boundsValue.mapping(boundsBlock)
                defer { bounds.finish() }
                return try read(statistic, boundsValue, bounds)
            }
            if let kinds { result += kinds } else { failed = true }
        }
        map.finish()
        if failed { throw ExperimentError.reported }
        return result
    }

    /// A duration in (fractional) milliseconds, as expectations carry it.
    static func milliseconds(_ amount: TimeAmount) -> Double {
        Double(amount.nanoseconds) / 1_000_000
    }
}
