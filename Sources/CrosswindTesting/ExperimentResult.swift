/// What one run of an experiment observed: the ``Report`` that `report.json` holds, with
/// accessors for the assertions suites make most.
public struct ExperimentResult: Sendable, Equatable {
    /// The experiment as it ran.
    public let experiment: Experiment
    /// The whole report (`report.json`).
    public let report: Report

    public init(experiment: Experiment, report: Report) {
        self.experiment = experiment
        self.report = report
    }

    /// The seed the run used.
    public var seed: UInt64 { self.report.seed }
    /// The trace digest: the same for every run of this experiment and seed.
    public var digest: String { self.report.digest }
    /// Every expectation of the experiment held.
    public var passed: Bool { self.report.passed }
    /// The expectations that did not hold, with what was observed.
    public var failures: [Report.ExpectationResult] { self.report.expectations.filter { !$0.passed } }
    /// Messages offered to clients and never delivered, summed over clients.
    public var lost: Int { self.report.messages.lost }
    /// Deliveries of a message a client already had.
    public var duplicated: Int { self.report.messages.duplicated }
    /// Deliveries of a message older than one a client already had.
    public var reordered: Int { self.report.messages.reordered }
    /// Clients open at the end of the run, by transport.
    public var endedOn: [TransportMethod: Int] { Self.transports(self.report.clients.byTransport) }

    /// The outcome of the client group `name`. A group the topology does not have comes back
    /// with no clients, so an assertion on it fails showing the empty figures.
    public func group(_ name: String) -> GroupResult {
        guard let group = self.report.groups.first(where: { $0.name == name }) else {
            return GroupResult(name: name, clients: 0, endedOn: [:], switches: 0, arrivalMsMax: nil)
        }
        return GroupResult(
            name: group.name,
            clients: group.clients,
            endedOn: Self.transports(group.byTransport),
            switches: group.switches,
            arrivalMsMax: group.arrivalMsMax
        )
    }

    /// The command that repeats this run, when the experiment came from a file.
    public var replayCommand: String? {
        self.experiment.sourcePath.map { "crosswind run \($0) --seed \(self.seed)" }
    }

    static func transports(_ counts: [String: Int]) -> [TransportMethod: Int] {
        var result: [TransportMethod: Int] = [:]
        for (name, count) in counts {
            if let method = TransportMethod(rawValue: name) { result[method] = count }
        }
        return result
    }
}

/// The outcome of one client group.
public struct GroupResult: Sendable, Equatable {
    public var name: String
    public var clients: Int
    /// Clients of the group open at the end of the run, by transport.
    public var endedOn: [TransportMethod: Int]
    /// `onMethodChange` reports of the group's clients, each client's initial choice included.
    public var switches: Int
    /// The slowest client's time from its start to its arrival on the transport it ended on.
    public var arrivalMsMax: Double?

    public init(name: String, clients: Int, endedOn: [TransportMethod: Int], switches: Int, arrivalMsMax: Double?) {
        self.name = name
        self.clients = clients
        self.endedOn = endedOn
        self.switches = switches
        self.arrivalMsMax = arrivalMsMax
    }
}
