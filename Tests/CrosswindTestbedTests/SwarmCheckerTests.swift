import CrosswindExperiment
import CrosswindTestbed
import Testing

/// The swarm checker catches planted violations: hand-written event lists (each one breaking
/// one invariant, beside a clean control), and a real run's trace with a delivery removed,
/// repeated or swapped.
@Suite(.tags(.swarm)) struct SwarmCheckerTests {
    typealias Event = SwarmChecker.Event

    /// One client of group `g` with a 20 s budget after a heal at 10 s; best transport WebSocket.
    static func budget(best: String = "websocket") -> SwarmBudget {
        var budget = SwarmBudget(experiment: try! SwarmGenerator.scenario(seed: 1, size: .small).experiment())
        budget.healNanos = 10 * second
        budget.budgetNanos = 20 * second
        budget.publishEndNanos = 40 * second
        budget.endNanos = 45 * second
        budget.groups = ["g"]
        budget.bestTransport = ["g": best]
        return budget
    }

    static let second: Int64 = 1_000_000_000

    /// Offsets 1…40 published one a second from 1 s; the client opens at 0.5 s and receives
    /// each 50 ms after its publish, except where `deliveries` says otherwise.
    static func events(deliveries: [(offset: UInt64, atNanos: Int64)]? = nil) -> [Event] {
        var events: [Event] = [
            Event(timeNanos: second / 2, .switchTo(client: "g-1", to: "websocket")),
            Event(timeNanos: second / 2, .open(client: "g-1", epoch: 7, next: 1)),
        ]
        let planned = deliveries ?? (1...40).map { (UInt64($0), Int64($0) * second + 50_000_000) }
        var publishes = (1...40).map { Event(timeNanos: Int64($0) * second, .publish(offset: UInt64($0))) }
        var deliveries = planned.map { Event(timeNanos: $0.atNanos, .deliver(client: "g-1", offset: $0.offset)) }
        // Merge by time, publishes first at a tie (as the trace records them).
        var merged: [Event] = []
        while !publishes.isEmpty || !deliveries.isEmpty {
            if let p = publishes.first, deliveries.first.map({ p.timeNanos <= $0.timeNanos }) ?? true {
                merged.append(publishes.removeFirst())
            } else {
                merged.append(deliveries.removeFirst())
            }
        }
        return events + merged
    }

    static func normal(except change: (inout [(offset: UInt64, atNanos: Int64)]) -> Void) -> [Event] {
        var deliveries = (1...40).map { (offset: UInt64($0), atNanos: Int64($0) * second + 50_000_000) }
        change(&deliveries)
        return events(deliveries: deliveries)
    }

    func invariants(_ events: [Event], best: String = "websocket") -> [SwarmChecker.Invariant] {
        SwarmChecker(budget: Self.budget(best: best)).check(events).map(\.invariant)
    }

    @Test func aCleanRunHasNoViolation() {
        #expect(self.invariants(Self.events()) == [])
    }

    @Test func aLostMessageIsCaught() {
        // Offset 7 never arrives, and nothing said the resume was incomplete.
        let events = Self.normal { $0.removeAll { $0.offset == 7 } }
        #expect(self.invariants(events).contains(.lost))
    }

    @Test func aDuplicateIsCaught() {
        let events = Self.normal { $0.insert((offset: 12, atNanos: 12 * Self.second + 60_000_000), at: 12) }
        #expect(self.invariants(events) == [.duplicated])
    }

    @Test func aReorderingIsCaught() {
        // 21 and 22 arrive swapped (both after their publishes).
        let events = Self.normal { deliveries in
            deliveries[20] = (offset: 22, atNanos: 22 * Self.second + 50_000_000)
            deliveries[21] = (offset: 21, atNanos: 22 * Self.second + 60_000_000)
        }
        #expect(self.invariants(events).contains(.reordered))
    }

    @Test func aDeliveryBeforeItsPublishIsCaught() {
        // Offset 30 arrives half a second before the server published it.
        let events = Self.normal { $0[29].atNanos = 29 * Self.second + 500_000_000 }
        #expect(self.invariants(events).contains(.deliveredBeforePublish))
    }

    @Test func anIncompleteResumeInsideTheWindowIsCaught() {
        // A resume at 15.1 s skips 5…14, published 10 s ago at most: well inside the 2 min window.
        var events = Self.normal { $0.removeAll { (5...14).contains($0.offset) } }
        let index = events.firstIndex { $0.timeNanos > 15 * Self.second }!
        events.insert(Event(timeNanos: 15 * Self.second + 100_000_000, .recoveryIncomplete(client: "g-1", last: 4, resumesAt: 15)), at: index)
        let found = self.invariants(events)
        #expect(found.contains(.recoveredFalseInsideWindow))
        #expect(!found.contains(.lost))  // the skip is reported, just not allowed
    }

    @Test func anIncompleteResumeBeyondTheWindowIsAllowed() {
        // Publishes at 1 s … 3 s, then a 3 min silence; the client resumes at 184 s having
        // missed 2 and 3 (published 181 s ago): the window was exceeded, the notice is right.
        let budget = { () -> SwarmBudget in
            var budget = Self.budget()
            budget.healNanos = 183 * Self.second
            budget.budgetNanos = 5 * Self.second
            budget.publishEndNanos = 185 * Self.second
            return budget
        }()
        let events: [Event] = [
            Event(timeNanos: 0, .switchTo(client: "g-1", to: "websocket")),
            Event(timeNanos: 0, .open(client: "g-1", epoch: 7, next: 1)),
            Event(timeNanos: 1 * Self.second, .publish(offset: 1)),
            Event(timeNanos: 1 * Self.second + 1, .deliver(client: "g-1", offset: 1)),
            Event(timeNanos: 2 * Self.second, .publish(offset: 2)),
            Event(timeNanos: 3 * Self.second, .publish(offset: 3)),
            Event(timeNanos: 184 * Self.second, .publish(offset: 4)),
            Event(timeNanos: 184 * Self.second + 100, .recoveryIncomplete(client: "g-1", last: 1, resumesAt: 4)),
            Event(timeNanos: 184 * Self.second + 200, .deliver(client: "g-1", offset: 4)),
        ]
        #expect(SwarmChecker(budget: budget).check(events) == [])
        // Without the notice, the same gap is a loss.
        let silent = events.filter { if case .recoveryIncomplete = $0.what { return false } else { return true } }
        #expect(SwarmChecker(budget: budget).check(silent).map(\.invariant).contains(.lost))
    }

    @Test func aClientOffTheBestTransportAtTheDeadlineIsCaught() {
        // It fell back to SSE at 5 s and never came back, though its path allows WebSocket.
        var events = Self.events()
        events.insert(Event(timeNanos: 5 * Self.second, .switchTo(client: "g-1", to: "sse")), at: 12)
        #expect(self.invariants(events) == [.notOnBestTransport])
        // Behind a proxy that strips Upgrade, SSE is the best, and WebSocket the wrong one.
        #expect(self.invariants(Self.events(), best: "sse") == [.notOnBestTransport])
    }

    @Test func aClientThatDoesNotCatchUpIsCaught() {
        // Everything from offset 8 on arrives at 35 s: after the deadline (10 s + 20 s).
        let events = Self.normal { deliveries in
            for index in deliveries.indices where deliveries[index].offset >= 8 && deliveries[index].atNanos < 35 * Self.second {
                deliveries[index].atNanos = 35 * Self.second + Int64(deliveries[index].offset)
            }
            deliveries.sort { $0.atNanos < $1.atNanos }
        }
        #expect(self.invariants(events) == [.notCaughtUp])
        // A client that stops receiving for good after 20 s holds the messages of the deadline
        // check but not those of the end.
        let stopped = Self.normal { $0.removeAll { $0.offset > 25 } }
        #expect(self.invariants(stopped) == [.notCaughtUp])
    }

    /// Epoch 7: offsets 1…10 published one a second from 1 s, the client holds `oldHeld`. The
    /// server crashes at 10.5 s and is back at 12 s, with its streams (offsets go on from 11)
    /// or in epoch 9 from offset 1; the client is told at 12.5 s (`notice`, nil: not told),
    /// reopens, and gets the server's next 28 messages from `newFrom`, 50 ms after each publish.
    static func restart(persist: Bool, oldHeld: [UInt64] = Array(1...8), notice: UInt64? = 1, newFrom: UInt64? = nil) -> [Event] {
        var events: [Event] = [
            Event(timeNanos: second / 2, .switchTo(client: "g-1", to: "websocket")),
            Event(timeNanos: second / 2, .open(client: "g-1", epoch: 7, next: 1)),
        ]
        for offset in UInt64(1)...10 {
            events.append(Event(timeNanos: Int64(offset) * second, .publish(offset: offset)))
            if oldHeld.contains(offset) { events.append(Event(timeNanos: Int64(offset) * second + 50_000_000, .deliver(client: "g-1", offset: offset))) }
        }
        let base: UInt64 = persist ? 10 : 0
        events.append(Event(timeNanos: 12 * second, .serverStart(epoch: persist ? 7 : 9, next: base + 1)))
        if let notice { events.append(Event(timeNanos: 12 * second + second / 2, .recoveryIncomplete(client: "g-1", last: 8, resumesAt: notice))) }
        events.append(Event(timeNanos: 12 * second + second / 2 + 1, .open(client: "g-1", epoch: persist ? 7 : 9, next: persist ? 9 : 1)))
        // A persisting server replays what the client missed at once.
        if persist {
            for offset in UInt64(9)...10 { events.append(Event(timeNanos: 12 * second + second / 2 + Int64(offset), .deliver(client: "g-1", offset: offset))) }
        }
        for index in UInt64(1)...28 {
            let offset = base + index
            events.append(Event(timeNanos: Int64(12 + index) * second, .publish(offset: offset)))
            if offset >= (newFrom ?? base + 1) { events.append(Event(timeNanos: Int64(12 + index) * second + 50_000_000, .deliver(client: "g-1", offset: offset))) }
        }
        return events
    }

    func restartInvariants(_ events: [Event]) -> [SwarmChecker.Invariant] {
        var budget = Self.budget()
        budget.healNanos = 12 * Self.second
        return SwarmChecker(budget: budget).check(events).map(\.invariant)
    }

    @Test func aNewEpochLosesOnlyWhatTheOldServerNeverDelivered() {
        // Offsets 9 and 10 of epoch 7 never reached the client: lost by design, and told.
        #expect(self.restartInvariants(Self.restart(persist: false)) == [])
        // A hole below what the client held of the old epoch is a loss all the same.
        #expect(self.restartInvariants(Self.restart(persist: false, oldHeld: [1, 2, 3, 5, 6, 7, 8])) == [.lost])
        // The new epoch is owed from its first message: starting at 3 loses 1 and 2 (and the
        // client never holds them) ...
        #expect(self.restartInvariants(Self.restart(persist: false, newFrom: 3)) == [.lost, .notCaughtUp])
        // ... and a notice that skips them, inside the window, is not allowed either.
        #expect(self.restartInvariants(Self.restart(persist: false, notice: 3, newFrom: 3)) == [.recoveredFalseInsideWindow])
    }

    @Test func aWelcomeIntoANewEpochWithoutTheNoticeIsCaught() {
        #expect(self.restartInvariants(Self.restart(persist: false, notice: nil)) == [.epochChangeUnreported])
    }

    @Test func aRestartThatKeepsTheStreamsKeepsTheEpoch() {
        // The same epoch goes on from offset 11: nothing may be lost, and no notice is due.
        #expect(self.restartInvariants(Self.restart(persist: true, notice: nil)) == [])
        // Not replaying 9 and 10 is a loss here: the server still had them.
        let dropped = Self.restart(persist: true, notice: nil).filter { event in
            if case .deliver(_, let offset) = event.what { return offset != 9 && offset != 10 }
            return true
        }
        #expect(self.restartInvariants(dropped).contains(.lost))
    }

    @Test func plantedViolationsInARealTraceAreCaught() throws {
        // A real small swarm run, clean; then the same events with one delivery removed,
        // one repeated, two swapped.
        let scenario = SwarmGenerator.scenario(seed: 3, size: .small)
        let experiment = try scenario.experiment()
        let result = try ExperimentRun(experiment: experiment).execute()
        let events = SwarmTraceReader.events(of: result.trace)
        let checker = SwarmChecker(budget: SwarmBudget(experiment: experiment))
        #expect(checker.check(events) == [])
        let deliveries = events.indices.filter { if case .deliver = events[$0].what { return true } else { return false } }
        try #require(deliveries.count > 20)
        let middle = deliveries[deliveries.count / 2]

        var lost = events
        lost.remove(at: middle)
        #expect(checker.check(lost).map(\.invariant).contains(.lost) || checker.check(lost).map(\.invariant).contains(.notCaughtUp))

        var duplicated = events
        duplicated.insert(events[middle], at: middle + 1)
        #expect(checker.check(duplicated).map(\.invariant).contains(.duplicated))

        var reordered = events
        guard case .deliver(let client, _) = events[middle].what else { return }
        let next = try #require(deliveries.first { index in
            guard index > middle, case .deliver(let other, _) = events[index].what else { return false }
            return other == client
        })
        // The client's delivery at `middle` moves to just after its next one.
        let moved = reordered.remove(at: middle)
        reordered.insert(moved, at: next)
        #expect(checker.check(reordered).map(\.invariant).contains(.reordered))
    }
}

extension Tag {
    /// Swarm testing: generated scenarios, the independent checker, shrinking.
    @Tag static var swarm: Self
}
