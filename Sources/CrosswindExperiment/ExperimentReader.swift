import CrosswindReport
import CrosswindTransport
import NIOCore
import Yams

/// Reads the experiment schema (version 1) from the root mapping of an experiment file: header,
/// `topology:` (a path to a topology file or an inline mapping), `workload:`, `timeline:` (see
/// ``TimelineReader``) and `expect:`.
enum ExperimentReader {
    /// Keys of an experiment file.
    static let experimentKeys = ["kind", "version", "name", "description", "seed", "topology", "workload", "timeline", "expect"]
    /// Experiment keys reserved for later schema versions.
    static let reservedExperimentKeys: [String] = []
    /// Keys of `workload:`.
    static let workloadKeys = ["topic", "rate", "size", "start", "duration", "drain", "clientSends"]
    /// Workload keys reserved for later schema versions.
    static let reservedWorkloadKeys: [String] = []
    /// Keys of `clientSends:`.
    static let clientSendsKeys = ["rate", "size"]
    /// The keys an entry of `expect:` may have (exactly one per entry).
    static let expectationKeys = ["delivery", "duplicates", "reordered", "connected", "latency", "transport", "recovery", "clientSends"]
    /// Keys of a latency bound (`p99: { atMost: 1500ms, atLeast: 200ms }`).
    static let boundKeys = ["atMost", "atLeast"]
    /// Keys of a recovery bound (`p99: { atMost: 20s }`).
    static let recoveryBoundKeys = ["atMost"]
    /// Keys of `transport:` (`{ group: office, endsOn: sse, within: 30s, notBefore: 5s }`).
    static let transportExpectationKeys = ["group", "endsOn", "within", "notBefore"]

    /// Reads an experiment; a `topology:` path is resolved against `baseDirectory`.
    static func experiment(_ root: YAMLValue, baseDirectory: String) throws(ExperimentError) -> Experiment {
        try SchemaHeader.check(root, expecting: .experiment, required: true)
        let map = try root.mapping(keys: experimentKeys, reserved: reservedExperimentKeys)
        map.markRead("kind", "version")
        let name = try map.read("name") { (v: YAMLValue) throws(ExperimentError) in try v.identifier() }
        let description = try map.read("description", default: "") { (v: YAMLValue) throws(ExperimentError) in
            try v.optionalText()
        }
        let seed = try map.read("seed", default: 1) { (v: YAMLValue) throws(ExperimentError) in try v.unsignedInteger() }
        let topology = try map.read("topology") { (v: YAMLValue) throws(ExperimentError) in
            try Self.topology(v, baseDirectory: baseDirectory, experimentName: name)
        }
        let workload = try map.read("workload", Self.workload)
        let timeline = try map.read("timeline", default: []) { (v: YAMLValue) throws(ExperimentError) in
            try TimelineReader.timeline(v, topology: topology, workload: workload)
        }
        let expectations = try map.read("expect", default: []) { (v: YAMLValue) throws(ExperimentError) in
            try Self.expectations(v, topology: topology)
        }
        try map.finish()
        return Experiment(
            name: name, description: description, seed: seed, topology: topology, workload: workload,
            expectations: expectations, timeline: timeline
        )
    }

    /// Reads `topology:`: a path string loads and validates that topology file (its errors carry its
    /// own path); a mapping is read inline.
    static func topology(_ value: YAMLValue, baseDirectory: String, experimentName: String)
        throws(ExperimentError) -> Topology
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
            let document = try YAMLDocument(text: text, file: resolved)
            return try TopologyReader.topology(document.root, isFile: true, defaultName: experimentName)
        default:
            throw value.error("expected a path to a topology file or an inline mapping, got \(value.shape)")
        }
    }

    /// Reads `workload:`.
    static func workload(_ value: YAMLValue) throws(ExperimentError) -> Workload {
        let map = try value.mapping(keys: workloadKeys, reserved: reservedWorkloadKeys)
        let topic = try map.read("topic", default: "metrics") { (v: YAMLValue) throws(ExperimentError) in try v.identifier() }
        let rate = try map.read("rate", Self.rate)
        var workload = Workload(
            topic: topic,
            ratePerSecond: rate,
            messageBytes: try map.size("size", in: Workload.messageBytesRange),
            start: try map.duration("start", default: .seconds(2)),
            duration: try map.duration("duration", positive: true),
            drain: try map.duration("drain", default: .seconds(5))
        )
        workload.clientSends = try map.read("clientSends", default: nil) { (v: YAMLValue) throws(ExperimentError) -> ClientSends? in
            let sends = try v.mapping(keys: clientSendsKeys)
            let rate = try sends.read("rate", Self.rate)
            let size = try sends.size("size", in: Workload.messageBytesRange)
            try sends.finish()
            return ClientSends(ratePerSecond: rate, messageBytes: size)
        }
        try map.finish()
        return workload
    }

    /// Reads a message rate: more than 0 and at most `Workload.maxRatePerSecond` per second.
    static func rate(_ value: YAMLValue) throws(ExperimentError) -> Double {
        let rate = try value.number()
        guard rate > 0, rate <= Workload.maxRatePerSecond else {
            throw value.error("must be greater than 0 and at most \(Expectation.format(Workload.maxRatePerSecond)) messages per second, got \(Expectation.format(rate))")
        }
        return rate
    }

    /// Reads `expect:`, a list; one entry may yield two expectations (a latency with both bounds).
    /// Group names (`transport: { group: … }`) are checked against `topology`.
    static func expectations(_ value: YAMLValue, topology: Topology) throws(ExperimentError) -> [Expectation] {
        var result: [Expectation] = []
        for entry in try value.sequence() {
            result += try expectation(entry, topology: topology)
        }
        return result
    }

    /// Reads one entry of `expect:`, a mapping with exactly one key.
    static func expectation(_ value: YAMLValue, topology: Topology) throws(ExperimentError) -> [Expectation] {
        let map = try value.mapping(keys: expectationKeys)
        guard let first = map.entries.first else {
            throw value.error("an expectation needs one key (one of: \(expectationKeys.joined(separator: ", ")))")
        }
        if map.entries.count > 1 {
            let second = map.entries[1]
            throw ExperimentError(
                file: value.file, mark: second.keyMark,
                message: "\(value.path): one expectation per list entry: start a new '- ' entry for '\(second.key)'"
            )
        }
        let line = first.keyMark?.line
        let entry = try map.required(first.key)
        let kinds: [(Expectation.Kind, Int?)]
        switch first.key {
        case "delivery":
            kinds = [(try delivery(entry), line)]
        case "duplicates":
            try word("none", in: entry)
            kinds = [(.noDuplicates, line)]
        case "clientSends":
            try word("complete", in: entry)
            kinds = [(.clientSendsComplete, line)]
        case "reordered":
            try word("none", in: entry)
            kinds = [(.noReordering, line)]
        case "connected":
            try word("all", in: entry)
            kinds = [(.allConnected, line)]
        case "latency":
            kinds = try latency(entry)
        case "transport":
            kinds = [(try endsOnTransport(entry, topology: topology), line)]
        case "recovery":
            kinds = try recovery(entry)
        default:
            throw ExperimentError(file: value.file, mark: first.keyMark, message: "\(value.path): unknown key '\(first.key)'")
        }
        try map.finish()
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
            let map = try value.mapping(keys: ["atLeast"])
            let fraction = try map.probability("atLeast")
            try map.finish()
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
        try statisticBounds(value, keys: boundKeys) { (statistic, boundsValue, bounds) throws(ExperimentError) in
            guard !bounds.entries.isEmpty else {
                throw boundsValue.error("needs a bound: atMost, atLeast or both")
            }
            var result: [(Expectation.Kind, Int?)] = []
            var atMost: TimeAmount?
            for bound in bounds.entries {
                let amount = try bounds.required(bound.key).duration()
                let milliseconds = Double(amount.nanoseconds) / 1_000_000
                if bound.key == "atMost" {
                    atMost = amount
                    result.append((.latencyAtMost(statistic, milliseconds: milliseconds), bound.keyMark?.line))
                } else {
                    result.append((.latencyAtLeast(statistic, milliseconds: milliseconds), bound.keyMark?.line))
                }
            }
            if let atMost, let atLeastValue = bounds.optional("atLeast") {
                let atLeast = try atLeastValue.duration()
                guard atLeast <= atMost else {
                    throw atLeastValue.error(
                        "atLeast (\(Quantity.describe(atLeast))) is greater than atMost (\(Quantity.describe(atMost))): no latency can pass"
                    )
                }
            }
            return result
        }
    }

    /// Reads `transport: { group: office, endsOn: sse, within: 30s, notBefore: 5s }`; only `endsOn`
    /// is required, `group` must name a client group, `within > 0`, `notBefore <= within`.
    private static func endsOnTransport(_ value: YAMLValue, topology: Topology) throws(ExperimentError) -> Expectation.Kind {
        let map = try value.mapping(keys: transportExpectationKeys)
        let group = try map.read("group", default: nil) { (v: YAMLValue) throws(ExperimentError) -> String? in
            try TopologyReader.groupReference(v, in: topology)
        }
        let transport = try map.read("endsOn") { (v: YAMLValue) throws(ExperimentError) in
            try v.oneOf(TransportMethod.self, what: "transport")
        }
        let within = try map.read("within", default: nil) { (v: YAMLValue) throws(ExperimentError) -> TimeAmount? in
            try v.positiveDuration()
        }
        let notBefore = try map.read("notBefore", default: nil) { (v: YAMLValue) throws(ExperimentError) -> TimeAmount? in
            try v.duration()
        }
        try map.finish()
        if let within, let notBefore, notBefore > within, let notBeforeValue = map.optional("notBefore") {
            throw notBeforeValue.error(
                "notBefore (\(Quantity.describe(notBefore))) is after within (\(Quantity.describe(within))): no client can pass"
            )
        }
        return .endsOnTransport(
            group: group, transport: transport,
            withinMilliseconds: within.map(milliseconds), notBeforeMilliseconds: notBefore.map(milliseconds)
        )
    }

    /// Reads `recovery: complete` (no incomplete resume) or `recovery: { p99: { atMost: 20s }, … }`
    /// (one expectation per statistic, in file order, each with the line of its bound).
    private static func recovery(_ value: YAMLValue) throws(ExperimentError) -> [(Expectation.Kind, Int?)] {
        guard case .mapping = value.node else {
            let text = try value.scalarText(expected: "'complete' or { p99: { atMost: 20s } }")
            guard text == "complete" else {
                throw value.error("expected 'complete' or { p99: { atMost: 20s } }, got '\(text)'")
            }
            return [(.noIncompleteRecovery, value.keyMark?.line)]
        }
        return try statisticBounds(value, keys: recoveryBoundKeys) { (statistic, boundsValue, bounds) throws(ExperimentError) in
            guard let bound = bounds.entries.first else { throw boundsValue.error("needs a bound: atMost") }
            let amount = try bounds.required("atMost").duration()
            return [(.recoveryAtMost(statistic, milliseconds: milliseconds(amount)), bound.keyMark?.line)]
        }
    }

    /// Reads `{ STATISTIC: { BOUND: …, … }, … }` with at least one statistic: `read` turns each
    /// statistic's bounds (a mapping of `keys`) into expectations, in file order.
    private static func statisticBounds(
        _ value: YAMLValue,
        keys: [String],
        read: (Expectation.LatencyStatistic, YAMLValue, YAMLMapping) throws(ExperimentError) -> [(Expectation.Kind, Int?)]
    ) throws(ExperimentError) -> [(Expectation.Kind, Int?)] {
        let statistics = Expectation.LatencyStatistic.allCases.map(\.rawValue)
        let map = try value.mapping(keys: statistics)
        guard !map.entries.isEmpty else {
            throw value.error("needs a statistic (one of: \(statistics.joined(separator: ", ")))")
        }
        var result: [(Expectation.Kind, Int?)] = []
        for entry in map.entries {
            let boundsValue = try map.required(entry.key)
            let bounds = try boundsValue.mapping(keys: keys)
            result += try read(Expectation.LatencyStatistic(rawValue: entry.key)!, boundsValue, bounds)
            try bounds.finish()
        }
        try map.finish()
        return result
    }

    /// A duration in (fractional) milliseconds, as expectations carry it.
    private static func milliseconds(_ amount: TimeAmount) -> Double {
        Double(amount.nanoseconds) / 1_000_000
    }
}
