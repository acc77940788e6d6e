import CrosswindExperiment
import CrosswindKernel
import CrosswindNetwork
import CrosswindTransport
import NIOCore

/// The series of `metrics.csv`: cumulative counters at the end of every virtual second, until
/// the metrics are taken.
extension ExperimentRun {
    /// Schedules the first sample, at the end of the first virtual second; each schedules the next.
    func scheduleSampling() {
        self.simulation.schedule(at: self.simulation.at(.seconds(1))) { [unowned self] in self.sample() }
    }

    private func sample() {
        var upBytes = 0
        var downBytes = 0
        var drops = 0
        for link in self.network.allLinks {
            if self.isServerNode(link.to) { upBytes += link.statistics.bytesSent } else { downBytes += link.statistics.bytesSent }
            drops += link.statistics.droppedByLoss + link.statistics.droppedByQueue + link.statistics.droppedWhileDown
        }
        let open = self.agents.reduce(0) { $0 + (($1.client?.isOpen ?? false) ? 1 : 0) }
        self.series.append(
            MetricsSample(
                second: Int(self.simulation.elapsed.nanoseconds / 1_000_000_000),
                published: self.publishedCount,
                delivered: self.deliveredTotal,
                openClients: open,
                wireBytesUp: upBytes,
                wireBytesDown: downBytes,
                packetsDropped: drops
            )
        )
        let next = self.simulation.now + .seconds(1)
        if next <= self.simulation.at(self.experiment.workload.metricsAt) {
            self.simulation.schedule(at: next) { [unowned self] in self.sample() }
        }
    }
}

/// One row of `metrics.csv`: cumulative counters at the end of a virtual second.
public struct MetricsSample: Sendable, Equatable {
    public var second: Int
    public var published: Int
    public var delivered: Int
    public var openClients: Int
    public var wireBytesUp: Int
    public var wireBytesDown: Int
    public var packetsDropped: Int
}
