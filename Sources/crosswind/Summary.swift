import CrosswindReport
import Foundation

/// The short human summary of a report on standard output, for `run` and `load` alike:
/// clients, messages, latency, the wire, what the run cost, every expectation with what was
/// observed, and the verdict.
enum Summary {
    /// - Parameters:
    ///   - wall: how long a simulated run took in real time (nil for a live run).
    ///   - details: extra lines after the latency line (a live run's switches and recoveries).
    static func print(_ report: Report, wall: Duration?, directory: String?, details: [String] = []) {
        for line in self.lines(report, wall: wall, directory: directory, details: details) { Swift.print(line) }
    }

    static func lines(_ report: Report, wall: Duration?, directory: String?, details: [String] = []) -> [String] {
        var out: [String] = []
        out.append("\(report.experiment)  seed \(report.seed)")
        let transports = report.clients.byTransport.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out.append("  clients     \(report.clients.connected)/\(report.clients.total) connected; open at end: \(transports)")
        let m = report.messages
        out.append("  messages    offered \(m.offered)  delivered \(m.delivered)  lost \(m.lost)  duplicated \(m.duplicated)  reordered \(m.reordered)")
        let l = report.latencyMs
        out.append("  latency ms  avg \(l.avg)  p50 \(l.p50)  p95 \(l.p95)  p99 \(l.p99)  max \(l.max)")
        out += details
        let w = report.wire
        if let packets = w.packets, let dropped = w.packetsDropped, let retransmissions = w.retransmissions {
            out.append("  wire        up \(w.bytesUp) B  down \(w.bytesDown) B  packets \(packets)  dropped \(dropped)  retransmitted \(retransmissions)")
        } else {
            out.append("  wire        up \(w.bytesUp) B  down \(w.bytesDown) B  (TCP payload)  \(report.bandwidthBytesPerSec) B/s")
        }
        if let simulation = report.simulation, let wall {
            let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
            out.append("  simulated   \(simulation.virtualSeconds) s in \(String(format: "%.2f", seconds)) s wall, \(simulation.events) events")
        }
        if let resources = report.resources {
            out.append(String(format: "  resources   %.2f CPU s, peak RSS %.0f MiB (this process)", resources.cpuSeconds, resources.peakRSSMiB))
        }
        out.append("  digest      \(report.digest)")
        for expectation in report.expectations {
            out.append("  \(expectation.passed ? "PASS" : "FAIL")  \(expectation.text)  (\(expectation.observed))")
        }
        if let directory { out.append("  output      \(directory)") }
        out.append(report.passed ? "passed" : "FAILED")
        return out
    }
}
