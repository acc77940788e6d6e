import CrosswindReport
import NIOCore
import Yams

// The kinds of value the format knows: each parses a node and checks the result with a
// ``ValueCheck``, and says in the reference's words what it accepts.

extension ValueFormat where Value == TimeAmount {
    /// A duration with a unit; never negative; `positive` excludes zero, `atMost` bounds it.
    static func duration(positive: Bool = false, atMost limit: TimeAmount? = nil) -> ValueFormat {
        let allowed: String
        switch (positive, limit) {
        case (true, let limit?): allowed = "greater than 0, at most \(Quantity.describe(limit))"
        case (true, nil): allowed = "greater than 0"
        case (false, let limit?): allowed = "0s to \(Quantity.describe(limit))"
        case (false, nil): allowed = "0s or more"
        }
        return ValueFormat(
            type: "duration (\(Quantity.durationUnitList))", allowed: allowed,
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.duration() },
            check: { value, _ in ValueCheck.duration(value, positive: positive, atMost: limit) },
            format: Quantity.describe(_:)
        )
    }
}

extension ValueFormat where Value == TimeAmount? {
    /// A duration greater than 0, or `off` (nil).
    static var positiveDurationOrOff: ValueFormat {
        ValueFormat(
            type: "duration (\(Quantity.durationUnitList)) or `off`", allowed: "greater than 0, or `off`",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.durationOrOff() },
            check: { value, _ in value.flatMap { ValueCheck.duration($0, positive: true) } },
            format: { $0.map(Quantity.describe(_:)) ?? "off" }
        )
    }
}

extension ValueFormat where Value == Int {
    /// A whole number in `range`.
    static func integer(in range: ClosedRange<Int>) -> ValueFormat {
        ValueFormat(
            type: "integer", allowed: "\(range.lowerBound) to \(range.upperBound)",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.integer(in: range) },
            check: { value, _ in ValueCheck.integer(value, in: range) },
            format: { "\($0)" }
        )
    }

    /// A TCP port.
    static var port: ValueFormat { integer(in: ServerSpec.portRange) }

    /// A size in bytes in `range`.
    static func size(in range: ClosedRange<Int>) -> ValueFormat {
        ValueFormat(
            type: "size in bytes (a number, or \(Quantity.sizeUnitList))",
            allowed: "\(Quantity.describe(bytes: range.lowerBound)) to \(Quantity.describe(bytes: range.upperBound))",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.size() },
            check: { value, _ in ValueCheck.size(value, in: range) },
            format: { Quantity.describe(bytes: $0) }
        )
    }
}

extension ValueFormat where Value == Int? {
    /// A bandwidth in bits per second, at least `minimum`; `unlimited` is `nil`.
    static func bandwidth(atLeast minimum: Int) -> ValueFormat {
        ValueFormat(
            type: "bandwidth: bits per second (`Mbit`, `Mbps`, `Mbit/s` …) or bytes per second (`MB/s`, `MiB/s` …), see [Bandwidths](#values)",
            allowed: "at least \(Quantity.describe(bitsPerSecond: minimum)), or `unlimited`",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.bandwidth() },
            check: { value, written in value.flatMap { ValueCheck.bandwidth($0, atLeast: minimum, written: written) } },
            format: { $0.map { Quantity.describe(bitsPerSecond: $0) } ?? "unlimited" }
        )
    }
}

extension ValueFormat where Value == Double {
    /// A probability in 0...1, as a number or a percentage.
    static var probability: ValueFormat {
        ValueFormat(
            type: "probability (a number like `0.02` or a percentage like `2%`)", allowed: "0 to 1 (0% to 100%)",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.probability() },
            check: { value, written in ValueCheck.probability(value, written: written) },
            format: { Expectation.format($0) }
        )
    }

    /// A fraction strictly between 0 and 1, as a number or a percentage.
    static var openFraction: ValueFormat {
        ValueFormat(
            type: "fraction (a number like `0.7` or a percentage like `70%`)", allowed: "more than 0, less than 1",
            parse: { (value: YAMLValue) throws(ExperimentError) in
                let text = try value.scalarText(expected: "a fraction like 0.7 or 70%")
                guard case .success(let fraction) = Quantity.probability(text) else {
                    throw value.error("expected a fraction like 0.7 or 70%, got '\(text)'")
                }
                return fraction
            },
            check: { value, written in ValueCheck.openFraction(value, written: written) },
            format: { Expectation.format($0) }
        )
    }

    /// A message rate per second.
    static var rate: ValueFormat {
        ValueFormat(
            type: "number (messages per second; fractions allowed)",
            allowed: "more than 0, at most \(Expectation.format(Workload.maxRatePerSecond))",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.number() },
            check: { value, _ in ValueCheck.rate(value) },
            format: { Expectation.format($0) }
        )
    }
}

extension ValueFormat where Value == UInt64 {
    /// A whole number that fits in 64 bits, unsigned (seeds).
    static var unsignedInteger: ValueFormat {
        ValueFormat(
            type: "integer", allowed: "0 to \(UInt64.max)",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.unsignedInteger() },
            check: { _, _ in nil },
            format: { "\($0)" }
        )
    }
}

extension ValueFormat where Value == Bool {
    /// `true` or `false`.
    static var boolean: ValueFormat {
        ValueFormat(
            type: "boolean", allowed: "`true`, `false`",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.boolean() },
            check: { _, _ in nil },
            format: { "\($0)" }
        )
    }
}

extension ValueFormat where Value == String {
    /// A name of a topic, experiment or topology: `[A-Za-z0-9._-]+`.
    static var identifier: ValueFormat {
        ValueFormat(
            type: "name", allowed: "letters, digits, `.`, `_`, `-`",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.string() },
            check: { value, _ in ValueCheck.identifier(value) },
            format: { $0 }
        )
    }

    /// A node name: `[a-z0-9-]+`.
    static var nodeName: ValueFormat {
        ValueFormat(
            type: "node name", allowed: "lowercase letters, digits, `-`",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.string() },
            check: { value, _ in ValueCheck.nodeName(value) },
            format: { $0 }
        )
    }

    /// Any text, possibly empty.
    static var text: ValueFormat {
        ValueFormat(
            type: "text", allowed: "any",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.optionalText() },
            check: { _, _ in nil },
            format: { $0.isEmpty ? "\"\"" : $0 }
        )
    }

    /// The name of something else in the file (a client group, a middlebox, a firewall rule):
    /// whether it exists is checked by the rules of the whole experiment.
    static func reference(to what: String, plural: String) -> ValueFormat {
        ValueFormat(
            type: "name of a \(what)", allowed: "\(plural) of the topology",
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.scalarText(expected: "a \(what) name") },
            check: { _, _ in nil },
            format: { $0 }
        )
    }
}

extension ValueFormat where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the raw values of `Value` (`what` names it in messages: "transport").
    static func choice(what: String) -> ValueFormat {
        ValueFormat(
            type: "one of", allowed: Value.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", "),
            parse: { (value: YAMLValue) throws(ExperimentError) in try value.oneOf(Value.self, what: what) },
            check: { _, _ in nil },
            format: { $0.rawValue }
        )
    }
}
