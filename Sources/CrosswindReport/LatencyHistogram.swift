/// An HDR-style latency histogram: exact below 2048 µs, then 1024 linear sub-buckets per
/// power of two (relative error under 0.1 %), constant-time recording, no allocation after
/// the first values of each magnitude.
public struct LatencyHistogram: Sendable, Equatable {
    private static let subBucketBits = 10
    private static let subBucketCount = 1 << subBucketBits  // 1024

    private var counts: [UInt64] = []
    /// Values recorded.
    public private(set) var count: UInt64 = 0
    /// Sum of all values, for the mean.
    public private(set) var sumMicros: UInt64 = 0
    /// Exact extremes.
    public private(set) var minMicros: UInt64 = .max
    public private(set) var maxMicros: UInt64 = 0

    public init() {}

    /// Records one latency in microseconds.
    @inline(__always)
    public mutating func record(micros: UInt64) {
        let index = Self.index(of: micros)
        if index >= self.counts.count {
            self.counts.append(contentsOf: repeatElement(0, count: index + 1 - self.counts.count))
        }
        self.counts[index] &+= 1
        self.count &+= 1
        self.sumMicros &+= micros
        if micros < self.minMicros { self.minMicros = micros }
        if micros > self.maxMicros { self.maxMicros = micros }
    }

    /// Adds every value of another histogram.
    public mutating func merge(_ other: LatencyHistogram) {
        if other.counts.count > self.counts.count {
            self.counts.append(contentsOf: repeatElement(0, count: other.counts.count - self.counts.count))
        }
        for (index, value) in other.counts.enumerated() { self.counts[index] &+= value }
        self.count &+= other.count
        self.sumMicros &+= other.sumMicros
        self.minMicros = min(self.minMicros, other.minMicros)
        self.maxMicros = max(self.maxMicros, other.maxMicros)
    }

    /// The mean in microseconds (0 when empty).
    public var meanMicros: Double {
        self.count == 0 ? 0 : Double(self.sumMicros) / Double(self.count)
    }

    /// The value at or below which `percentile` % of values lie (the bucket's upper edge,
    /// capped at the exact maximum); 0 when empty.
    public func percentileMicros(_ percentile: Double) -> UInt64 {
        guard self.count > 0 else { return 0 }
        let rank = max(1, UInt64((percentile / 100 * Double(self.count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, value) in self.counts.enumerated() where value > 0 {
            seen += value
            if seen >= rank { return min(Self.upperEdge(of: index), self.maxMicros) }
        }
        return self.maxMicros
    }

    static func index(of value: UInt64) -> Int {
        if value < UInt64(2 * subBucketCount) { return Int(value) }
        let magnitude = 63 - value.leadingZeroBitCount  // >= 11
        let shift = magnitude - subBucketBits
        return (shift + 1) * subBucketCount + Int(value >> UInt64(shift)) - subBucketCount
    }

    static func upperEdge(of index: Int) -> UInt64 {
        if index < 2 * subBucketCount { return UInt64(index) }
        let shift = index / subBucketCount - 1
        let mantissa = UInt64(index - (shift + 1) * subBucketCount + subBucketCount)
        return ((mantissa + 1) << UInt64(shift)) - 1
    }
}
