import Foundation

extension SweepSummary {
    /// `sweep.txt`: the summary for a person — verdict, the figures' spread, and each failing
    /// seed with its replay command. Like `sweep.json`, it holds no wall time.
    public var text: String {
        var lines: [String] = []
        let share = self.shard.map { ", share \($0.text)" } ?? ""
        lines.append("sweep  \(self.experiment)  (\(self.experimentFile))  seeds \(self.seeds.text)\(share): \(self.runs) run")
        let percent = Self.number(self.passRate * 100)
        var verdict = "passed \(self.passed) of \(self.runs) (\(percent) %)"
        if self.errors > 0 { verdict += ", \(self.errors) without a report" }
        lines.append(verdict)
        if let missing = self.seedsMissing {
            lines.append("missing \(missing.count) seeds of the range (first \(missing[0])): a share was not merged")
        }
        let rows: [(String, Distribution?)] = [
            ("latency p50 ms", self.metrics.latencyP50Ms),
            ("latency p99 ms", self.metrics.latencyP99Ms),
            ("delivery rate", self.metrics.deliveryRate),
            ("lost", self.metrics.lost),
            ("recovery p99 ms", self.metrics.recoveryP99Ms),
            ("connection success", self.metrics.connectionSuccessRate),
            ("final transport ms", self.metrics.timeToFinalTransportMs),
        ]
        lines.append(Self.row(["", "min", "p50", "p95", "max", "seeds"]))
        for (name, distribution) in rows {
            guard let d = distribution else { continue }
            lines.append(Self.row([name, Self.number(d.min), Self.number(d.p50), Self.number(d.p95), Self.number(d.max), "\(d.seeds)"]))
        }
        for failure in self.failures {
            lines.append("FAIL  seed \(failure.seed)")
            if let error = failure.error { lines.append("      \(error)") }
            for expectation in failure.failedExpectations {
                lines.append("      \(expectation.text)  (\(expectation.observed))")
            }
            lines.append("      \(failure.replay)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A figure rounded to three decimals, without trailing zeros.
    static func number(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }

    private static func row(_ cells: [String]) -> String {
        let name = cells[0].padding(toLength: 20, withPad: " ", startingAt: 0)
        return name + cells.dropFirst().map { String(repeating: " ", count: max(0, 11 - $0.count)) + $0 }.joined()
    }
}
