import CrosswindExperiment

/// Reduces a failing swarm scenario to a smaller one that fails the same way.
///
/// Greedy, one change at a time, each kept only when the run still breaks the same invariant
/// (``SwarmChecker/Invariant``): drop a fault; halve a fault's duration (not below 1 s); drop
/// a group, and its faults; one client fewer in a group; drop the proxy's faults, then the
/// proxy; drop jitter, loss and rate limits from the links; drop a group's NAT. It starts over after every kept
/// change and stops when a whole round keeps nothing, or after ``maximumRuns`` runs. Each
/// candidate is an ordinary scenario, so the result is written as an ordinary experiment file.
public struct SwarmShrinker {
    /// Runs the shrinker may spend.
    public var maximumRuns: Int
    /// Called after each candidate run (for a progress line): the candidate, and whether it
    /// still failed the same way.
    public var onStep: ((SwarmScenario, Bool) -> Void)?

    public init(maximumRuns: Int = 150, onStep: ((SwarmScenario, Bool) -> Void)? = nil) {
        self.maximumRuns = maximumRuns
        self.onStep = onStep
    }

    /// The result: the smallest scenario found that still breaks `invariant`, and the runs spent.
    public struct Result: Sendable {
        public var scenario: SwarmScenario
        public var outcome: SwarmRunner.Outcome
        public var invariant: SwarmChecker.Invariant
        public var runs: Int
    }

    /// Shrinks `failing`, whose run is `outcome`, keeping the first invariant it breaks (or,
    /// when only the file's expectations failed, that they fail).
    public func shrink(_ failing: SwarmScenario, outcome: SwarmRunner.Outcome) -> Result {
        let target = outcome.invariants.first
        var current = failing
        var currentOutcome = outcome
        var runs = 0
        var progressed = true
        while progressed && runs < self.maximumRuns {
            progressed = false
            for candidate in Self.candidates(of: current) {
                guard runs < self.maximumRuns else { break }
                runs += 1
                guard let result = try? SwarmRunner.run(candidate) else { continue }
                let same = target.map { result.invariants.contains($0) } ?? (!result.expectationsPassed)
                self.onStep?(candidate, same)
                if same {
                    current = candidate
                    currentOutcome = result
                    progressed = true
                    break
                }
            }
        }
        current.name = "\(failing.name)-shrunk"
        currentOutcome.scenario = current
        return Result(scenario: current, outcome: currentOutcome, invariant: target ?? .notCaughtUp, runs: runs)
    }

    /// Smaller variants of `scenario`, most reducing first.
    static func candidates(of scenario: SwarmScenario) -> [SwarmScenario] {
        var out: [SwarmScenario] = []
        // Drop one fault.
        for index in scenario.faults.indices {
            var smaller = scenario
            smaller.faults.remove(at: index)
            out.append(smaller)
        }
        // Drop a group and its faults.
        if scenario.groups.count > 1 {
            for group in scenario.groups {
                var smaller = scenario
                smaller.groups.removeAll { $0.name == group.name }
                smaller.faults.removeAll { $0.kind.group == group.name }
                if var proxy = smaller.proxy {
                    proxy.groups.removeAll { $0 == group.name }
                    smaller.proxy = proxy.groups.isEmpty ? nil : proxy
                    if smaller.proxy == nil { smaller.faults.removeAll { $0.kind.isProxyFault } }
                }
                out.append(smaller)
            }
        }
        // Drop the proxy (and its faults) when no fault of it is left.
        if scenario.proxy != nil && !scenario.faults.contains(where: { $0.kind.isProxyFault }) {
            var smaller = scenario
            smaller.proxy = nil
            out.append(smaller)
        }
        // Fewer clients.
        for index in scenario.groups.indices where scenario.groups[index].count > 1 {
            var smaller = scenario
            smaller.groups[index].count -= 1
            out.append(smaller)
        }
        // Shorter faults.
        for index in scenario.faults.indices where scenario.faults[index].forMs > 1_000 {
            var smaller = scenario
            smaller.faults[index].forMs = max(1_000, (scenario.faults[index].forMs / 2) / 100 * 100)
            out.append(smaller)
        }
        // Plainer links.
        for index in scenario.groups.indices {
            let link = scenario.groups[index].link
            if link.jitterMs > 0 || link.lossPermille > 0 || link.bandwidthKbit != nil || link.burst != nil {
                var smaller = scenario
                smaller.groups[index].link = SwarmScenario.Link(latencyMs: link.latencyMs)
                out.append(smaller)
            }
        }
        // No NAT.
        for index in scenario.groups.indices where scenario.groups[index].natIdleTimeoutMs != nil {
            var smaller = scenario
            smaller.groups[index].natIdleTimeoutMs = nil
            out.append(smaller)
        }
        return out
    }
}
