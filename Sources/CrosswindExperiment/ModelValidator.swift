import CrosswindMiddlebox
import CrosswindNetwork
import CrosswindReport
import CrosswindTransport
import NIOCore

extension Experiment {
    /// Every problem of this experiment, each naming its key path (`topology.groups[1].link.up.loss:
    /// probability must be in 0...1 …`): the checks the loader applies to a file, applied to the
    /// values — each field's range (from the same definitions, ``Schema``) and the rules that span
    /// fields (``ModelRules``: unique names, known groups and middleboxes, a timeline that fits the
    /// run …). Empty when the experiment is valid. Paths use the file format's key names.
    public func validationProblems() -> [ExperimentError.Problem] {
        ModelValidator.problems { $0.experiment(self, $1) }
    }

    /// Throws every problem of ``validationProblems()`` at once, if there is one.
    public func validate() throws(ExperimentError) {
        try ModelValidator.throwing(validationProblems())
    }
}

extension Topology {
    /// Every problem of this topology, each naming its key path (`groups[1].count: must be in …`);
    /// see ``Experiment/validationProblems()``.
    public func validationProblems() -> [ExperimentError.Problem] {
        ModelValidator.problems { $0.topology(self, $1) }
    }

    /// Throws every problem of ``validationProblems()`` at once, if there is one.
    public func validate() throws(ExperimentError) {
        try ModelValidator.throwing(validationProblems())
    }
}

/// Validates values built in Swift: walks the model, checks each field with its key's
/// ``ValueFormat/check`` and runs ``ModelRules``; problems carry key paths and no position.
final class ModelValidator {
    private(set) var problems: [ExperimentError.Problem] = []

    /// The problems `validate` finds from the root of a value.
    static func problems(_ validate: (ModelValidator, Scope) -> Void) -> [ExperimentError.Problem] {
        let validator = ModelValidator()
        validate(validator, Scope(validator: validator, prefix: ""))
        return validator.problems
    }

    /// Throws `problems`, if there is one.
    static func throwing(_ problems: [ExperimentError.Problem]) throws(ExperimentError) {
        if !problems.isEmpty { throw ExperimentError(problems: problems) }
    }

    /// The validator seen from one value of the model: paths are relative to `prefix`.
    struct Scope: RuleReporter {
        let validator: ModelValidator
        let prefix: String

        /// The scope of the value at `path`.
        func scoped(_ path: String) -> Scope {
            Scope(validator: validator, prefix: full(path))
        }

        func full(_ path: String) -> String {
            path.isEmpty ? prefix : YAMLValue.join(prefix, path)
        }

        /// Records `reason` about the value at `path`.
        func fail(_ path: String, _ reason: String) {
            let full = full(path)
            validator.problems.append(ExperimentError.Problem(
                file: nil, line: nil, column: nil, path: full, message: full.isEmpty ? reason : "\(full): \(reason)"
            ))
        }

        /// Checks `value` against `key`'s format; the key's name is the last step of the path.
        func check<V>(_ key: SchemaKey<V>, _ value: V, at path: String? = nil) {
            if let reason = key.format.check(value, nil) { fail(path ?? key.name, reason) }
        }

        func element(_ list: String, _ index: Int) -> String { "\(list)[\(index)]" }
        func report(_ candidates: [String], _ message: String, atKey: Bool) { fail(candidates.first ?? "", message) }
        func place(_ path: String) -> String { "at \(full(path))" }
        func reference(_ path: String) -> String { full(path) }
        func isWritten(_ path: String) -> Bool { true }

        func hasProblem(_ path: String) -> Bool {
            let full = full(path)
            return validator.problems.contains { problem in
                problem.path == full || Diagnostics.isPath(problem.path, inside: full) || Diagnostics.isPath(full, inside: problem.path)
            }
        }
    }

    // MARK: - Experiment

    func experiment(_ experiment: Experiment, _ s: Scope) {
        s.check(Schema.ExperimentKeys.name, experiment.name)
        topology(experiment.topology, s.scoped("topology"))
        workload(experiment.workload, s.scoped("workload"))
        for (index, event) in experiment.timeline.enumerated() {
            timelineEvent(event, s.scoped("timeline[\(index)]"))
        }
        ModelRules.timeline(
            experiment.timeline, topology: experiment.topology, groupNamesComplete: true, middleboxNamesComplete: true,
            workload: experiment.workload, s
        )
        ModelRules.groupTopics(experiment.topology, workload: experiment.workload, s)
        expectations(experiment.expectations, topology: experiment.topology, s)
    }

    /// 1 to ``Workload/topicCountRange`` valid names, none twice.
    func topicList(_ topics: [String], _ s: Scope, at path: String) {
        if !Workload.topicCountRange.contains(topics.count) {
            s.fail(path, "must list \(Workload.topicCountRange.lowerBound) to \(Workload.topicCountRange.upperBound) topics, got \(topics.count)")
        }
        for (index, topic) in topics.enumerated() {
            if let problem = ValueCheck.identifier(topic) { s.fail("\(path)[\(index)]", problem) }
            if topics[..<index].contains(topic) { s.fail(path, "topic '\(topic)' is listed twice") }
        }
    }

    func workload(_ workload: Workload, _ s: Scope) {
        typealias Keys = Schema.WorkloadKeys
        topicList(workload.topics, s, at: "topics")
        s.check(Keys.rate, workload.ratePerSecond)
        s.check(Keys.size, workload.messageBytes)
        s.check(Keys.start, workload.start)
        s.check(Keys.duration, workload.duration)
        s.check(Keys.drain, workload.drain)
        if let sends = workload.clientSends {
            s.check(Schema.ClientSendsKeys.rate, sends.ratePerSecond, at: "clientSends.rate")
            s.check(Schema.ClientSendsKeys.size, sends.messageBytes, at: "clientSends.size")
        }
    }

    func timelineEvent(_ event: TimelineEvent, _ s: Scope) {
        s.check(Schema.TimelineKeys.at, event.at)
        let action = s.scoped(event.action.fileKey)
        if let revertAfter = event.revertAfter, event.action.isRevertible {
            action.check(Schema.TargetKeys.revertAfter, revertAfter)
        }
        switch event.action {
        case .partition, .heal:
            break
        case .setLink(_, _, let link):
            self.link(link, action)
        case .addFirewall(let name, _, let port, _, _):
            action.check(Schema.FirewallKeys.name, name)
            action.check(Schema.FirewallKeys.port, port)
        case .removeFirewall(let name, _):
            action.check(Schema.FirewallKeys.name, name)
        case .flap(_, _, let period, let upFraction, let until):
            action.check(Schema.FlapKeys.period, period)
            action.check(Schema.FlapKeys.up, upFraction)
            if let reason = ValueCheck.duration(until) { action.fail("until", reason) }
        case .setProxyPolicy(_, let policy):
            self.policy(policy, action)
        case .restartServer(let down, _, let node):
            action.check(Schema.RestartServerKeys.down, down)
            if let node { action.check(Schema.RestartServerKeys.node, node) }
        case .setNat(_, let idleTimeout):
            action.check(Schema.SetNatKeys.idleTimeout, idleTimeout)
        }
    }

    func expectations(_ expectations: [Expectation], topology: Topology, _ s: Scope) {
        for (index, expectation) in expectations.enumerated() {
            let entry = s.scoped("expect[\(index)]")
            switch expectation.kind {
            case .deliveryRateAtLeast(let fraction):
                entry.check(Schema.DeliveryRateKeys.atLeast, fraction, at: "delivery.atLeast")
            case .latencyAtMost(let statistic, let milliseconds):
                Self.checkMilliseconds(milliseconds, entry, "latency.\(statistic.rawValue).atMost")
            case .latencyAtLeast(let statistic, let milliseconds):
                let path = "latency.\(statistic.rawValue).atLeast"
                Self.checkMilliseconds(milliseconds, entry, path)
                for other in expectations {
                    if case .latencyAtMost(statistic, let atMost) = other.kind, milliseconds > atMost,
                       let reason = ModelRules.latencyBounds(atLeast: Self.amount(milliseconds), atMost: Self.amount(atMost)) {
                        entry.fail(path, reason)
                        break
                    }
                }
            case .recoveryAtMost(let statistic, let milliseconds):
                Self.checkMilliseconds(milliseconds, entry, "recovery.\(statistic.rawValue).atMost")
            case .endsOnTransport(let group, _, let within, let notBefore):
                if let group, let reason = ModelRules.unknownGroup(group, in: topology) { entry.fail("transport.group", reason) }
                if let within {
                    Self.checkMilliseconds(within, entry, "transport.within")
                    if within == 0 { entry.fail("transport.within", "must be greater than 0, got 0s") }
                }
                if let notBefore { Self.checkMilliseconds(notBefore, entry, "transport.notBefore") }
                if let within, let notBefore, within > 0, notBefore >= 0,
                   let reason = ModelRules.transportWindow(notBefore: Self.amount(notBefore), within: Self.amount(within)) {
                    entry.fail("transport.notBefore", reason)
                }
            case .deliveryComplete, .noDuplicates, .noReordering, .allConnected, .noIncompleteRecovery, .everyRecoveryIncomplete, .clientSendsComplete:
                break
            }
        }
    }

    /// Expectations carry durations as (fractional) milliseconds: finite, not negative.
    private static func checkMilliseconds(_ milliseconds: Double, _ s: Scope, _ path: String) {
        guard milliseconds.isFinite, milliseconds >= 0 else {
            s.fail(path, "duration must be finite and not negative, got \(Expectation.format(milliseconds)) ms")
            return
        }
    }

    private static func amount(_ milliseconds: Double) -> TimeAmount {
        .nanoseconds(Int64((milliseconds * 1_000_000).rounded()))
    }

    // MARK: - Topology

    func topology(_ topology: Topology, _ s: Scope) {
        s.check(Schema.TopologyKeys.name, topology.name)
        s.check(Schema.ServerKeys.name, topology.server.name, at: "server.name")
        s.check(Schema.ServerKeys.port, topology.server.port, at: "server.port")
        if let port = topology.server.webSocketPort { s.check(Schema.ServerKeys.webSocketPort, port, at: "server.webSocketPort") }
        s.check(Schema.ServerKeys.nodes, topology.server.nodes, at: "server.nodes")
        tcp(topology.server.tcp, s.scoped("server.tcp"))
        for (index, group) in topology.groups.enumerated() {
            self.group(group, s.scoped("groups[\(index)]"))
        }
        for (index, middlebox) in topology.middleboxes.enumerated() {
            let entry = s.scoped("middleboxes[\(index)]")
            entry.check(Schema.MiddleboxKeys.name, middlebox.name)
            entry.check(Schema.MiddleboxKeys.port, middlebox.port)
            linkPair(middlebox.link, entry.scoped("link"))
            policy(middlebox.policy, entry.scoped("policy"))
            tcp(middlebox.tcp, entry.scoped("tcp"))
        }
        for (index, rule) in topology.firewall.enumerated() {
            let entry = s.scoped("firewall[\(index)]")
            entry.check(Schema.FirewallKeys.name, rule.name)
            entry.check(Schema.FirewallKeys.port, rule.port)
        }
        ModelRules.topology(topology, s)
    }

    func group(_ group: ClientGroup, _ s: Scope) {
        typealias Keys = Schema.GroupKeys
        s.check(Keys.name, group.name)
        s.check(Keys.count, group.count)
        s.check(Keys.connectAt, group.connectAt)
        s.check(Keys.connectSpread, group.connectSpread)
        linkPair(group.link, s.scoped("link"))
        tcp(group.tcp, s.scoped("tcp"))
        s.check(Schema.HeartbeatKeys.interval, group.heartbeat.interval, at: "heartbeat.interval")
        s.check(Schema.HeartbeatKeys.timeout, group.heartbeat.timeout, at: "heartbeat.timeout")
        s.check(Schema.SyncKeys.interval, group.sync.interval, at: "sync.interval")
        s.check(Schema.SyncKeys.longPoll, group.sync.longPoll, at: "sync.longPoll")
        s.check(Schema.SyncKeys.batchSize, group.sync.batchSize, at: "sync.batchSize")
        if let nat = group.nat { s.check(Schema.NATKeys.idleTimeout, nat.idleTimeout, at: "nat.idleTimeout") }
        if let manager = group.manager { self.manager(manager, s.scoped("manager")) }
        if let topics = group.topics { topicList(topics, s, at: "topics") }
        s.check(Keys.tabs, group.tabs)
        if let browser = group.browser {
            s.check(Schema.BrowserKeys.connectionsPerHost, browser.connectionsPerHost, at: "browser.connectionsPerHost")
        }
    }

    func linkPair(_ pair: LinkPair, _ s: Scope) {
        link(pair.up, s.scoped("up"))
        link(pair.down, s.scoped("down"))
    }

    func link(_ link: LinkConfiguration, _ s: Scope) {
        typealias Keys = Schema.LinkKeys
        s.check(Keys.latency, link.latency)
        s.check(Keys.jitter, link.jitter)
        switch link.loss {
        case .none:
            break
        case .independent(let probability):
            s.check(Schema.LossKeys.probability, probability, at: "loss")
        case .gilbertElliott(let p, let r, let lossInGood, let lossInBad):
            s.check(Schema.LossKeys.p, p, at: "loss.p")
            s.check(Schema.LossKeys.r, r, at: "loss.r")
            s.check(Schema.LossKeys.lossInGood, lossInGood, at: "loss.lossInGood")
            s.check(Schema.LossKeys.lossInBad, lossInBad, at: "loss.lossInBad")
        }
        s.check(Keys.bandwidth, link.bandwidthBitsPerSecond)
        s.check(Keys.queue, link.queueBytes)
    }

    func tcp(_ settings: TCPSettings, _ s: Scope) {
        typealias Keys = Schema.TCPKeys
        s.check(Keys.mss, settings.mss)
        s.check(Keys.initialRTO, settings.initialRTO)
        s.check(Keys.minRTO, settings.minRTO)
        s.check(Keys.maxRTO, settings.maxRTO)
        s.check(Keys.synRetries, settings.synRetries)
        s.check(Keys.maxRetransmissions, settings.maxRetransmissions)
        s.check(Keys.window, settings.windowBytes)
        s.check(Keys.initialWindow, settings.initialCongestionWindow)
        s.check(Keys.timeWait, settings.timeWait)
    }

    func manager(_ settings: RealtimeManagerConfiguration, _ s: Scope) {
        typealias Keys = Schema.ManagerKeys
        s.check(Keys.benchmarkInterval, settings.benchmarkInterval)
        if let threshold = settings.latencyThreshold { s.check(Keys.latencyThreshold, threshold) }
        s.check(Keys.giveUpAfter, settings.giveUpAfter)
        s.check(Schema.BackoffKeys.base, settings.backoff.base, at: "backoff.base")
        s.check(Schema.BackoffKeys.cap, settings.backoff.cap, at: "backoff.cap")
        s.check(Keys.confirmTimeoutFloor, settings.confirmTimeouts.websocket.floor)
        if settings.confirmTimeouts.sse.floor != settings.confirmTimeouts.websocket.floor {
            s.check(Keys.confirmTimeoutFloor, settings.confirmTimeouts.sse.floor)
        }
        s.check(Keys.rememberFor, settings.rememberFor)
        if let floor = settings.heartbeatFloor { s.check(Keys.heartbeatFloor, floor) }
        s.check(Keys.burstHold, settings.burstHold)
    }

    func policy(_ policy: HTTPProxyPolicy, _ s: Scope) {
        typealias Keys = Schema.PolicyKeys
        if let bytes = policy.bufferResponseBytes { s.check(Keys.bufferResponses, bytes) }
        if let timeout = policy.idleTimeout { s.check(Keys.idleTimeout, timeout) }
        if let after = policy.bufferAfter { s.check(Keys.bufferAfter, after) }
        if let bytes = policy.holdEventsBytes { s.check(Keys.holdEventsBytes, bytes) }
        if let lifetime = policy.maxConnectionLifetime { s.check(Keys.maxConnectionLifetime, lifetime) }
        if let time = policy.maxResponseTime { s.check(Keys.maxResponseTime, time) }
        if let cap = policy.maxConnectionsPerClient { s.check(Keys.maxConnectionsPerClient, cap) }
        if let bytes = policy.webSocketBytesBudget { s.check(Keys.dropFramesAfterBytes, bytes) }
        if let time = policy.webSocketTimeBudget { s.check(Keys.dropFramesAfter, time) }
        for (index, port) in (policy.connectPorts ?? []).enumerated() {
            s.check(SchemaKey<Int>.key("connectPorts", .port, default: 443, "", example: ""), port, at: "connectPorts[\(index)]")
        }
        for (index, type) in policy.blockContentTypes.enumerated() {
            let parts = type.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count != 2 || parts[0].isEmpty || parts[1].isEmpty || type.contains(" ") {
                s.fail("blockContentTypes[\(index)]", "'\(type)' is not a media type (expected type/subtype, like text/event-stream)")
            }
        }
    }
}
