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
    /// The server's log lines (rejected requests, broken client frames).
    public var serverLog: [String]

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
            if let method = agent.currentTransport { openAtEnd[method.rawValue, default: 0] += 1 }
        }
        let start = run.simulation.start
        func msSinceStart(_ time: NIODeadline) -> Double { round3(Double((time - start).nanoseconds) / 1e6) }
        var switches: [Report.Switch] = []
        var recoveries = LatencyHistogram()
        var unrecovered = 0
        var incomplete = 0
        var groups: [Report.Group] = []
        for (index, group) in experiment.topology.groups.enumerated() {
            let members = run.agents.filter { $0.group == index }
            var byTransport: [String: Int] = [:]
            var arrivals: [Double] = []
            var groupSwitches = 0
            for agent in members {
                if let method = agent.currentTransport {
                    byTransport[method.rawValue, default: 0] += 1
                    if let arrived = agent.arrivedOnCurrentAt, let started = agent.startedAt {
                        arrivals.append(Double((arrived - started).nanoseconds) / 1e6)
                    }
                }
                groupSwitches += agent.switches.count
            }
            arrivals.sort()
            groups.append(Report.Group(
                name: group.name, clients: members.count, byTransport: byTransport,
                arrivalMsP50: arrivals.isEmpty ? nil : round3(arrivals[(arrivals.count - 1) / 2]),
                arrivalMsMax: arrivals.last.map(round3),
                switches: groupSwitches
            ))
        }
        for agent in run.agents {
            for change in agent.switches {
                switches.append(Report.Switch(client: agent.name, atMs: msSinceStart(change.at), from: change.from?.rawValue, to: change.to.rawValue, reason: change.reason.rawValue))
            }
            for recovery in agent.recoveries { recoveries.record(micros: UInt64(max(recovery.nanoseconds / 1000, 0))) }
            unrecovered += agent.unrecovered
            incomplete += agent.incompleteRecoveries
        }
        let recovery = Report.Recovery(
            count: Int(recoveries.count),
            p50Ms: round3(Double(recoveries.percentileMicros(50)) / 1000),
            p99Ms: round3(Double(recoveries.percentileMicros(99)) / 1000),
            maxMs: round3(Double(recoveries.count == 0 ? 0 : recoveries.maxMicros) / 1000),
            unrecovered: unrecovered
        )
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
        let facts = Facts(run: run, recovery: recovery, recoveries: recoveries, incomplete: incomplete)
        let expectationResults = experiment.expectations.map {
            evaluate($0, messages: messages, clients: clients, latency: latency, facts: facts)
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
            clientMessages: Report.ClientMessages(
                offered: run.clientMessagesSent,
                delivered: run.clientMessagesDelivered,
                duplicated: run.clientMessagesDuplicated,
                unacknowledged: run.agents.reduce(0) { $0 + ($1.manager?.unacknowledgedSends ?? 0) }
            ),
            switches: switches,
            transports: Self.transportFigures(run),
            serverErrors: run.serverLog.lines.count,
            recovery: recovery,
            incompleteRecoveries: incomplete,
            groups: groups,
            simulation: Report.SimulationFigures(virtualSeconds: virtualSeconds, events: run.simulation.trace.count)
        )
        return RunResult(report: report, series: run.series, trace: run.simulation.trace, capturePaths: run.capturePaths, serverLog: run.serverLog.lines)
    }

    static func transportFigures(_ run: ExperimentRun) -> [String: Report.TransportFigures] {
        var figures: [String: Report.TransportFigures] = [:]
        let now = run.simulation.now
        for method in TransportMethod.allCases {
            var sum = Report.TransportFigures(attempts: 0, opens: 0, connectFailures: 0, confirmTimeouts: 0, heartbeatLosses: 0, bufferingDetections: 0, closedAfterOpen: 0, probes: 0, probesSucceeded: 0, messagesDelivered: 0, duplicatesSuppressed: 0, timeOpenSeconds: 0)
            var any = false
            for agent in run.agents {
                guard let manager = agent.manager else { continue }
                any = true
                let p = manager.state.performance(of: method, now: now)
                sum.attempts += p.attempts
                sum.opens += p.opens
                sum.connectFailures += p.connectFailures
                sum.confirmTimeouts += p.confirmTimeouts
                sum.heartbeatLosses += p.heartbeatLosses
                sum.bufferingDetections += p.bufferingDetections
                sum.closedAfterOpen += p.closedAfterOpen
                sum.probes += p.probes
                sum.probesSucceeded += p.probesSucceeded
                sum.messagesDelivered += p.messagesDelivered
                sum.duplicatesSuppressed += p.duplicatesSuppressed
                sum.timeOpenSeconds += Double(p.timeOpen.nanoseconds) / 1e9
            }
            if any {
                sum.timeOpenSeconds = round3(sum.timeOpenSeconds)
                figures[method.rawValue] = sum
            }
        }
        return figures
    }

    /// What the newer expectations look at, beyond the report's summary blocks.
    struct Facts {
        unowned(unsafe) let run: ExperimentRun
        let recovery: Report.Recovery
        let recoveries: LatencyHistogram
        let incomplete: Int
    }

    static func evaluate(
        _ expectation: Expectation,
        messages: Report.Messages,
        clients: Report.Clients,
        latency: Report.Latency,
        facts: Facts
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
        case .endsOnTransport(let group, let transport, let within, let notBefore):
            let run = facts.run
            let members = run.agents.filter { agent in group.map { run.experiment.topology.groups[agent.group].name == $0 } ?? true }
            var onIt = 0
            var arrivals: [Double] = []
            for agent in members where agent.currentTransport?.rawValue == transport.rawValue {
                onIt += 1
                if let arrived = agent.arrivedOnCurrentAt, let started = agent.startedAt {
                    arrivals.append(Double((arrived - started).nanoseconds) / 1e6)
                }
            }
            let slowest = arrivals.max() ?? .infinity
            let fastest = arrivals.min() ?? 0
            passed = !members.isEmpty && onIt == members.count
                && (within.map { slowest <= $0 } ?? true) && (notBefore.map { fastest >= $0 } ?? true)
            observed = "\(onIt) of \(members.count) on \(transport.rawValue), arrived after \(round3(fastest))…\(round3(arrivals.isEmpty ? 0 : slowest)) ms"
        case .recoveryAtMost(let statistic, let milliseconds):
            let r = facts.recovery
            let observedValue: Double
            switch statistic {
            case .avg: observedValue = round3(facts.recoveries.meanMicros / 1000)
            case .p50: observedValue = r.p50Ms
            case .p95: observedValue = round3(Double(facts.recoveries.percentileMicros(95)) / 1000)
            case .p99: observedValue = r.p99Ms
            case .max: observedValue = r.maxMs
            }
            passed = r.count > 0 && r.unrecovered == 0 && observedValue <= milliseconds
            observed = "\(statistic.rawValue) \(observedValue) ms over \(r.count) recoveries, \(r.unrecovered) unrecovered"
        case .noIncompleteRecovery:
            passed = facts.incomplete == 0
            observed = "\(facts.incomplete) incomplete"
        case .clientSendsComplete:
            let run = facts.run
            let unacknowledged = run.agents.reduce(0) { $0 + ($1.manager?.unacknowledgedSends ?? 0) }
            passed = run.clientMessagesSent > 0 && run.clientMessagesDelivered == run.clientMessagesSent
                && run.clientMessagesDuplicated == 0 && unacknowledged == 0
            observed = "\(run.clientMessagesDelivered) of \(run.clientMessagesSent) received, \(run.clientMessagesDuplicated) twice, \(unacknowledged) unacknowledged"
        }
        return Report.ExpectationResult(text: expectation.text, passed: passed, observed: observed)
    }
}
