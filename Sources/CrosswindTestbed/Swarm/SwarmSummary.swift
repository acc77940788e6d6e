/// `swarm.json`: what a swarm sweep ran and every seed that broke something, with its files
/// and replay commands. A pure function of the seeds' outcomes (no wall time, seeds in
/// increasing order), so shares of a sweep merge into what the whole sweep writes.
public struct SwarmSummary: Codable, Sendable, Equatable {
    /// `A..B`.
    public var seeds: String
    /// `standard` or `small` (``SwarmGenerator/Size``).
    public var size: String
    public var runs: Int
    public var passed: Int
    public var failed: Int
    /// Faults drawn over every seed, by kind (`partition`, `setLink`, `flap`, `firewall`, `setProxyPolicy`).
    public var faultsDrawn: [String: Int]
    /// Seeds whose scenario had an outage longer than the replay window.
    public var longOutages: Int
    /// Incomplete resumes (`recovered: false`) seen, every one of them after such an outage
    /// unless a failure says otherwise.
    public var incompleteResumes: Int
    public var failures: [Failure]

    public struct Failure: Codable, Sendable, Equatable {
        public var seed: UInt64
        /// The invariants broken (``SwarmChecker/Invariant`` raw values); empty when only the
        /// file's expectations failed.
        public var invariants: [String]
        /// The first violations, in words.
        public var violations: [String]
        /// The file's expectations that failed.
        public var failedExpectations: [String]
        /// The scenario as drawn, and as shrunk (paths as written by the sweep).
        public var file: String
        public var shrunkFile: String?
        public var faults: Int
        public var shrunkFaults: Int?
        /// The command that replays the shrunk (or, unshrunk, the drawn) file.
        public var replay: String

        public init(
            seed: UInt64, invariants: [String], violations: [String], failedExpectations: [String], file: String, shrunkFile: String?,
            faults: Int, shrunkFaults: Int?, replay: String
        ) {
            self.seed = seed
            self.invariants = invariants
            self.violations = violations
            self.failedExpectations = failedExpectations
            self.file = file
            self.shrunkFile = shrunkFile
            self.faults = faults
            self.shrunkFaults = shrunkFaults
            self.replay = replay
        }
    }

    public init(seeds: String, size: String) {
        self.seeds = seeds
        self.size = size
        self.runs = 0
        self.passed = 0
        self.failed = 0
        self.faultsDrawn = [:]
        self.longOutages = 0
        self.incompleteResumes = 0
        self.failures = []
    }

    /// Counts one seed's outcome in.
    public mutating func add(_ outcome: SwarmRunner.Outcome, scenario: SwarmScenario, incompleteResumes: Int, failure: Failure?) {
        self.runs += 1
        if let failure {
            self.failed += 1
            self.failures.append(failure)
            self.failures.sort { $0.seed < $1.seed }
        } else {
            self.passed += 1
        }
        for fault in scenario.faults { self.faultsDrawn[fault.kind.summaryLabel, default: 0] += 1 }
        if scenario.mayExceedReplayWindow { self.longOutages += 1 }
        self.incompleteResumes += incompleteResumes
    }

    /// The summary of a whole sweep from its shares.
    public static func merging(_ parts: [SwarmSummary], seeds: String) -> SwarmSummary {
        var merged = SwarmSummary(seeds: seeds, size: parts.first?.size ?? "standard")
        for part in parts {
            merged.runs += part.runs
            merged.passed += part.passed
            merged.failed += part.failed
            merged.longOutages += part.longOutages
            merged.incompleteResumes += part.incompleteResumes
            merged.failures += part.failures
            for (kind, count) in part.faultsDrawn { merged.faultsDrawn[kind, default: 0] += count }
        }
        merged.failures.sort { $0.seed < $1.seed }
        return merged
    }

    /// A few lines for the terminal.
    public var text: String {
        var lines = ["swarm \(self.seeds) (\(self.size)): \(self.runs) seeds, \(self.passed) passed, \(self.failed) failed"]
        let kinds = self.faultsDrawn.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("  faults drawn: \(kinds.isEmpty ? "none" : kinds); outages beyond the replay window: \(self.longOutages); incomplete resumes: \(self.incompleteResumes)")
        for failure in self.failures {
            let what = failure.invariants.isEmpty ? "expectations: " + failure.failedExpectations.joined(separator: "; ") : failure.invariants.joined(separator: ", ")
            lines.append("  seed \(failure.seed) FAILED: \(what)")
            for violation in failure.violations.prefix(3) { lines.append("    \(violation)") }
            if let shrunk = failure.shrunkFile, let faults = failure.shrunkFaults {
                lines.append("    shrunk from \(failure.faults) faults to \(faults): \(shrunk)")
            }
            lines.append("    replay: \(failure.replay)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension SwarmScenario.Fault.Kind {
    /// The timeline key the fault is written with in its experiment file.
    public var timelineKey: String {
        switch self {
        case .partition: return "partition"
        case .setLink: return "setLink"
        case .flap, .upstreamFlap: return "flap"
        case .firewall: return "firewall"
        case .proxyPolicy: return "setProxyPolicy"
        case .restartServer: return "restartServer"
        }
    }

    /// How the summary counts the fault: its timeline key, with a restart without its history
    /// and a flap of the proxy's link to the server told apart.
    var summaryLabel: String {
        switch self {
        case .restartServer(persist: false): return "restartServer(new epoch)"
        case .upstreamFlap: return "flap(proxy upstream)"
        default: return self.timelineKey
        }
    }
}
