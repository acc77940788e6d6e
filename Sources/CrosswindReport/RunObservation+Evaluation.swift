import CrosswindTransport

extension RunObservation {
    /// Each expectation's result, in order.
    public func evaluate(_ expectations: [Expectation]) -> [Report.ExpectationResult] {
        guard !expectations.isEmpty else { return [] }
        let summary = Summary(self)
        return expectations.map { self.evaluate($0, summary) }
    }

    /// Whether `expectation` held in this run, and what was observed (the text that explains
    /// a failure). An expectation that needs a figure this run did not measure fails and says so.
    public func evaluate(_ expectation: Expectation) -> Report.ExpectationResult {
        self.evaluate(expectation, Summary(self))
    }

    /// The rounded blocks expectations compare against, computed once per report.
    private struct Summary {
        let messages: Report.Messages
        let clients: Report.Clients
        let latency: Report.Latency
        let recovery: Report.Recovery

        init(_ observation: RunObservation) {
            self.messages = observation.messagesBlock
            self.clients = observation.clientsBlock
            self.latency = observation.latencyBlock
            self.recovery = observation.recoveryBlock
        }
    }

    private func evaluate(_ expectation: Expectation, _ summary: Summary) -> Report.ExpectationResult {
        let messages = summary.messages
        let clients = summary.clients
        let passed: Bool
        let observed: String
        switch expectation.kind {
        case .deliveryComplete:
            passed = messages.offered > 0 && messages.delivered >= messages.offered
            observed = "\(messages.delivered) of \(messages.offered) delivered, \(messages.lost) lost"
                + self.naming("by", { $0.offered > $0.delivered }, count: { $0.offered - $0.delivered })
        case .deliveryRateAtLeast(let fraction):
            let rate = messages.offered == 0 ? 0 : Double(messages.delivered) / Double(messages.offered)
            passed = messages.offered > 0 && rate >= fraction
            observed = "delivery rate \(round3(rate * 100)) %"
        case .noDuplicates:
            passed = messages.duplicated == 0
            observed = "\(messages.duplicated) duplicated" + self.naming("by", { $0.duplicated > 0 }, count: \.duplicated)
        case .noReordering:
            passed = messages.reordered == 0
            observed = "\(messages.reordered) reordered" + self.naming("by", { $0.reordered > 0 }, count: \.reordered)
        case .allConnected:
            passed = clients.total > 0 && clients.connected == clients.total
            observed = "\(clients.connected) of \(clients.total) connected" + self.naming("never", { !$0.connected })
        case .latencyAtMost(let statistic, let bound):
            let value = Self.value(statistic, of: summary.latency)
            passed = messages.delivered > 0 && value <= bound
            observed = "\(statistic.rawValue) \(value) ms"
        case .latencyAtLeast(let statistic, let bound):
            let value = Self.value(statistic, of: summary.latency)
            passed = messages.delivered > 0 && value >= bound
            observed = "\(statistic.rawValue) \(value) ms"
        case .endsOnTransport(let group, let transport, let within, let notBefore):
            let members = self.clients.filter { client in group.map { client.group == $0 } ?? true }
            var onIt = 0
            var arrivals: [Double] = []
            var reconnecting = 0
            for client in members where client.endedOn == transport {
                onIt += 1
                if client.transport == nil { reconnecting += 1 }
                if let arrival = client.arrivalMs { arrivals.append(arrival) }
            }
            let slowest = arrivals.max() ?? .infinity
            let fastest = arrivals.min() ?? 0
            passed = !members.isEmpty && onIt == members.count
                && (within.map { slowest <= $0 } ?? true) && (notBefore.map { fastest >= $0 } ?? true)
            if members.isEmpty, let group {
                // A group the run does not have (a live run's clients form one group).
                observed = "no client in group \(group) (groups in this run: \(self.groups.joined(separator: ", ")))"
            } else {
                observed = "\(onIt) of \(members.count) on \(transport.rawValue)"
                    + (reconnecting > 0 ? " (\(reconnecting) reconnecting it after a cut)" : "")
                    + ", arrived after \(round3(fastest))…\(round3(arrivals.isEmpty ? 0 : slowest)) ms"
                    + Self.elsewhere(members.filter { $0.endedOn != transport })
            }
        case .recoveryAtMost(let statistic, let bound):
            let r = summary.recovery
            let value: Double
            switch statistic {
            case .avg: value = round3(self.recoveries.meanMicros / 1000)
            case .p50: value = r.p50Ms
            case .p95: value = milliseconds(self.recoveries.percentileMicros(95))
            case .p99: value = r.p99Ms
            case .max: value = r.maxMs
            }
            passed = r.count > 0 && r.unrecovered == 0 && value <= bound
            observed = "\(statistic.rawValue) \(value) ms over \(r.count) recoveries, \(r.unrecovered) unrecovered"
                + self.naming("by", { $0.unrecovered > 0 }, count: \.unrecovered)
        case .noIncompleteRecovery:
            passed = self.incompleteRecoveries == 0
            observed = "\(self.incompleteRecoveries) incomplete"
        case .everyRecoveryIncomplete:
            let told = self.clients.filter { $0.incompleteRecoveries > 0 }.count
            passed = !self.clients.isEmpty && told == self.clients.count
            observed = "\(told) of \(self.clients.count) clients told, \(self.incompleteRecoveries) incomplete"
                + self.naming("not", { $0.incompleteRecoveries == 0 })
        case .clientSendsComplete:
            if let sends = self.clientMessages {
                passed = sends.offered > 0 && sends.delivered == sends.offered && sends.duplicated == 0 && sends.unacknowledged == 0
                observed = "\(sends.delivered) of \(sends.offered) received, \(sends.duplicated) twice, \(sends.unacknowledged) unacknowledged"
            } else {
                passed = false
                observed = "not measured: this run sends no client messages it can account for"
            }
        }
        return Report.ExpectationResult(text: expectation.text, passed: passed, observed: observed)
    }

    /// The first few clients `matching`, for an observed text: `; by office-3 (12), office-17
    /// (3), …` (with `count`), `; never office-9`. Empty when no client's own figures match
    /// (a hand-made observation may have none).
    private func naming(_ label: String, _ matching: (Client) -> Bool, count: ((Client) -> Int)? = nil, limit: Int = 5) -> String {
        let matched = self.clients.filter(matching)
        guard !matched.isEmpty else { return "" }
        var names = matched.prefix(limit).map { client in count.map { "\(client.name) (\($0(client)))" } ?? client.name }.joined(separator: ", ")
        if matched.count > limit { names += ", … \(matched.count - limit) more" }
        return "; \(label) \(names)"
    }

    /// Where the clients that are not on an expected transport ended, per transport and then
    /// those with nothing open, naming the first few of each: `; 5 on sync (office-3,
    /// office-17, office-20, office-31, office-44); 1 with nothing open (office-9)`. Empty
    /// when there are none.
    static func elsewhere(_ clients: [Client], named limit: Int = 5) -> String {
        var text = ""
        let places: [TransportMethod?] = TransportMethod.allCases + [nil]
        for place in places {
            let here = clients.filter { $0.transport == place }
            guard !here.isEmpty else { continue }
            var names = here.prefix(limit).map(\.name).joined(separator: ", ")
            if here.count > limit { names += ", …" }
            text += "; \(here.count) \(place.map { "on \($0.rawValue)" } ?? "with nothing open") (\(names))"
        }
        return text
    }

    private static func value(_ statistic: Expectation.LatencyStatistic, of latency: Report.Latency) -> Double {
        switch statistic {
        case .avg: return latency.avg
        case .p50: return latency.p50
        case .p95: return latency.p95
        case .p99: return latency.p99
        case .max: return latency.max
        }
    }
}
