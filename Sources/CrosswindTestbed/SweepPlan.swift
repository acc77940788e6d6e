import Foundation

/// The seeds of a sweep (`--seeds A..B`) and the fixed share of them one worker runs
/// (`--shard K/N`), so a CI matrix or an indexed batch job splits a sweep with no coordination.
public struct SeedRange: Codable, Sendable, Equatable {
    public var first: UInt64
    public var last: UInt64

    /// The most seeds one sweep takes (its `sweep.json` lists every seed it ran).
    public static let maximumCount: UInt64 = 1_000_000

    public init(first: UInt64, last: UInt64) {
        self.first = first
        self.last = last
    }

    /// Reads `A..B` (both included) or a single seed `N`.
    public static func parse(_ text: String) throws(SweepError) -> SeedRange {
        let parts = text.components(separatedBy: "..")
        let numbers = parts.map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), numbers.allSatisfy({ $0 != nil }) else {
            throw SweepError("--seeds '\(text)': expected A..B with non-negative integers A <= B (e.g. 1..100), or one seed")
        }
        let range = SeedRange(first: numbers[0]!, last: numbers[numbers.count - 1]!)
        guard range.first <= range.last else {
            throw SweepError("--seeds '\(text)': the first seed is above the last")
        }
        guard range.last - range.first < Self.maximumCount else {
            throw SweepError("--seeds '\(text)': \(range.last - range.first + 1) seeds; a sweep takes at most \(Self.maximumCount) (split it into ranges)")
        }
        return range
    }

    /// Number of seeds in the range.
    public var count: Int { Int(self.last - self.first) + 1 }

    /// The seeds `s` of the range with `(s - first) % shard.count == shard.index - 1`, in
    /// increasing order; every seed without a shard.
    public func seeds(in shard: Shard? = nil) -> [UInt64] {
        let shard = shard ?? Shard(index: 1, count: 1)
        let offset = UInt64(shard.index - 1)
        guard offset <= self.last - self.first else { return [] }
        return Array(stride(from: self.first + offset, through: self.last, by: shard.count))
    }

    /// `A..B`.
    public var text: String { "\(self.first)..\(self.last)" }
}

/// One of `count` fixed shares of a sweep's seeds; `index` is 1-based.
public struct Shard: Codable, Sendable, Equatable {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Reads `K/N` with `1 <= K <= N`.
    public static func parse(_ text: String) throws(SweepError) -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count >= 1, (1...count).contains(index) else {
            throw SweepError("--shard '\(text)': expected K/N with 1 <= K <= N (e.g. 2/3, the second of three shares)")
        }
        return Shard(index: index, count: count)
    }

    /// `K/N`.
    public var text: String { "\(self.index)/\(self.count)" }
}

/// A sweep that cannot be planned or merged, in words for the command line.
public struct SweepError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
