import CrosswindExperiment
import CrosswindKernel
import CrosswindReport

/// Runs swarm scenarios and checks them: the experiment the scenario's file describes, in
/// this process, with its trace kept for ``SwarmChecker``.
public enum SwarmRunner {
    /// One scenario's run, checked.
    public struct Outcome: Sendable {
        /// The scenario run (nil for an experiment checked as it is).
        public var scenario: SwarmScenario?
        /// What the checker found (empty: every invariant held).
        public var violations: [SwarmChecker.Violation]
        /// Whether the file's own expectations held (what `crosswind run` reports).
        public var expectationsPassed: Bool
        /// The expectations that failed, as the report words them.
        public var failedExpectations: [String]
        public var digest: String
        /// Trace events the run recorded (a measure of its cost).
        public var events: Int
        public var budget: SwarmBudget
        /// Incomplete resumes (`recovered: false`) the trace recorded.
        public var incompleteResumes: Int

        public var passed: Bool { self.violations.isEmpty && self.expectationsPassed }
        /// The invariants broken, each once, in the checker's order.
        public var invariants: [SwarmChecker.Invariant] {
            SwarmChecker.Invariant.allCases.filter { invariant in self.violations.contains { $0.invariant == invariant } }
        }
    }

    /// Runs `scenario` and checks its trace.
    public static func run(_ scenario: SwarmScenario) throws(ExperimentError) -> Outcome {
        let experiment = try scenario.experiment()
        var outcome = try Self.check(experiment)
        outcome.scenario = scenario
        return outcome
    }

    /// Runs any experiment (a written swarm file, say) and checks its trace with the budget
    /// derived from it.
    public static func check(_ experiment: Experiment, seed: UInt64? = nil) throws(ExperimentError) -> Outcome {
        let result: RunResult
        do {
            result = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: true)).execute()
        } catch let error as ExperimentError {
            throw error
        } catch {
            throw ExperimentError(file: experiment.sourcePath ?? experiment.name, line: 1, column: 1, message: "the run could not start: \(error)")
        }
        let budget = SwarmBudget(experiment: experiment)
        let events = SwarmTraceReader.events(of: result.trace)
        let violations = SwarmChecker(budget: budget).check(events)
        let incomplete = events.filter { if case .recoveryIncomplete = $0.what { return true } else { return false } }.count
        let report = result.report
        return Outcome(
            scenario: nil,
            violations: violations,
            expectationsPassed: report.passed,
            failedExpectations: report.expectations.filter { !$0.passed }.map { "\($0.text) — observed \($0.observed)" },
            digest: report.digest,
            events: result.trace.count,
            budget: budget,
            incompleteResumes: incomplete
        )
    }
}
