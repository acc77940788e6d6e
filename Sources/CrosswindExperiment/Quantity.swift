import NIOCore

/// Pure text-to-number conversions for the quantities of the file format: durations (`80ms`),
/// bandwidths (`10Mbit`), sizes (`64KiB`), probabilities (`0.02`, `2%`) and plain numbers.
///
/// Every conversion is exact (decimal digits are scaled as integers, never through `Double`) and
/// returns a ``Quantity/Failure`` instead of throwing, so ``YAMLValue`` can phrase the message with
/// the key path and position.
enum Quantity {
    /// Why a text is not the quantity asked for. Each case carries the complete message tail.
    struct Failure: Error, Equatable {
        /// The message, without the key path (e.g. "duration needs a unit (us, ms, s, min), got '40'").
        var message: String
    }

    /// A decimal number followed by an optional unit: `-1.5 ms` → (negative, "1", "5", "ms").
    struct Decimal {
        /// Whether a leading `-` was present.
        var negative: Bool
        /// Digits before the point (may be empty for `.5`).
        var integerDigits: Substring
        /// Digits after the point (may be empty).
        var fractionDigits: Substring
        /// What follows the number, with surrounding spaces removed; empty if nothing.
        var unit: Substring

        /// Whether every digit is zero.
        var isZero: Bool { (integerDigits + fractionDigits).allSatisfy { $0 == "0" } }
    }

    /// Splits `text` into a decimal number and a unit; `nil` if it does not start with a number.
    static func decimal(_ text: String) -> Decimal? {
        var rest = Substring(text.trimmingSpaces.replacingUnderscores)
        var negative = false
        if let first = rest.first, first == "-" || first == "+" {
            negative = first == "-"
            rest = rest.dropFirst()
        }
        let integerDigits = rest.prefix { $0.isASCIIDigit }
        rest = rest.dropFirst(integerDigits.count)
        var fractionDigits = Substring()
        if rest.first == "." {
            rest = rest.dropFirst()
            fractionDigits = rest.prefix { $0.isASCIIDigit }
            rest = rest.dropFirst(fractionDigits.count)
        }
        guard !integerDigits.isEmpty || !fractionDigits.isEmpty else { return nil }
        return Decimal(
            negative: negative, integerDigits: integerDigits, fractionDigits: fractionDigits,
            unit: Substring(String(rest).trimmingSpaces)
        )
    }

    /// `decimal × multiplier` as an exact integer, or a failure if it overflows or is not whole.
    static func scale(_ decimal: Decimal, by multiplier: Int64, original: String, unitName: String)
        -> Result<Int64, Failure>
    {
        let tooLarge = Failure(message: "'\(original)' is too large")
        var value: Int64 = 0
        for digit in decimal.integerDigits {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit.asciiValue! - 48))
            guard !o1, !o2 else { return .failure(tooLarge) }
            value = sum
        }
        let (whole, o3) = value.multipliedReportingOverflow(by: multiplier)
        guard !o3 else { return .failure(tooLarge) }
        var fraction = decimal.fractionDigits
        while fraction.last == "0" { fraction = fraction.dropLast() }
        var numerator: Int64 = 0
        var denominator: Int64 = 1
        for digit in fraction {
            let (n, o4) = numerator.multipliedReportingOverflow(by: 10)
            let (d, o5) = denominator.multipliedReportingOverflow(by: 10)
            guard !o4, !o5 else {
                return .failure(Failure(message: "'\(original)' is finer than 1 \(unitName)"))
            }
            numerator = n + Int64(digit.asciiValue! - 48)
            denominator = d
        }
        let (product, o6) = numerator.multipliedReportingOverflow(by: multiplier)
        guard !o6 else { return .failure(tooLarge) }
        guard product % denominator == 0 else {
            return .failure(Failure(message: "'\(original)' is finer than 1 \(unitName)"))
        }
        let (total, o7) = whole.addingReportingOverflow(product / denominator)
        guard !o7 else { return .failure(tooLarge) }
        return .success(decimal.negative ? -total : total)
    }

    /// The units a duration may carry, with their length in nanoseconds.
    static let durationUnits: [(name: String, nanoseconds: Int64)] = [
        ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("min", 60_000_000_000),
    ]

    /// Parses `250us`, `80ms`, `2s`, `1.5s`, `2min`. Negative values and bare numbers are failures.
    static func duration(_ text: String) -> Result<TimeAmount, Failure> {
        guard let decimal = decimal(text) else {
            return .failure(Failure(message: "expected a duration like 80ms, got '\(text)'"))
        }
        guard !decimal.unit.isEmpty else {
            return .failure(Failure(message: "duration needs a unit (us, ms, s, min), got '\(text)'"))
        }
        guard let unit = durationUnits.first(where: { $0.name == decimal.unit }) else {
            return .failure(Failure(message: "unknown duration unit '\(decimal.unit)' in '\(text)' (use us, ms, s, min)"))
        }
        guard !decimal.negative || decimal.isZero else {
            return .failure(Failure(message: "duration must not be negative, got '\(text)'"))
        }
        return scale(decimal, by: unit.nanoseconds, original: text, unitName: "ns").map { .nanoseconds($0) }
    }

    /// The units a bandwidth may carry (matched case-insensitively), with their value in bits per second.
    static let bandwidthUnits: [(name: String, bitsPerSecond: Int64)] = [
        ("bit", 1), ("bps", 1),
        ("kbit", 1_000), ("kbps", 1_000),
        ("mbit", 1_000_000), ("mbps", 1_000_000),
        ("gbit", 1_000_000_000), ("gbps", 1_000_000_000),
    ]

    /// Parses `512bit`, `100kbit`, `10Mbit`, `1Gbit` (or `kbps`, `Mbps`, `Gbps`); SI multiples of 1000.
    static func bandwidth(_ text: String) -> Result<Int, Failure> {
        guard let decimal = decimal(text) else {
            return .failure(Failure(message: "expected a bandwidth like 10Mbit, got '\(text)'"))
        }
        guard !decimal.unit.isEmpty else {
            return .failure(Failure(message: "bandwidth needs a unit (bit, kbit, Mbit, Gbit), got '\(text)'"))
        }
        guard let unit = bandwidthUnits.first(where: { $0.name == decimal.unit.lowercased() }) else {
            return .failure(Failure(message: "unknown bandwidth unit '\(decimal.unit)' in '\(text)' (use bit, kbit, Mbit, Gbit)"))
        }
        guard !decimal.negative || decimal.isZero else {
            return .failure(Failure(message: "bandwidth must not be negative, got '\(text)'"))
        }
        return scale(decimal, by: unit.bitsPerSecond, original: text, unitName: "bit/s").map { Int($0) }
    }

    /// The units a size may carry (matched case-insensitively), with their value in bytes.
    static let sizeUnits: [(name: String, bytes: Int64)] = [
        ("b", 1), ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30),
    ]

    /// Parses `1500`, `1500B`, `64KiB`, `1MiB`, `1GiB` (binary multiples); a bare number is bytes.
    static func size(_ text: String) -> Result<Int, Failure> {
        guard let decimal = decimal(text) else {
            return .failure(Failure(message: "expected a size like 1500 or 64KiB, got '\(text)'"))
        }
        let multiplier: Int64
        if decimal.unit.isEmpty {
            multiplier = 1
        } else if let unit = sizeUnits.first(where: { $0.name == decimal.unit.lowercased() }) {
            multiplier = unit.bytes
        } else {
            return .failure(Failure(message: "unknown size unit '\(decimal.unit)' in '\(text)' (use B, KiB, MiB, GiB)"))
        }
        guard !decimal.negative || decimal.isZero else {
            return .failure(Failure(message: "size must not be negative, got '\(text)'"))
        }
        return scale(decimal, by: multiplier, original: text, unitName: "byte").map { Int($0) }
    }

    /// Parses a probability: a number (`0.02`) or a percentage (`2%`, `2.5 %`); the range is checked by the caller.
    static func probability(_ text: String) -> Result<Double, Failure> {
        let trimmed = text.trimmingSpaces
        let isPercent = trimmed.hasSuffix("%")
        let digits = isPercent ? String(trimmed.dropLast()).trimmingSpaces : trimmed
        guard case .success(let value) = number(digits) else {
            return .failure(Failure(message: "expected a probability like 0.02 or 2%, got '\(text)'"))
        }
        return .success(isPercent ? value / 100 : value)
    }

    /// Parses a finite decimal number (`10`, `0.5`, `-3`, `1e3`); no hex, no `inf`, no `nan`.
    static func number(_ text: String) -> Result<Double, Failure> {
        let trimmed = text.trimmingSpaces.replacingUnderscores
        let allowed = Set("0123456789+-.eE")
        guard !trimmed.isEmpty, trimmed.allSatisfy({ allowed.contains($0) }),
              trimmed.contains(where: { $0.isASCIIDigit }),
              let value = Double(trimmed), value.isFinite
        else {
            return .failure(Failure(message: "expected a number, got '\(text)'"))
        }
        return .success(value)
    }

    /// Parses a whole number (`100`, `-3`, `100_000`); `nil` if it is not one or does not fit in an `Int`.
    static func integer(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces.replacingUnderscores
        return Int(trimmed)
    }

    /// Parses a non-negative whole number that fits in a `UInt64`.
    static func unsignedInteger(_ text: String) -> UInt64? {
        let trimmed = text.trimmingSpaces.replacingUnderscores
        return UInt64(trimmed)
    }
}

extension Character {
    /// Whether this is one of `0`...`9`.
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }

    /// The string with `_` digit separators removed (`100_000` → `100000`), unless it starts or ends with one.
    var replacingUnderscores: String {
        guard !hasPrefix("_"), !hasSuffix("_") else { return self }
        return String(filter { $0 != "_" })
    }
}

extension Quantity {
    /// A duration in the file's own syntax, in the largest unit that divides it (`60s` → "1min", `0` → "0s").
    static func describe(_ duration: TimeAmount) -> String {
        let nanoseconds = duration.nanoseconds
        guard nanoseconds != 0 else { return "0s" }
        for unit in durationUnits.reversed() where nanoseconds % unit.nanoseconds == 0 {
            return "\(nanoseconds / unit.nanoseconds)\(unit.name)"
        }
        return "\(nanoseconds)ns"
    }

    /// A size in the file's own syntax (`262144` → "256KiB", `1500` → "1500").
    static func describe(bytes: Int) -> String {
        for (name, unit) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes != 0 && bytes % unit == 0 {
            return "\(bytes / unit)\(name)"
        }
        return "\(bytes)"
    }

    /// A bandwidth in the file's own syntax (`20_000_000` → "20Mbit").
    static func describe(bitsPerSecond: Int) -> String {
        for (name, unit) in [("Gbit", 1_000_000_000), ("Mbit", 1_000_000), ("kbit", 1_000)]
        where bitsPerSecond != 0 && bitsPerSecond % unit == 0 {
            return "\(bitsPerSecond / unit)\(name)"
        }
        return "\(bitsPerSecond)bit"
    }
}
