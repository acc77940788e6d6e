import CrosswindRandom

/// Where a proxy's random decisions come from: the stream for a stable label, forked from
/// the run seed (the command line passes `RandomStreams(seed:).fork`). One stream per
/// proxy, connection number and toxic name, so the draws of one connection never shift
/// those of another, whatever order connections interleave in.
public typealias ToxicRandomSource = @Sendable (_ label: String) -> SeededRandom

/// Receives one line per random decision, so a run can be explained and repeated.
public typealias ToxicDecisionSink = @Sendable (_ line: String) -> Void

/// The random stream of one toxic on one connection, and the log its draws go to.
/// Confined to the connection's event loop.
final class ToxicDraws {
    var generator: SeededRandom
    private let sink: ToxicDecisionSink
    private let subject: String

    init(proxy: String, connection: Int, toxic: String, random: ToxicRandomSource, sink: @escaping ToxicDecisionSink) {
        self.generator = random("proxy:\(proxy)/conn:\(connection)/toxic:\(toxic)")
        self.sink = sink
        self.subject = "proxy=\(proxy) conn=\(connection) toxic=\(toxic)"
    }

    /// Draws whether the toxic applies to the connection (toxiproxy's `toxicity`).
    func applies(toxicity: Double) -> Bool {
        let value = self.generator.nextUnitDouble()
        let applies = value < toxicity
        self.record("toxicity", "\(Self.format(value)) p=\(Self.format(toxicity)) applies=\(applies)")
        return applies
    }

    func integer(in range: ClosedRange<Int>, named name: String) -> Int {
        let value = Int.random(in: range, using: &self.generator)
        self.record(name, String(value))
        return value
    }

    func record(_ name: String, _ value: String) {
        self.sink("decision \(self.subject) draw=\(name) value=\(value)")
    }

    /// Six decimals, the same on every platform (no locale, no Foundation).
    static func format(_ value: Double) -> String {
        let micros = Int((value * 1_000_000).rounded())
        let fraction = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
