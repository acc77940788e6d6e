import CrosswindTransport
import NIOCore

extension Report {
    /// A report of `observation`, with `expectations` evaluated against it.
    ///
    /// - Parameters:
    ///   - digest: the trace digest; `live` for a live run, which has no trace.
    ///   - throughputSeconds: the publishing (measuring) window `throughputMsgPerSec` divides by.
    ///   - bandwidthSeconds: the whole run's length `bandwidthBytesPerSec` divides by.
    ///   - wire: the bytes each way (see ``Wire`` for what they count in each world).
    ///   - transports: the managers' figures, from ``TransportFigures/summing(_:)``.
    ///
    /// The fields only one world has (`serverErrors`, `simulation`, `resources`, `endedOn`)
    /// start absent; the caller sets them.
    public init(
        experiment: String,
        seed: UInt64,
        digest: String,
        observation: RunObservation,
        expectations: [Expectation],
        throughputSeconds: Double,
        bandwidthSeconds: Double,
        wire: Wire,
        transports: [String: TransportFigures]
    ) {
        let results = observation.evaluate(expectations)
        let clients = observation.clientsBlock
        self.experiment = experiment
        self.seed = seed
        self.digest = digest
        self.passed = results.allSatisfy(\.passed)
        self.expectations = results
        self.clients = clients
        self.messages = observation.messagesBlock
        self.latencyMs = observation.latencyBlock
        self.throughputMsgPerSec = throughputSeconds > 0 ? round3(Double(observation.delivered) / throughputSeconds) : 0
        self.bandwidthBytesPerSec = bandwidthSeconds > 0 ? round3(Double(wire.bytesUp + wire.bytesDown) / bandwidthSeconds) : 0
        self.connectionSuccessRate = clients.total == 0 ? 0 : round3(Double(clients.connected) / Double(clients.total))
        self.wire = wire
        self.clientMessages = observation.clientMessages
        self.switches = observation.clients.flatMap(\.switches)
        self.transports = transports
        self.serverErrors = nil
        self.recovery = observation.recoveryBlock
        self.incompleteRecoveries = observation.incompleteRecoveries
        let failing = observation.failingClients(expectations)
        self.groups = observation.groupBlocks(failing: failing)
        self.failingClients = Array(failing.prefix(Report.failingClientsListed))
        self.failingClientsNotListed = failing.count > Report.failingClientsListed ? failing.count - Report.failingClientsListed : nil
        self.simulation = nil
        self.resources = nil
        self.endedOn = nil
    }
}

extension RunObservation {
    /// `clients`: everyone, those that connected, and those open at the end by transport.
    public var clientsBlock: Report.Clients {
        var byTransport: [String: Int] = [:]
        for client in self.clients {
            if let transport = client.transport { byTransport[transport.rawValue, default: 0] += 1 }
        }
        return Report.Clients(total: self.clients.count, connected: self.clients.count { $0.connected }, byTransport: byTransport)
    }

    /// `messages`, with lost = offered − delivered.
    public var messagesBlock: Report.Messages {
        Report.Messages(
            offered: self.offered,
            delivered: self.delivered,
            lost: max(self.offered - self.delivered, 0),
            duplicated: self.duplicated,
            reordered: self.reordered
        )
    }

    /// `latencyMs`, from the histogram (0 everywhere when nothing was delivered).
    public var latencyBlock: Report.Latency {
        let histogram = self.latency
        return Report.Latency(
            avg: round3(histogram.meanMicros / 1000),
            p50: milliseconds(histogram.percentileMicros(50)),
            p95: milliseconds(histogram.percentileMicros(95)),
            p99: milliseconds(histogram.percentileMicros(99)),
            max: milliseconds(histogram.count == 0 ? 0 : histogram.maxMicros)
        )
    }

    /// `recovery`, from the recovery and first-delivery histograms.
    public var recoveryBlock: Report.Recovery {
        Self.recovery(self.recoveries, firstDeliveries: self.firstDeliveries, unrecovered: self.unrecovered)
    }

    static func recovery(_ histogram: LatencyHistogram, firstDeliveries: LatencyHistogram, unrecovered: Int) -> Report.Recovery {
        Report.Recovery(
            count: Int(histogram.count),
            p50Ms: milliseconds(histogram.percentileMicros(50)),
            p99Ms: milliseconds(histogram.percentileMicros(99)),
            maxMs: milliseconds(histogram.count == 0 ? 0 : histogram.maxMicros),
            unrecovered: unrecovered,
            firstDeliveryMs: Report.Distribution(
                count: Int(firstDeliveries.count),
                p50: milliseconds(firstDeliveries.percentileMicros(50)),
                p99: milliseconds(firstDeliveries.percentileMicros(99)),
                max: milliseconds(firstDeliveries.count == 0 ? 0 : firstDeliveries.maxMicros)
            )
        )
    }

    /// `groups` without expectations (no client's transport is demanded).
    public var groupBlocks: [Report.Group] {
        self.groupBlocks(failing: self.failingClients([]))
    }

    /// `groups`, in ``groups`` order: where each group's clients ended and when they arrived,
    /// what they received and how they recovered (from their own figures), and how many of
    /// them are among `failing`.
    public func groupBlocks(failing: [Report.FailingClient]) -> [Report.Group] {
        self.groups.map { name in
            var members = 0
            var byTransport: [String: Int] = [:]
            var arrivals: [Double] = []
            var switches = 0
            var reasons: [String: Int] = [:]
            var (offered, delivered, duplicated, reordered, unrecovered) = (0, 0, 0, 0, 0)
            var recoveries = LatencyHistogram()
            var firstDeliveries = LatencyHistogram()
            for client in self.clients where client.group == name {
                members += 1
                if let transport = client.transport {
                    byTransport[transport.rawValue, default: 0] += 1
                    if let arrival = client.arrivalMs { arrivals.append(arrival) }
                }
                switches += client.switches.count
                for change in client.switches { reasons[change.reason, default: 0] += 1 }
                offered += client.offered
                delivered += client.delivered
                duplicated += client.duplicated
                reordered += client.reordered
                unrecovered += client.unrecovered
                for micros in client.recoveriesMicros { recoveries.record(micros: micros) }
                for micros in client.firstDeliveriesMicros { firstDeliveries.record(micros: micros) }
            }
            arrivals.sort()
            return Report.Group(
                name: name, clients: members, byTransport: byTransport,
                arrivalMsP50: arrivals.isEmpty ? nil : round3(arrivals[(arrivals.count - 1) / 2]),
                arrivalMsMax: arrivals.last.map(round3),
                switches: switches,
                switchesByReason: reasons,
                messages: Report.Messages(
                    offered: offered, delivered: delivered, lost: max(offered - delivered, 0),
                    duplicated: duplicated, reordered: reordered
                ),
                recovery: Self.recovery(recoveries, firstDeliveries: firstDeliveries, unrecovered: unrecovered),
                failingClients: failing.count { $0.group == name }
            )
        }
    }
}

extension Report.TransportFigures {
    /// Every figure zero.
    public static let zero = Report.TransportFigures(
        attempts: 0, opens: 0, connectFailures: 0, confirmTimeouts: 0, heartbeatLosses: 0, bufferingDetections: 0,
        closedAfterOpen: 0, probes: 0, probesSucceeded: 0, messagesDelivered: 0, duplicatesSuppressed: 0, timeOpenSeconds: 0
    )

    /// Per transport name, the figures of every manager summed (in the order given); empty
    /// when there is no manager. Each element is one manager's ``TransportPerformance`` per
    /// transport, as `RealtimeManagerStateMachine.performance(of:now:)` gives it.
    public static func summing(_ managers: [[TransportMethod: TransportPerformance]]) -> [String: Report.TransportFigures] {
        guard !managers.isEmpty else { return [:] }
        var figures: [String: Report.TransportFigures] = [:]
        for method in TransportMethod.allCases {
            var sum = Report.TransportFigures.zero
            for manager in managers {
                guard let p = manager[method] else { continue }
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
            sum.timeOpenSeconds = round3(sum.timeOpenSeconds)
            figures[method.rawValue] = sum
        }
        return figures
    }
}

/// Microseconds as milliseconds with three decimals.
func milliseconds(_ micros: UInt64) -> Double {
    round3(Double(micros) / 1000)
}
