// The model a suite builds experiments from, and the report it asserts on, come with this
// module: a test file needs `import CrosswindTesting` and nothing else.
@_exported import CrosswindExperiment
@_exported import CrosswindMiddlebox
@_exported import CrosswindNetwork
@_exported import CrosswindReport
@_exported import CrosswindTransport
@_exported import NIOCore
import CrosswindTestbed

/// Runs experiments from a Swift Testing or XCTest suite: built in code from the same model
/// the YAML files map onto, or loaded from a file, then judged on the report.
///
/// ```swift
/// import CrosswindTesting
/// import Testing
///
/// @Test func theOfficeEndsOnSSE() throws {
///     let office = ClientGroup(name: "office", count: 20, link: LinkPair(both: LinkConfiguration(latency: .milliseconds(20))),
///                              manager: RealtimeManagerConfiguration())
///     let experiment = Experiment(
///         name: "office",
///         topology: Topology(name: "office", groups: [office],
///                            middleboxes: [MiddleboxSpec(name: "corp-proxy", groups: ["office"], policy: HTTPProxyPolicy(stripUpgrade: true))]),
///         workload: Workload(ratePerSecond: 5, messageBytes: 256, duration: .seconds(20))
///     )
///     let run = try Crosswind.run(experiment, seed: 7)
///     #expect(run.group("office").endedOn == [.sse: 20])
///     #expect(run.lost == 0)
/// }
/// ```
///
/// Runs are deterministic: the same experiment and seed give the same ``ExperimentResult/digest``
/// and report, on any machine, so a failing seed is a regression test as it stands.
/// Everything happens on the calling thread in virtual time; a suite may run experiments in
/// parallel tests.
public enum Crosswind {
    /// Runs `experiment` at `seed` (its own ``Experiment/seed`` when nil) and returns what it
    /// observed, its expectations evaluated. The experiment is validated first with the
    /// loader's checks: one built in code with a problem (a count of 0, a group a timeline
    /// event does not know) throws an ``ExperimentError`` listing every problem by key path.
    public static func run(_ experiment: Experiment, seed: UInt64? = nil) throws -> ExperimentResult {
        try experiment.validate()
        let result = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: false)).execute()
        return ExperimentResult(experiment: experiment, report: result.report)
    }

    /// Loads an experiment file (YAML), with the validation `crosswind validate` applies.
    public static func load(_ path: String) throws -> Experiment {
        try ExperimentLoader.load(path: path)
    }

    /// Runs `experiment` twice at `seed` and returns the first event at which the two runs'
    /// traces differ, nil when they agree (the same check as `crosswind run --check-determinism`).
    public static func firstDivergence(_ experiment: Experiment, seed: UInt64? = nil) throws -> String? {
        let outcome = try DeterminismCheck.check(experiment, seed: seed)
        guard let divergence = outcome.divergence else { return nil }
        return "event #\(divergence.index): \(divergence.first ?? "(none)") vs \(divergence.second ?? "(none)")"
    }
}
