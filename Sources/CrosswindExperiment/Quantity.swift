import NIOCore

/// Pure text-to-number conversions for the quantities of the file format: durations (`80ms`),
/// bandwidths (`10Mbit` in bits, `1MB/s` in bytes per second), sizes (`64KiB`, `64KB`),
/// probabilities (`0.02`, `2%`) and plain numbers.
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

    /// The units a duration may carry, with their length in nanoseconds (matched exactly).
    static let durationUnits: [(name: String, nanoseconds: Int64, word: String)] = [
        ("ns", 1, "nanosecond"), ("us", 1_000, "microsecond"), ("ms", 1_000_000, "millisecond"),
        ("s", 1_000_000_000, "second"), ("min", 60_000_000_000, "minute"), ("h", 3_600_000_000_000, "hour"),
    ]

    /// The duration units as a message lists them: "ns, us, ms, s, min, h".
    static var durationUnitList: String { durationUnits.map(\.name).joined(separator: ", ") }

    /// Parses `250us`, `80ms`, `2s`, `1.5s`, `2min`, `1h`. Negative values and bare numbers are failures.
    static func duration(_ text: String) -> Result<TimeAmount, Failure> {
        guard let decimal = decimal(text) else {
            return .failure(Failure(message: "expected a duration like 80ms, got '\(text)'"))
        }
        guard !decimal.unit.isEmpty else {
            return .failure(Failure(message: "duration needs a unit (\(durationUnitList)), got '\(text)'"))
        }
        guard let unit = durationUnits.first(where: { $0.name == decimal.unit }) else {
            return .failure(Failure(
                message: "unknown duration unit '\(decimal.unit)' in '\(text)' (use \(durationUnitList))"
            ))
        }
        guard !decimal.negative || decimal.isZero else {
            return .failure(Failure(message: "duration must not be negative, got '\(text)'"))
        }
        return scale(decimal, by: unit.nanoseconds, original: text, unitName: "ns").map { .nanoseconds($0) }
    }

    // MARK: Bandwidth

    /// The spellings of a bandwidth in bits per second, for messages.
    static let bitRateSpellings = "bit, kbit, Mbit, Gbit; bps, kbps, Mbps, Gbps; or with /s: Mbit/s, Mb/s"
    /// The spellings of a bandwidth in bytes per second, for messages.
    static let byteRateSpellings = "B/s, KB/s, MB/s, GB/s; KiB/s, MiB/s, GiB/s"

    /// What a bandwidth unit means: a multiple of bits or of bytes per second.
    enum RateUnit: Equatable {
        /// Bits per second, times this SI multiple.
        case bits(Int64)
        /// Bytes per second, times this multiple (SI or binary).
        case bytes(Int64)
        /// A spelling that reads as either (`MBps`): the message says which to write.
        case ambiguous(String)

        /// Bits per second per unit.
        var bitsPerSecond: Int64? {
            switch self {
            case .bits(let multiple): return multiple
            case .bytes(let multiple): return multiple * 8
            case .ambiguous: return nil
            }
        }
    }

    /// Reads a bandwidth unit. A prefix `k`, `M` or `G` (any case) multiplies by 1000s; `Ki`, `Mi`,
    /// `Gi` by 1024s (bytes only). Then `bit` or `bit/s` (any case), `bps` or `b/s` (lowercase
    /// `b`: bits) or `B/s` (uppercase `B`: bytes). `Bps` with an uppercase `B` is ambiguous.
    static func rateUnit(_ unit: Substring) -> RateUnit? {
        var rest = unit
        var multiple: Int64 = 1
        var binary = false
        if let first = rest.first, let exponent = ["k": 1, "m": 2, "g": 3][first.lowercased()] {
            rest = rest.dropFirst()
            if rest.first == "i" {
                binary = true
                rest = rest.dropFirst()
                multiple = Int64(1) << (10 * exponent)
            } else {
                multiple = Int64((0..<exponent).reduce(1) { result, _ in result * 1000 })
            }
        }
        let prefix = String(unit.dropLast(rest.count))
        if !binary, ["bit", "bit/s"].contains(rest.lowercased()) || rest == "bps" || rest == "b/s" {
            return .bits(multiple)
        }
        switch rest {
        case "B/s":
            return .bytes(multiple)
        case "Bps":
            let bits = binary ? "" : "\(prefix)bps or \(prefix)bit/s for bits per second, "
            return .ambiguous("'\(unit)' is ambiguous: write \(bits)\(prefix)B/s for bytes per second")
        default:
            return nil
        }
    }

    /// Parses a bandwidth into bits per second: `10Mbit`, `10Mbps`, `10Mbit/s` (bits), or
    /// `1.25MB/s`, `64KiB/s` (bytes, times 8).
    static func bandwidth(_ text: String) -> Result<Int, Failure> {
        guard let decimal = decimal(text) else {
            return .failure(Failure(message: "expected a bandwidth like 10Mbit or 1MB/s, got '\(text)'"))
        }
        guard !decimal.unit.isEmpty else {
            return .failure(Failure(
                message: "bandwidth needs a unit, got '\(text)': bits per second (\(bitRateSpellings)) or bytes per second (\(byteRateSpellings))"
            ))
        }
        let unit = rateUnit(decimal.unit)
        if case .ambiguous(let message) = unit {
            return .failure(Failure(message: message))
        }
        guard let bitsPerSecond = unit?.bitsPerSecond else {
            return .failure(Failure(
                message: "unknown bandwidth unit '\(decimal.unit)' in '\(text)': bits per second (\(bitRateSpellings)) or bytes per second (\(byteRateSpellings))"
            ))
        }
        guard !decimal.negative || decimal.isZero else {
            return .failure(Failure(message: "bandwidth must not be negative, got '\(text)'"))
        }
        return scale(decimal, by: bitsPerSecond, original: text, unitName: "bit/s").map { Int($0) }
    }

    // MARK: Size

    /// The units a size may carry, with their value in bytes. Binary units and `B` match in any
    /// case; decimal ones need the uppercase `B` (`kb` would read as kilobits).
    static let sizeUnits: [(name: String, bytes: Int64)] = [
        ("B", 1), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
    ]

    /// The size units as a message lists them.
    static var sizeUnitList: String { sizeUnits.map(\.name).joined(separator: ", ") }

    /// The bytes of one `unit`, or `nil`; see ``sizeUnits``.
    static func sizeUnit(_ unit: Substring) -> Int64? {
        for (name, bytes) in sizeUnits {
            let matches = name.count == 2
                ? unit.count == 2 && unit.first!.lowercased() == name.first!.lowercased() && unit.last == "B"
                : unit.lowercased() == name.lowercased()
            if matches { return bytes }
        }
        return nil
    }

    /// Parses `1500`, `1500B`, `64KB` (1000s), `64KiB`, `1MiB`, `1GiB` (1024s); a bare number is bytes.
    static func size(_ text: String) -> Result<Int, Failure> {
        guard let decimal = decimal(text) else {
            return .failure(Failure(message: "expected a size like 1500 or 64KiB, got '\(text)'"))
        }
        let multiplier: Int64
        if decimal.unit.isEmpty {
            multiplier = 1
        } else if let bytes = sizeUnit(decimal.unit) {
            multiplier = bytes
        } else if decimal.unit.count == 2, decimal.unit.last == "b", "kmgKMG".contains(decimal.unit.first!) {
            let prefix = decimal.unit.first!.uppercased()
            return .failure(Failure(
                message: "'\(text)' reads as bits; a size is in bytes: write \(prefix)B (1000 bytes each step) or \(prefix)iB (1024)"
            ))
        } else {
            return .failure(Failure(message: "unknown size unit '\(decimal.unit)' in '\(text)' (use \(sizeUnitList))"))
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
    /// `a + b`, or `nil` if it does not fit in a `TimeAmount` (where `+` would trap).
    static func sum(_ a: TimeAmount, _ b: TimeAmount) -> TimeAmount? {
        let (total, overflow) = a.nanoseconds.addingReportingOverflow(b.nanoseconds)
        return overflow ? nil : .nanoseconds(total)
    }

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
