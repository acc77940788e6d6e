import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// What a run produced: the report, the trace digest, and the series for `metrics.csv`.
public struct RunResult {
    public var report: Report
    public var digest: String { self.report.digest }
    public var series: [MetricsSample]
    /// The trace, for `events.jsonl` and divergence reports.
    public let trace: EventTrace
    /// Captures written.
    public var capturePaths: [String]

    static func measure(_ run: ExperimentRun) -> RunResult {
        let experiment = run.experiment
        let workload = experiment.workload
        let lastOffset = run.lastPublishedOffset
        var offered = 0
        var delivered = 0
        var duplicated = 0
        var reordered = 0
        var connected = 0
        var openAtEnd: [String: Int] = [:]
        for agent in run.agents {
            offered += agent.offered(publishedThrough: lastOffset)
            delivered += agent.delivered
            duplicated += agent.duplicated
            reordered += agent.reordered
            if agent.openedAt != nil { connected += 1 }
            if let client = agent.client, client.isOpen { openAtEnd[client.method.rawValue, default: 0] += 1 }
        }
        var bytesUp = 0
        var bytesDown = 0
        var packets = 0
        var dropped = 0
        for link in run.network.allLinks {
            if link.to == run.server { bytesUp += link.statistics.bytesSent } else { bytesDown += link.statistics.bytesSent }
            packets += link.statistics.packetsSent
            dropped += link.statistics.droppedByLoss + link.statistics.droppedByQueue + link.statistics.droppedWhileDown
        }
        let retransmissions = run.retransmissionCount()

        let histogram = run.latency
        func ms(_ micros: UInt64) -> Double { round3(Double(micros) / 1000) }
        let latency = Report.Latency(
            avg: round3(histogram.meanMicros / 1000),
            p50: ms(histogram.percentileMicros(50)),
            p95: ms(histogram.percentileMicros(95)),
            p99: ms(histogram.percentileMicros(99)),
            max: ms(histogram.count == 0 ? 0 : histogram.maxMicros)
        )
        let total = run.agents.count
        let messages = Report.Messages(
            offered: offered,
            delivered: delivered,
            lost: max(offered - delivered, 0),
            duplicated: duplicated,
            reordered: reordered
        )
        let clients = Report.Clients(total: total, connected: connected, byTransport: openAtEnd)
        let virtualSeconds = Double(workload.metricsAt.nanoseconds) / 1e9
        let digest = run.simulation.trace.digest()
        let expectationResults = experiment.expectations.map {
            evaluate($0, messages: messages, clients: clients, latency: latency)
        }
        let report = Report(
            experiment: experiment.name,
            seed: run.seed,
            digest: digest,
            passed: expectationResults.allSatisfy(\.passed),
            expectations: expectationResults,
            clients: clients,
            messages: messages,
            latencyMs: latency,
            throughputMsgPerSec: round3(Double(delivered) / (Double(workload.duration.nanoseconds) / 1e9)),
            bandwidthBytesPerSec: round3(Double(bytesUp + bytesDown) / virtualSeconds),
            connectionSuccessRate: total == 0 ? 0 : round3(Double(connected) / Double(total)),
            wire: Report.Wire(
                bytesUp: bytesUp,
                bytesDown: bytesDown,
                packets: packets,
                packetsDropped: dropped,
                retransmissions: retransmissions,
                goodputBytes: delivered * run.payloadBytes
            ),
            simulation: Report.SimulationFigures(virtualSeconds: virtualSeconds, events: run.simulation.trace.count)
        )
        return RunResult(report: report, series: run.series, trace: run.simulation.trace, capturePaths: run.capturePaths)
    }

    static func evaluate(
        _ expectation: Expectation,
        messages: Report.Messages,
        clients: Report.Clients,
        latency: Report.Latency
    ) -> Report.ExpectationResult {
        func value(_ statistic: Expectation.LatencyStatistic) -> Double {
            switch statistic {
            case .avg: return latency.avg
            case .p50: return latency.p50
            case .p95: return latency.p95
            case .p99: return latency.p99
            case .max: return latency.max
            }
        }
        let passed: Bool
        let observed: String
        switch expectation.kind {
        case .deliveryComplete:
            passed = messages.offered > 0 && messages.delivered >= messages.offered
            observed = "\(messages.delivered) of \(messages.offered) delivered, \(messages.lost) lost"
        case .deliveryRateAtLeast(let fraction):
            let rate = messages.offered == 0 ? 0 : Double(messages.delivered) / Double(messages.offered)
            passed = messages.offered > 0 && rate >= fraction
            observed = "delivery rate \(round3(rate * 100)) %"
        case .noDuplicates:
            passed = messages.duplicated == 0
            observed = "\(messages.duplicated) duplicated"
        case .noReordering:
            passed = messages.reordered == 0
            observed = "\(messages.reordered) reordered"
        case .allConnected:
            passed = clients.total > 0 && clients.connected == clients.total
            observed = "\(clients.connected) of \(clients.total) connected"
        case .latencyAtMost(let statistic, let milliseconds):
            let observedValue = value(statistic)
            passed = messages.delivered > 0 && observedValue <= milliseconds
            observed = "\(statistic.rawValue) \(observedValue) ms"
        case .latencyAtLeast(let statistic, let milliseconds):
            let observedValue = value(statistic)
            passed = messages.delivered > 0 && observedValue >= milliseconds
            observed = "\(statistic.rawValue) \(observedValue) ms"
        }
        return Report.ExpectationResult(text: expectation.text, passed: passed, observed: observed)
    }
}
