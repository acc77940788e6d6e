import CrosswindTransport

/// One check run on an experiment's metrics after the drain, e.g. "every message delivered" or
/// "latency p99 <= 1500 ms".
public struct Expectation: Sendable, Equatable {
    /// What is checked.
    public var kind: Kind
    /// Human text for reports, e.g. "every message delivered", "latency p99 <= 1500 ms".
    public var text: String
    /// The line of the file the expectation was written on, for messages; `nil` when built in Swift.
    public var sourceLine: Int?

    /// What an expectation checks.
    public enum Kind: Sendable, Equatable {
        /// Every client received every message offered to it (delivered == offered).
        case deliveryComplete
        /// Over all clients, delivered / offered is at least this fraction, in `0...1`.
        case deliveryRateAtLeast(Double)
        /// No client received the same message twice.
        case noDuplicates
        /// Every client received its messages in publishing order.
        case noReordering
        /// Every client's connection reached the open state.
        case allConnected
        /// The given statistic of publish-to-delivery latency is at most this many milliseconds.
        case latencyAtMost(LatencyStatistic, milliseconds: Double)
        /// The given statistic of publish-to-delivery latency is at least this many milliseconds
        /// (lets a file assert that the tail shows the retransmission timer).
        case latencyAtLeast(LatencyStatistic, milliseconds: Double)
        /// Every client of `group` (all clients when nil) is open on `transport` at the end of
        /// the run, and got there (its last switch, or its first open) between `notBefore` and
        /// `within` milliseconds after it started connecting.
        case endsOnTransport(group: String?, transport: TransportMethod, withinMilliseconds: Double?, notBeforeMilliseconds: Double?)
        /// The given statistic of recovery time (per client and outage; see
        /// ``Report/Recovery``) is at most this many milliseconds, and every client recovered.
        case recoveryAtMost(LatencyStatistic, milliseconds: Double)
        /// No client was told that a resume was incomplete (no message was silently skipped
        /// or reported lost by the resume protocol).
        case noIncompleteRecovery
        /// Every client was told at least once that a resume was incomplete: what a server
        /// that restarts without its history must say (and a run that expects it says the
        /// loss is known, not silent).
        case everyRecoveryIncomplete
        /// Every client → server message reached the server exactly once and was acknowledged.
        case clientSendsComplete

        /// The report text the loader gives this kind, e.g. "latency p99 <= 1500 ms".
        public var defaultText: String {
            switch self {
            case .deliveryComplete:
                return "every message delivered"
            case .deliveryRateAtLeast(let fraction):
                return "delivery rate >= \(Expectation.format(fraction * 100)) %"
            case .noDuplicates:
                return "no duplicates"
            case .noReordering:
                return "no reordering"
            case .allConnected:
                return "every client connected"
            case .latencyAtMost(let statistic, let milliseconds):
                return "latency \(statistic.rawValue) <= \(Expectation.format(milliseconds)) ms"
            case .latencyAtLeast(let statistic, let milliseconds):
                return "latency \(statistic.rawValue) >= \(Expectation.format(milliseconds)) ms"
            case .endsOnTransport(let group, let transport, let within, let notBefore):
                var text = "\(group.map { "group \($0)" } ?? "every client") ends on \(transport.rawValue)"
                if let notBefore { text += " not before \(Expectation.format(notBefore)) ms" }
                if let within { text += " within \(Expectation.format(within)) ms" }
                return text
            case .recoveryAtMost(let statistic, let milliseconds):
                return "recovery \(statistic.rawValue) <= \(Expectation.format(milliseconds)) ms"
            case .noIncompleteRecovery:
                return "no incomplete recovery"
            case .everyRecoveryIncomplete:
                return "every client told its recovery was incomplete"
            case .clientSendsComplete:
                return "every client message received once"
            }
        }
    }

    /// A summary statistic of the latency distribution over all delivered messages.
    public enum LatencyStatistic: String, Sendable, Equatable, CaseIterable {
        /// Arithmetic mean.
        case avg
        /// Median.
        case p50
        /// 95th percentile.
        case p95
        /// 99th percentile.
        case p99
        /// Largest observed value.
        case max
    }

    /// Creates an expectation; `text` defaults to ``Kind/defaultText``.
    public init(kind: Kind, text: String? = nil, sourceLine: Int? = nil) {
        self.kind = kind
        self.text = text ?? kind.defaultText
        self.sourceLine = sourceLine
    }

    /// Formats a number for report text: at most three decimals, trailing zeros dropped
    /// (`1500` → "1500", `99.9` → "99.9", `0.25` → "0.25").
    package static func format(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let thousandths = (value * 1000).rounded()
        guard abs(thousandths) < 9e15 else { return "\(value)" }
        let scaled = Int64(thousandths)
        let sign = scaled < 0 ? "-" : ""
        let magnitude = scaled.magnitude
        let whole = magnitude / 1000
        var fraction = String(magnitude % 1000)
        guard fraction != "0" else { return "\(sign)\(whole)" }
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(whole).\(fraction)"
    }
}
