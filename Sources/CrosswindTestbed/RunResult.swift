import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindReport
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
    /// Every delivered message's latency (the report keeps its percentiles; a latency CDF
    /// needs the whole histogram).
    public var latency = LatencyHistogram()

    static func measure(_ run: ExperimentRun) -> RunResult {
        let experiment = run.experiment
        let workload = experiment.workload
        var bytesUp = 0
        var bytesDown = 0
        var packets = 0
        var dropped = 0
        for link in run.network.allLinks {
            if run.isServerNode(link.to) { bytesUp += link.statistics.bytesSent } else { bytesDown += link.statistics.bytesSent }
            packets += link.statistics.packetsSent
            dropped += link.statistics.droppedByLoss + link.statistics.droppedByQueue + link.statistics.droppedWhileDown
        }
        let observation = Self.observe(run)
        let virtualSeconds = Double(workload.metricsAt.nanoseconds) / 1e9
        var report = Report(
            experiment: experiment.name,
            seed: run.seed,
            digest: run.simulation.trace.digest(),
            observation: observation,
            expectations: experiment.expectations,
            throughputSeconds: Double(workload.duration.nanoseconds) / 1e9,
            bandwidthSeconds: virtualSeconds,
            wire: Report.Wire(
                bytesUp: bytesUp,
                bytesDown: bytesDown,
                packets: packets,
                packetsDropped: dropped,
                retransmissions: run.retransmissionCount(),
                goodputBytes: observation.delivered * run.payloadBytes
            ),
            transports: Self.transportFigures(run)
        )
        report.serverErrors = run.serverLog.lines.count
        report.simulation = Report.SimulationFigures(virtualSeconds: virtualSeconds, events: run.simulation.trace.count)
        return RunResult(
            report: report, series: run.series, trace: run.simulation.trace, capturePaths: run.capturePaths, serverLog: run.serverLog.lines,
            latency: observation.latency
        )
    }

    /// What the run's clients and server saw, for the report and its expectations.
    static func observe(_ run: ExperimentRun) -> RunObservation {
        let groups = run.experiment.topology.groups.map(\.name)
        let start = run.simulation.start
        var clients: [RunObservation.Client] = []
        clients.reserveCapacity(run.agents.count)
        var offered = 0
        var delivered = 0
        var duplicated = 0
        var reordered = 0
        var recoveries = LatencyHistogram()
        var firstDeliveries = LatencyHistogram()
        var unrecovered = 0
        var incomplete = 0
        for agent in run.agents {
            delivered += agent.delivered
            duplicated += agent.duplicated
            reordered += agent.reordered
            var client = RunObservation.Client(
                name: agent.name, group: groups[agent.group], connected: agent.openedAt != nil,
                transport: agent.currentTransport, reconnecting: agent.reconnectingTransport,
                startedAt: agent.startedAt, arrivedAt: agent.arrivedOnCurrentAt,
                switches: agent.switches, runStart: start
            )
            agent.account(&client)
            offered += client.offered
            for micros in client.recoveriesMicros { recoveries.record(micros: micros) }
            for micros in client.firstDeliveriesMicros { firstDeliveries.record(micros: micros) }
            clients.append(client)
            unrecovered += agent.unrecovered
            incomplete += agent.incompleteRecoveries
        }
        var observation = RunObservation(
            groups: groups,
            clients: clients,
            offered: offered,
            delivered: delivered,
            duplicated: duplicated,
            reordered: reordered,
            latency: run.latency,
            recoveries: recoveries,
            unrecovered: unrecovered,
            incompleteRecoveries: incomplete,
            clientMessages: Report.ClientMessages(
                offered: run.clientMessagesSent,
                delivered: run.clientMessagesDelivered,
                duplicated: run.clientMessagesDuplicated,
                unacknowledged: run.managers.reduce(0) { $0 + $1.unacknowledgedSends }
            )
        )
        observation.firstDeliveries = firstDeliveries
        return observation
    }

    /// The managers' per-transport figures, summed over every managed client.
    static func transportFigures(_ run: ExperimentRun) -> [String: Report.TransportFigures] {
        let now = run.simulation.now
        let managers = run.managers.map { manager in
            Dictionary(uniqueKeysWithValues: TransportMethod.allCases.map { ($0, manager.state.performance(of: $0, now: now)) })
        }
        return Report.TransportFigures.summing(managers)
    }
}
