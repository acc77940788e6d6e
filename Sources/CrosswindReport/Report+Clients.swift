import CrosswindTransport

extension Report {
    /// How many failing clients `failingClients` lists at most; the rest are counted.
    public static let failingClientsListed = 100
    /// How many items each list of a failing client holds at most (missing ranges, switches,
    /// recoveries); the rest are counted.
    public static let clientItemsListed = 20

    /// One client that broke an invariant, with its own figures: who failed, and why.
    public struct FailingClient: Codable, Sendable, Equatable {
        /// What it broke, in this order: `notConnected` (never opened), `lost` (offered
        /// messages it never received), `duplicated`, `reordered`, `unrecovered` (an outage
        /// it had not caught up from at the end), `wrongTransport` (neither open on the
        /// transport an expectation demanded of its group, `expectedTransport`, nor reconnecting
        /// it after a cut).
        public enum Violation: String, Codable, Sendable, CaseIterable {
            case notConnected, lost, duplicated, reordered, unrecovered, wrongTransport
        }

        public var client: String
        public var group: String
        public var violations: [Violation]
        /// Whether it reached open at some point.
        public var connected: Bool
        /// The transport open at the end; `null` when none was.
        public var transport: String?
        /// With `wrongTransport`: the transport the expectation demanded.
        public var expectedTransport: String?
        public var offered: Int
        public var delivered: Int
        public var lost: Int
        /// The offsets it never received, as ranges in offset order (`"120-131"`, `"140"`):
        /// the first ``Report/clientItemsListed``; `missingRangesNotListed` counts the rest.
        public var missing: [String]
        public var missingRangesNotListed: Int?
        public var duplicated: Int
        public var reordered: Int
        /// Its transport changes, the first its initial choice: the first
        /// ``Report/clientItemsListed``; `switchesNotListed` counts the rest.
        public var switches: [Switch]
        public var switchesNotListed: Int?
        /// Per outage it recovered from, in order, its recovery time (see ``Recovery``), and
        /// per outage followed by a delivery the time to that first delivery: the first
        /// ``Report/clientItemsListed`` of each; `recoveriesNotListed` counts the recoveries
        /// left out.
        public var recoveryMs: [Double]
        public var firstDeliveryMs: [Double]
        public var recoveriesNotListed: Int?
        /// Outages it had not recovered from at the end.
        public var unrecovered: Int

        private enum CodingKeys: String, CodingKey {
            case client, group, violations, connected, transport, expectedTransport, offered, delivered, lost, missing,
                missingRangesNotListed, duplicated, reordered, switches, switchesNotListed, recoveryMs, firstDeliveryMs,
                recoveriesNotListed, unrecovered
        }

        /// Writes `"transport": null` for a client with nothing open, as `endedOn[]` does; the
        /// other optional keys appear only when set.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.client, forKey: .client)
            try container.encode(self.group, forKey: .group)
            try container.encode(self.violations, forKey: .violations)
            try container.encode(self.connected, forKey: .connected)
            try container.encode(self.transport, forKey: .transport)
            try container.encodeIfPresent(self.expectedTransport, forKey: .expectedTransport)
            try container.encode(self.offered, forKey: .offered)
            try container.encode(self.delivered, forKey: .delivered)
            try container.encode(self.lost, forKey: .lost)
            try container.encode(self.missing, forKey: .missing)
            try container.encodeIfPresent(self.missingRangesNotListed, forKey: .missingRangesNotListed)
            try container.encode(self.duplicated, forKey: .duplicated)
            try container.encode(self.reordered, forKey: .reordered)
            try container.encode(self.switches, forKey: .switches)
            try container.encodeIfPresent(self.switchesNotListed, forKey: .switchesNotListed)
            try container.encode(self.recoveryMs, forKey: .recoveryMs)
            try container.encode(self.firstDeliveryMs, forKey: .firstDeliveryMs)
            try container.encodeIfPresent(self.recoveriesNotListed, forKey: .recoveriesNotListed)
            try container.encode(self.unrecovered, forKey: .unrecovered)
        }
    }
}

extension RunObservation {
    /// Every client that broke an invariant, in client order: lost, duplicated or reordered
    /// a message, was never connected, had not recovered from an outage at the end, or ended
    /// elsewhere than on the transport an `endsOnTransport` expectation demanded of its group
    /// (reconnecting it after a cut counts as on it).
    public func failingClients(_ expectations: [Expectation]) -> [Report.FailingClient] {
        var demands: [(group: String?, transport: TransportMethod)] = []
        for expectation in expectations {
            if case .endsOnTransport(let group, let transport, _, _) = expectation.kind { demands.append((group, transport)) }
        }
        var failing: [Report.FailingClient] = []
        for client in self.clients {
            let expected = demands.first { ($0.group.map { $0 == client.group } ?? true) && $0.transport != client.endedOn }?.transport
            var violations: [Report.FailingClient.Violation] = []
            if !client.connected { violations.append(.notConnected) }
            if client.delivered < client.offered { violations.append(.lost) }
            if client.duplicated > 0 { violations.append(.duplicated) }
            if client.reordered > 0 { violations.append(.reordered) }
            if client.unrecovered > 0 { violations.append(.unrecovered) }
            if expected != nil { violations.append(.wrongTransport) }
            guard !violations.isEmpty else { continue }
            failing.append(Self.failing(client, violations: violations, expected: expected))
        }
        return failing
    }

    private static func failing(_ client: Client, violations: [Report.FailingClient.Violation], expected: TransportMethod?) -> Report.FailingClient {
        let cap = Report.clientItemsListed
        func notListed(_ total: Int, _ listed: Int) -> Int? { total > listed ? total - listed : nil }
        let switches = Array(client.switches.prefix(cap))
        let recoveries = client.recoveriesMicros.prefix(cap).map { milliseconds($0) }
        return Report.FailingClient(
            client: client.name,
            group: client.group,
            violations: violations,
            connected: client.connected,
            transport: client.transport?.rawValue,
            expectedTransport: expected?.rawValue,
            offered: client.offered,
            delivered: client.delivered,
            lost: max(client.offered - client.delivered, 0),
            missing: client.missing.prefix(cap).map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" },
            missingRangesNotListed: notListed(client.missingRangeCount, min(client.missing.count, cap)),
            duplicated: client.duplicated,
            reordered: client.reordered,
            switches: switches,
            switchesNotListed: notListed(client.switches.count, switches.count),
            recoveryMs: recoveries,
            firstDeliveryMs: client.firstDeliveriesMicros.prefix(cap).map { milliseconds($0) },
            recoveriesNotListed: notListed(client.recoveriesMicros.count, recoveries.count),
            unrecovered: client.unrecovered
        )
    }
}
