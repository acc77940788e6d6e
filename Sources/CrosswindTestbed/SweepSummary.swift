import CrosswindReport
import Foundation

/// `sweep.json`: one experiment over a range of seeds — which seeds ran, how many passed, how
/// each headline figure is distributed across seeds, and every failing seed with its failed
/// expectations and the command that replays it.
///
/// It is a pure function of the per-seed reports: no wall time, no host, seeds in increasing
/// order whatever order they finished in. So `--jobs 1` and `--jobs 8` write the same bytes,
/// and the shares of a sharded sweep merge (``merging(_:)``) into exactly the file the
/// unsharded sweep writes. Each seed's figures are kept (``results``) so that a merge needs
/// only the shards' `sweep.json`, not their run directories.
public struct SweepSummary: Codable, Sendable, Equatable {
    public var experiment: String
    /// As given to `crosswind sweep`; the replay commands name it.
    public var experimentFile: String
    /// The experiment file and the files it references, with their SHA-256, as the sweep read
    /// them: shares merge only when they ran the same files.
    public var inputs: [Manifest.InputFile]
    /// The whole range asked for.
    public var seeds: SeedRange
    /// The share this sweep ran (absent for a whole or a merged sweep).
    public var shard: Shard?
    /// The seeds that ran, in increasing order.
    public var seedsRun: [UInt64]
    /// Seeds of the range that no merged share ran (absent when none is missing).
    public var seedsMissing: [UInt64]?
    public var runs: Int
    public var passed: Int
    /// Runs that did not pass: a failed expectation, or (counted in ``errors`` too) no report.
    public var failed: Int
    /// Runs that ended without a report (the run could not start, or crashed).
    public var errors: Int
    /// passed / runs (0 without runs).
    public var passRate: Double
    public var metrics: Metrics
    /// The seeds that did not pass, each with what failed and its replay command.
    public var failures: [Failure]
    /// Every seed's digest, verdict and figures.
    public var results: [SeedResult]

    /// How a figure is distributed over the seeds that have it (nearest-rank percentiles, so
    /// every value is one a seed produced).
    public struct Distribution: Codable, Sendable, Equatable {
        /// Seeds that contributed a value.
        public var seeds: Int
        public var min: Double
        public var p50: Double
        public var p95: Double
        public var max: Double

        public init(seeds: Int, min: Double, p50: Double, p95: Double, max: Double) {
            self.seeds = seeds
            self.min = min
            self.p50 = p50
            self.p95 = p95
            self.max = max
        }
    }

    /// The headline figures across seeds; a figure no seed has is absent.
    public struct Metrics: Codable, Sendable, Equatable {
        public var latencyP50Ms: Distribution?
        public var latencyP99Ms: Distribution?
        /// delivered / offered (1 when nothing was offered).
        public var deliveryRate: Distribution?
        public var lost: Distribution?
        /// Seeds with at least one recovery.
        public var recoveryP99Ms: Distribution?
        public var connectionSuccessRate: Distribution?
        /// The slowest group's slowest client: from its start to its arrival on the transport
        /// it ended on.
        public var timeToFinalTransportMs: Distribution?
    }

    /// One seed's figures, taken from its `report.json`.
    public struct Figures: Codable, Sendable, Equatable {
        public var latencyP50Ms: Double
        public var latencyP99Ms: Double
        public var deliveryRate: Double
        public var lost: Int
        public var recoveryP99Ms: Double?
        public var connectionSuccessRate: Double
        public var timeToFinalTransportMs: Double?

        public init(report: Report) {
            self.latencyP50Ms = report.latencyMs.p50
            self.latencyP99Ms = report.latencyMs.p99
            let messages = report.messages
            self.deliveryRate = messages.offered == 0 ? 1 : Double(messages.delivered) / Double(messages.offered)
            self.lost = messages.lost
            self.recoveryP99Ms = report.recovery.count > 0 ? report.recovery.p99Ms : nil
            self.connectionSuccessRate = report.connectionSuccessRate
            self.timeToFinalTransportMs = report.groups.compactMap(\.arrivalMsMax).max()
        }
    }

    /// An expectation that failed, with what was observed.
    public struct FailedExpectation: Codable, Sendable, Equatable {
        public var text: String
        public var observed: String

        public init(text: String, observed: String) {
            self.text = text
            self.observed = observed
        }
    }

    /// One seed's outcome.
    public struct SeedResult: Codable, Sendable, Equatable {
        public var seed: UInt64
        public var passed: Bool
        /// Absent when the run ended without a report.
        public var digest: String?
        public var figures: Figures?
        public var failedExpectations: [FailedExpectation]
        /// Why the run ended without a report.
        public var error: String?

        /// The outcome of a run that wrote `report`.
        public init(seed: UInt64, report: Report) {
            self.seed = seed
            self.passed = report.passed
            self.digest = report.digest
            self.figures = Figures(report: report)
            self.failedExpectations = report.expectations.filter { !$0.passed }.map { FailedExpectation(text: $0.text, observed: $0.observed) }
            self.error = nil
        }

        /// A run that ended without a report, and why.
        public init(seed: UInt64, error: String) {
            self.seed = seed
            self.passed = false
            self.digest = nil
            self.figures = nil
            self.failedExpectations = []
            self.error = error
        }
    }

    /// A seed that did not pass.
    public struct Failure: Codable, Sendable, Equatable {
        public var seed: UInt64
        public var failedExpectations: [FailedExpectation]
        public var error: String?
        /// `crosswind run FILE --seed S`.
        public var replay: String
    }

    /// The summary of `results` (any order, one per seed) of `experiment` over `seeds`.
    public init(
        experiment: String, experimentFile: String, inputs: [Manifest.InputFile], seeds: SeedRange, shard: Shard?,
        results: [SeedResult]
    ) {
        let results = results.sorted { $0.seed < $1.seed }
        self.experiment = experiment
        self.experimentFile = experimentFile
        self.inputs = inputs
        self.seeds = seeds
        self.shard = shard
        self.seedsRun = results.map(\.seed)
        let expected = seeds.seeds(in: shard)
        let missing = expected.count == results.count ? [] : Self.difference(expected, results.map(\.seed))
        self.seedsMissing = missing.isEmpty ? nil : missing
        self.runs = results.count
        self.passed = results.filter(\.passed).count
        self.failed = results.count - self.passed
        self.errors = results.filter { $0.error != nil }.count
        self.passRate = results.isEmpty ? 0 : Double(self.passed) / Double(results.count)
        let figures = results.compactMap(\.figures)
        self.metrics = Metrics(
            latencyP50Ms: Self.distribution(figures.map(\.latencyP50Ms)),
            latencyP99Ms: Self.distribution(figures.map(\.latencyP99Ms)),
            deliveryRate: Self.distribution(figures.map(\.deliveryRate)),
            lost: Self.distribution(figures.map { Double($0.lost) }),
            recoveryP99Ms: Self.distribution(figures.compactMap(\.recoveryP99Ms)),
            connectionSuccessRate: Self.distribution(figures.map(\.connectionSuccessRate)),
            timeToFinalTransportMs: Self.distribution(figures.compactMap(\.timeToFinalTransportMs))
        )
        self.failures = results.filter { !$0.passed }.map { result in
            Failure(
                seed: result.seed, failedExpectations: result.failedExpectations, error: result.error,
                replay: Self.replayCommand(file: experimentFile, seed: result.seed)
            )
        }
        self.results = results
    }

    /// The sweep of the whole range from the shares of one (`crosswind sweep --merge`): the
    /// same bytes the unsharded sweep writes when every share is there.
    ///
    /// Throws when the shares are of different experiments, files or ranges, or overlap.
    public static func merging(_ parts: [SweepSummary]) throws(SweepError) -> SweepSummary {
        guard let first = parts.first else { throw SweepError("nothing to merge") }
        var owner: [UInt64: Int] = [:]
        var results: [SeedResult] = []
        for (index, part) in parts.enumerated() {
            guard part.experiment == first.experiment, part.experimentFile == first.experimentFile else {
                throw SweepError("part \(index + 1) is a sweep of \(part.experiment) (\(part.experimentFile)), part 1 of \(first.experiment) (\(first.experimentFile))")
            }
            if part.inputs != first.inputs {
                let paths = (first.inputs + part.inputs).map(\.path)
                let path = paths.first { path in first.inputs.first { $0.path == path } != part.inputs.first { $0.path == path } } ?? paths[0]
                func hash(_ inputs: [Manifest.InputFile]) -> String { inputs.first { $0.path == path }.map { "sha256 \($0.sha256)" } ?? "not at all" }
                throw SweepError("the shares ran different files: part 1 read \(path) with \(hash(first.inputs)), part \(index + 1) with \(hash(part.inputs))")
            }
            guard part.seeds == first.seeds else {
                throw SweepError("part \(index + 1) sweeps seeds \(part.seeds.text), part 1 seeds \(first.seeds.text)")
            }
            for result in part.results {
                if let other = owner[result.seed] {
                    throw SweepError("seed \(result.seed) is in part \(other + 1) and in part \(index + 1)")
                }
                owner[result.seed] = index
                results.append(result)
            }
        }
        return SweepSummary(
            experiment: first.experiment, experimentFile: first.experimentFile, inputs: first.inputs, seeds: first.seeds, shard: nil,
            results: results
        )
    }

    /// `crosswind run FILE --seed S`.
    public static func replayCommand(file: String, seed: UInt64) -> String {
        "crosswind run \(file) --seed \(seed)"
    }

    /// Nearest-rank statistics of `values`; nil when empty.
    static func distribution(_ values: [Double]) -> Distribution? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ percent: Double) -> Double {
            let index = Int((percent / 100 * Double(sorted.count)).rounded(.up)) - 1
            return sorted[min(max(index, 0), sorted.count - 1)]
        }
        return Distribution(seeds: sorted.count, min: sorted[0], p50: rank(50), p95: rank(95), max: sorted[sorted.count - 1])
    }

    /// The elements of `all` (increasing) that are not in `present` (increasing).
    private static func difference(_ all: [UInt64], _ present: [UInt64]) -> [UInt64] {
        var missing: [UInt64] = []
        var index = 0
        for seed in all {
            while index < present.count && present[index] < seed { index += 1 }
            if index == present.count || present[index] != seed { missing.append(seed) }
        }
        return missing
    }
}
