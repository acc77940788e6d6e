import CrosswindExperiment
import CrosswindReport
import CrosswindTestbed
import Foundation
import Testing

/// The seed plan of a sweep and its aggregate, `sweep.json`: shards split the range exactly,
/// the distributions are nearest-rank, and the shares of a sweep merge into the very bytes of
/// the whole sweep.
@Suite struct SweepSummaryTests {
    @Test func seedRangesParse() throws {
        #expect(try SeedRange.parse("1..10") == SeedRange(first: 1, last: 10))
        #expect(try SeedRange.parse("7") == SeedRange(first: 7, last: 7))
        #expect(try SeedRange.parse(" 3 .. 4 ") == SeedRange(first: 3, last: 4))
        #expect(try SeedRange.parse("0..0").count == 1)
        for bad in ["", "a..b", "5..1", "1..", "..5", "1..2..3", "-1..3", "1-5", "0..1000000"] {
            #expect(throws: SweepError.self, "'\(bad)'") { try SeedRange.parse(bad) }
        }
        let error = try #require(throws: SweepError.self) { try SeedRange.parse("9..2") }
        #expect(error.description.contains("'9..2'"))
    }

    @Test func shardsParse() throws {
        #expect(try Shard.parse("2/3") == Shard(index: 2, count: 3))
        #expect(try Shard.parse("1/1") == Shard(index: 1, count: 1))
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/2/3", "/2", "-1/2"] {
            #expect(throws: SweepError.self, "'\(bad)'") { try Shard.parse(bad) }
        }
    }

    /// Shares are fixed by arithmetic alone: disjoint, together the whole range, and each seed
    /// in share `(s - A) % N + 1`.
    @Test(arguments: [(UInt64(1), UInt64(100), 3), (5, 9, 7), (0, 0, 2), (10, 1009, 10)])
    func shardsPartitionTheRange(first: UInt64, last: UInt64, count: Int) {
        let range = SeedRange(first: first, last: last)
        var union: [UInt64] = []
        for index in 1...count {
            let seeds = range.seeds(in: Shard(index: index, count: count))
            #expect(seeds.allSatisfy { Int(($0 - first) % UInt64(count)) == index - 1 })
            #expect(seeds == seeds.sorted())
            union += seeds
        }
        #expect(union.sorted() == range.seeds())
        #expect(range.seeds().count == range.count)
    }

    @Test func distributionsAreNearestRank() throws {
        // 20 values: p50 is the 10th, p95 the 19th, each a value some seed produced.
        var figures = (1...20).map { Double($0) }
        figures.shuffle()
        let results = try figures.enumerated().map { index, value in try self.result(seed: UInt64(index + 1), p99: value) }
        let summary = SweepSummary(experiment: "e", experimentFile: "e.yaml", inputs: [], seeds: SeedRange(first: 1, last: 20), shard: nil, results: results)
        let p99 = summary.metrics.latencyP99Ms
        #expect(p99 == SweepSummary.Distribution(seeds: 20, min: 1, p50: 10, p95: 19, max: 20))
        // A single seed is every statistic at once.
        let one = SweepSummary(experiment: "e", experimentFile: "e.yaml", inputs: [], seeds: SeedRange(first: 1, last: 1), shard: nil, results: [try self.result(seed: 1, p99: 7)])
        #expect(one.metrics.latencyP99Ms == SweepSummary.Distribution(seeds: 1, min: 7, p50: 7, p95: 7, max: 7))
        #expect(one.metrics.recoveryP99Ms == nil)
    }

    /// Real runs of a small experiment at seeds 1…6, half of them failing a latency bound: the
    /// three shares merged are byte for byte the whole sweep, after a trip through JSON as
    /// `crosswind sweep --merge` reads them.
    @Test func sharesMergeIntoTheWholeSweepByteForByte() throws {
        let experiment = try ExperimentLoader.parse(yaml: SmallExperiment.yaml(name: "small", p99AtMostMs: 100), file: "small.yaml", baseDirectory: ".")
        let range = SeedRange(first: 1, last: 6)
        let results = try range.seeds().map { seed in
            let result = try ExperimentRun(experiment: experiment, options: RunOptions(seed: seed, keepsEvents: false)).execute()
            return SweepSummary.SeedResult(seed: seed, report: result.report)
        }
        let inputs = [Manifest.InputFile(path: "small.yaml", sha256: String(repeating: "a", count: 64))]
        let whole = SweepSummary(experiment: "small", experimentFile: "small.yaml", inputs: inputs, seeds: range, shard: nil, results: results.reversed())
        #expect(whole.seedsRun == [1, 2, 3, 4, 5, 6])
        #expect(whole.seedsMissing == nil)
        #expect(whole.runs == 6)
        #expect(whole.passed + whole.failed == 6)
        #expect(whole.failed > 0 && whole.passed > 0, "the bound should split these seeds: \(results.map(\.figures?.latencyP99Ms))")
        #expect(whole.passRate == Double(whole.passed) / 6)
        for failure in whole.failures {
            #expect(failure.replay == "crosswind run small.yaml --seed \(failure.seed)")
            #expect(failure.failedExpectations.map(\.text) == ["latency p99 <= 100 ms"])
            #expect(failure.failedExpectations[0].observed.hasPrefix("p99 "))
        }
        #expect(whole.metrics.deliveryRate?.min == 1)
        #expect(whole.metrics.timeToFinalTransportMs != nil)
        #expect(Set(results.compactMap(\.digest)).count == 6, "each seed has its own digest")

        let shares = try (1...3).map { index in
            let shard = Shard(index: index, count: 3)
            let mine = results.filter { range.seeds(in: shard).contains($0.seed) }
            let part = SweepSummary(experiment: "small", experimentFile: "small.yaml", inputs: inputs, seeds: range, shard: shard, results: mine)
            #expect(part.seedsRun == range.seeds(in: shard))
            return try JSONDecoder().decode(SweepSummary.self, from: RunOutput.encode(part))
        }
        let merged = try SweepSummary.merging([shares[2], shares[0], shares[1]])
        #expect(try RunOutput.encode(merged) == RunOutput.encode(whole))
        #expect(merged.text == whole.text)

        // Two shares of three: merged, with the missing seeds named.
        let partial = try SweepSummary.merging([shares[0], shares[2]])
        #expect(partial.seedsMissing == range.seeds(in: Shard(index: 2, count: 3)))
        #expect(partial.text.contains("missing 2 seeds"))
    }

    @Test func mergingRefusesSharesThatDoNotBelongTogether() throws {
        let inputs = [Manifest.InputFile(path: "e.yaml", sha256: "1")]
        func part(_ seeds: [UInt64], experiment: String = "e", range: SeedRange = SeedRange(first: 1, last: 4), inputs: [Manifest.InputFile] = inputs) throws -> SweepSummary {
            SweepSummary(experiment: experiment, experimentFile: "e.yaml", inputs: inputs, seeds: range, shard: nil, results: try seeds.map { try self.result(seed: $0, p99: 1) })
        }
        func message(_ parts: [SweepSummary]) throws -> String {
            try #require(throws: SweepError.self) { try SweepSummary.merging(parts) }.description
        }
        #expect(try message([]) == "nothing to merge")
        #expect(try message([try part([1, 2]), try part([2, 3])]) == "seed 2 is in part 1 and in part 2")
        #expect(try message([try part([1]), try part([2], experiment: "f")]).contains("part 2 is a sweep of f"))
        #expect(try message([try part([1]), try part([2], range: SeedRange(first: 1, last: 5))]).contains("seeds 1..5"))
        let edited = [Manifest.InputFile(path: "e.yaml", sha256: "2")]
        #expect(try message([try part([1]), try part([2], inputs: edited)]) == "the shares ran different files: part 1 read e.yaml with sha256 1, part 2 with sha256 2")
    }

    @Test func theTextNamesEveryFailingSeedWithItsReplayCommand() throws {
        var failing = try self.result(seed: 4, p99: 9)
        failing.passed = false
        failing.failedExpectations = [SweepSummary.FailedExpectation(text: "latency p99 <= 5 ms", observed: "p99 9 ms")]
        let crashed = SweepSummary.SeedResult(seed: 5, error: "the run crashed (signal 11); see seeds/5/run.log")
        let summary = SweepSummary(
            experiment: "e", experimentFile: "Experiments/e.yaml", inputs: [], seeds: SeedRange(first: 3, last: 5), shard: nil,
            results: [try self.result(seed: 3, p99: 1), failing, crashed]
        )
        #expect(summary.errors == 1)
        #expect(summary.failed == 2)
        let text = summary.text
        #expect(text.hasPrefix("sweep  e  (Experiments/e.yaml)  seeds 3..5: 3 run\npassed 1 of 3 (33.333 %), 1 without a report\n"))
        #expect(text.contains("FAIL  seed 4\n      latency p99 <= 5 ms  (p99 9 ms)\n      crosswind run Experiments/e.yaml --seed 4\n"))
        #expect(text.contains("FAIL  seed 5\n      the run crashed (signal 11); see seeds/5/run.log\n      crosswind run Experiments/e.yaml --seed 5\n"))
        #expect(text.contains("latency p99 ms"))
        #expect(!text.contains("recovery p99 ms"), "no seed recovered from anything")
    }

    /// A passing seed whose latency p99 is `p99`.
    private func result(seed: UInt64, p99: Double) throws -> SweepSummary.SeedResult {
        let json = """
            {"seed": \(seed), "passed": true, "digest": "d\(seed)", "failedExpectations": [],
             "figures": {"latencyP50Ms": 1, "latencyP99Ms": \(p99), "deliveryRate": 1, "lost": 0, "connectionSuccessRate": 1}}
            """
        return try JSONDecoder().decode(SweepSummary.SeedResult.self, from: Data(json.utf8))
    }
}
