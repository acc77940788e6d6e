import CrosswindReport
import Foundation

/// A latency distribution as points of its CDF (percentile, milliseconds), read from the whole
/// histogram: what the notebooks draw, beside the report's few percentiles.
struct LatencyPoint: Codable {
    var percentile: Double
    var latencyMs: Double

    /// The percentiles written: dense in the tail, where transports differ.
    static let ladder: [Double] = [0.1, 1, 5] + stride(from: 10.0, through: 90, by: 5) + [92.5, 95, 97.5, 99, 99.5, 99.9, 99.99, 100]

    /// The CDF of `histogram` (empty when it holds nothing).
    static func cdf(of histogram: LatencyHistogram) -> [LatencyPoint] {
        guard histogram.count > 0 else { return [] }
        return Self.ladder.map { LatencyPoint(percentile: $0, latencyMs: Double(histogram.percentileMicros($0)) / 1000) }
    }

    /// `percentile,latencyMs` lines with a header.
    static func csv(_ points: [LatencyPoint]) -> String {
        "percentile,latencyMs\n" + points.map { "\($0.percentile),\($0.latencyMs)\n" }.joined()
    }
}
