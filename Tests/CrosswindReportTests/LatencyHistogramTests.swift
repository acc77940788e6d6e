import CrosswindReport
import Testing

/// The HDR-style histogram both worlds record latency and recovery times in: exact below
/// 2048 µs, then buckets whose upper edge (capped at the exact maximum) is what a percentile
/// reports.
@Suite struct LatencyHistogramTests {
    @Test func emptyHistogramReportsZero() {
        let histogram = LatencyHistogram()
        #expect(histogram.count == 0)
        #expect(histogram.meanMicros == 0)
        for percentile in [0.0, 50, 99, 100] {
            #expect(histogram.percentileMicros(percentile) == 0)
        }
    }

    @Test func oneValueIsEveryPercentile() {
        var histogram = LatencyHistogram()
        histogram.record(micros: 1234)
        for percentile in [0.0, 1, 50, 99, 100] {
            #expect(histogram.percentileMicros(percentile) == 1234)
        }
        #expect(histogram.meanMicros == 1234)
        #expect(histogram.minMicros == 1234 && histogram.maxMicros == 1234)
    }

    @Test func ranksRoundUpInTheExactRange() {
        var histogram = LatencyHistogram()
        for value in [10, 20, 30] as [UInt64] { histogram.record(micros: value) }
        // rank = ⌈p/100 × 3⌉, at least 1.
        #expect(histogram.percentileMicros(0) == 10)
        #expect(histogram.percentileMicros(33) == 10)
        #expect(histogram.percentileMicros(34) == 20)
        #expect(histogram.percentileMicros(50) == 20)
        #expect(histogram.percentileMicros(67) == 30)
        #expect(histogram.percentileMicros(100) == 30)
        #expect(histogram.meanMicros == 20)

        var hundred = LatencyHistogram()
        for value in 1...100 as ClosedRange<UInt64> { hundred.record(micros: value) }
        #expect(hundred.percentileMicros(1) == 1)
        #expect(hundred.percentileMicros(50) == 50)
        #expect(hundred.percentileMicros(95) == 95)
        #expect(hundred.percentileMicros(99) == 99)
        #expect(hundred.percentileMicros(100) == 100)
    }

    @Test func exactBelow2048ThenBucketUpperEdges() {
        // 2047 is the last exact value; 2048 and 2049 share a bucket whose upper edge is 2049.
        var exact = LatencyHistogram()
        exact.record(micros: 2047)
        exact.record(micros: 5000)
        #expect(exact.percentileMicros(50) == 2047)

        var shared = LatencyHistogram()
        shared.record(micros: 2048)
        shared.record(micros: 3000)
        #expect(shared.percentileMicros(50) == 2049)
        // The maximum is exact: the last bucket's edge is capped at it.
        #expect(shared.percentileMicros(100) == 3000)

        var alone = LatencyHistogram()
        alone.record(micros: 2048)
        #expect(alone.percentileMicros(50) == 2048)
    }

    @Test func largeValuesWithinATenthOfAPercent() {
        var histogram = LatencyHistogram()
        for value in [1_000_000, 7_654_321, 123_456_789] as [UInt64] {
            histogram.record(micros: value)
            histogram.record(micros: value * 2)  // the maximum, so the edge is not capped
        }
        for (percentile, value) in [(16.0, 1_000_000), (50, 7_654_321), (80, 123_456_789)] as [(Double, UInt64)] {
            let reported = histogram.percentileMicros(percentile)
            #expect(reported >= value)
            #expect(Double(reported - value) / Double(value) < 0.001, "p\(percentile): \(reported) for \(value)")
        }
    }

    @Test func mergeEqualsRecordingEverything() {
        var left = LatencyHistogram()
        var right = LatencyHistogram()
        var all = LatencyHistogram()
        for value in [3, 900, 2048, 70_000, 5] as [UInt64] {
            left.record(micros: value)
            all.record(micros: value)
        }
        for value in [1, 4_000_000, 2049] as [UInt64] {
            right.record(micros: value)
            all.record(micros: value)
        }
        left.merge(right)
        #expect(left == all)
        #expect(left.count == 8 && left.minMicros == 1 && left.maxMicros == 4_000_000)
        var empty = LatencyHistogram()
        empty.merge(LatencyHistogram())
        #expect(empty == LatencyHistogram())
    }
}
