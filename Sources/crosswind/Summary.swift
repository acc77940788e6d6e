import CrosswindReport
import Foundation

/// The short human summary of a report on standard output, for `run` and `load` alike:
/// clients, messages, latency, each group (where its clients ended, what they received, how
/// they switched and recovered), the wire, what the run cost, every expectation with what was
/// observed, the clients that broke an invariant (at most ``failingClientsShown``), and the
/// verdict.
enum Summary {
    /// Failing clients printed at most; `report.json` lists more (see `Report.failingClientsListed`).
    static let failingClientsShown = 20

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
        for group in report.groups { out += self.lines(group) }
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
        out += self.failingLines(report)
        if let directory { out.append("  output      \(directory)") }
        out.append(report.passed ? "passed" : "FAILED")
        return out
    }

    /// A group: its clients and where they ended, its messages, its switches by reason, and
    /// its recoveries when it had outages.
    static func lines(_ group: Report.Group) -> [String] {
        let ended = group.byTransport.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let m = group.messages
        var out = [
            "  group       \(group.name): \(group.clients) client\(group.clients == 1 ? "" : "s"), open at end: \(ended.isEmpty ? "none" : ended); "
                + "offered \(m.offered)  delivered \(m.delivered)  lost \(m.lost)  duplicated \(m.duplicated)  reordered \(m.reordered)"
                + (group.failingClients > 0 ? "; \(group.failingClients) failing" : "")
        ]
        let reasons = group.switchesByReason.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }
        if !reasons.isEmpty { out.append("              switches \(reasons.joined(separator: ", "))") }
        let r = group.recovery
        if r.count > 0 || r.unrecovered > 0 {
            let first = r.firstDeliveryMs
            out.append("              recovery \(r.count) recovered  p50 \(r.p50Ms) ms  p99 \(r.p99Ms) ms  max \(r.maxMs) ms  \(r.unrecovered) unrecovered; first delivery p50 \(first.p50) ms  p99 \(first.p99) ms  max \(first.max) ms")
        }
        return out
    }

    /// The clients that broke an invariant, one line each, at most ``failingClientsShown``.
    static func failingLines(_ report: Report) -> [String] {
        let total = report.failingClients.count + (report.failingClientsNotListed ?? 0)
        guard total > 0 else { return [] }
        var out = ["  failing     \(total) client\(total == 1 ? "" : "s") broke an invariant"]
        for client in report.failingClients.prefix(self.failingClientsShown) { out.append("    " + self.line(client)) }
        if total > self.failingClientsShown {
            let listed = report.failingClients.count
            out.append("    … and \(total - self.failingClientsShown) more (report.json lists \(listed)\(listed < total ? " and counts the rest" : ""))")
        }
        return out
    }

    /// One failing client: what it broke, its messages with the missing offsets, where it
    /// ended (and what was expected), its switches and its recoveries.
    static func line(_ client: Report.FailingClient) -> String {
        var parts = ["\(client.client) [\(client.violations.map(\.rawValue).joined(separator: ", "))]"]
        var messages = "delivered \(client.delivered) of \(client.offered)"
        if client.lost > 0 {
            messages += ", missing \(client.missing.joined(separator: ", "))"
            if let more = client.missingRangesNotListed { messages += " and \(more) more ranges" }
        }
        if client.duplicated > 0 { messages += ", \(client.duplicated) duplicated" }
        if client.reordered > 0 { messages += ", \(client.reordered) reordered" }
        parts.append(messages)
        var ended = client.connected ? (client.transport.map { "on \($0) at end" } ?? "nothing open at end") : "never connected"
        if let expected = client.expectedTransport { ended += " (expected \(expected))" }
        parts.append(ended)
        let changes = client.switches.filter { $0.from != nil }
        if !changes.isEmpty {
            var text = "switches " + changes.prefix(4).map { "\($0.from ?? "-") → \($0.to) \($0.reason) at \($0.atMs) ms" }.joined(separator: ", ")
            let more = changes.count - 4 + (client.switchesNotListed ?? 0)
            if more > 0 { text += ", \(more) more" }
            parts.append(text)
        }
        if !client.recoveryMs.isEmpty {
            parts.append("recovered after \(client.recoveryMs.map { "\($0)" }.joined(separator: ", ")) ms (first delivery after \(client.firstDeliveryMs.map { "\($0)" }.joined(separator: ", ")) ms)")
        }
        if client.unrecovered > 0 {
            parts.append("\(client.unrecovered) outage\(client.unrecovered == 1 ? "" : "s") not recovered")
        }
        return parts.joined(separator: "; ")
    }
}
