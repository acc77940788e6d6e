import NIOCore

/// Upgrade probes and latency switches: a second transport opened beside the open one,
/// switched to only once it is welcomed, resumed from the current cursor and caught up.
///
/// No loss and no duplicates across the switch: the candidate resumes after the last delivered
/// message, both transports feed the one ``DeliveryTracker`` during the overlap (whichever
/// brings an offset first delivers it, the other one's copy is suppressed), and after the switch
/// the old attempt is abandoned, so anything it still had in flight comes again, in order, on
/// the new one.
extension RealtimeManagerStateMachine {
    /// Arms the probe timer when `method` is not the best transport and none is armed.
    mutating func armProbeIfWorse(_ method: TransportMethod, now: NIODeadline) -> [Action] {
        guard self.configuration.autoSwitch, let index = self.order.firstIndex(of: method), index > 0,
            self.timers.deadline(of: .probe) == nil
        else { return [] }
        self.returnProbeDelay = nil
        return [self.arm(.probe, at: now + self.configuration.benchmarkInterval)]
    }

    /// The delay before the probe after a failed one: while looking for the way back after a
    /// fallback on silence, ``returnProbeFirstDelay`` doubling, then `benchmarkInterval`.
    mutating func nextProbeDelay() -> TimeAmount {
        guard let delay = self.returnProbeDelay, delay < self.configuration.benchmarkInterval else {
            self.returnProbeDelay = nil
            return self.configuration.benchmarkInterval
        }
        self.returnProbeDelay = delay * 2
        return delay
    }

    mutating func probeDue(now: NIODeadline) -> [Action] {
        switch self.state {
        case .idle:
            return self.stale()
        case .connecting, .retrying:
            // Not open (reconnecting the same transport): nothing to probe beside. The next
            // open arms the probe again, one interval later.
            return []
        case .open(let run, let connection):
            guard connection.candidate == nil else {
                // A latency switch is in progress; probe again one interval later.
                return [self.arm(.probe, at: now + self.configuration.benchmarkInterval)]
            }
            let ahead = self.order.prefix(while: { $0 != connection.method })
            guard !ahead.isEmpty else { return [] }
            let better = ahead.filter { !self.probesSuspended(of: $0, now: now) }
            guard !better.isEmpty else {
                // Every better transport stalled mid-session on this path lately: look again
                // one interval later.
                return [self.arm(.probe, at: now + self.configuration.benchmarkInterval)]
            }
            // Best first; if it fails the round continues with the next better one.
            return self.startCandidate(run, connection, methods: better, purpose: .upgrade, now: now)
        }
    }

    /// Leaves `method` out of upgrade probes for ``RealtimeManagerConfiguration/rememberFor``.
    ///
    /// Called when the manager falls back from an open transport that went silent twice or
    /// buffered: the path let it open and then stalled it (a proxy that starts holding an
    /// event stream after a while, say). A probe only checks the welcome and the catch-up, which
    /// such a path passes, so probing it would switch back, stall again and fall back again,
    /// with an outage each round. Transports left for failures a probe does notice (refused,
    /// no welcome, no connection) stay probe targets, so a proxy that stops stripping the
    /// upgrade is still found at the next probe.
    mutating func suspendProbes(of method: TransportMethod, now: NIODeadline) {
        self.probeSuspensions[method] = now + self.configuration.rememberFor
    }

    /// True while upgrade probes leave `method` out (see ``suspendProbes(of:now:)``).
    func probesSuspended(of method: TransportMethod, now: NIODeadline) -> Bool {
        guard let until = self.probeSuspensions[method] else { return false }
        return now < until
    }

    /// Opens `methods[0]` beside the open connection, resuming after the last delivered message.
    mutating func startCandidate(
        _ run: Run,
        _ connection: Connection,
        methods: [TransportMethod],
        purpose: Candidate.Purpose,
        now: NIODeadline
    ) -> [Action] {
        let method = methods[0]
        let attempt = self.newAttempt(method)
        var connection = connection
        connection.candidate = Candidate(
            attempt: attempt,
            purpose: purpose,
            remaining: Array(methods.dropFirst()),
            catchUpTo: nil
        )
        self.state = .open(run, connection)
        self.performanceRecords[method].attempts += 1
        self.performanceRecords[method].probes += 1
        return [
            .open(method, attempt.id, resumeFrom: attempt.resumeFrom),
            // Until it connects, a probe gets as long as a transport gets to open at all.
            self.arm(.confirm(attempt.id), at: now + self.configuration.giveUpAfter),
        ]
    }

    mutating func candidateWelcomed(
        _ run: Run,
        _ connection: Connection,
        _ candidate: Candidate,
        _ welcomes: [StreamWelcome],
        now: NIODeadline
    ) -> [Action] {
        guard self.candidateContinues(candidate, welcomes) else {
            // It cannot continue where the open transport is: switching would open a gap.
            return self.candidateFailed(run, connection, candidate, timedOut: false, closedByUs: true, now: now)
        }
        var owed: [(topic: String?, target: StreamCursor)] = []
        for welcome in welcomes {
            guard welcome.live != nil else {
                // A server that does not name its live end: take `next` for it, as before, and
                // count what either transport delivered.
                let target = StreamCursor(epoch: welcome.epoch, offset: welcome.next == 0 ? 0 : welcome.next - 1)
                if let last = self.lastDelivered(welcome.topic), last.epoch == target.epoch, target.offset <= last.offset { continue }
                owed.append((welcome.topic, target))
                continue
            }
            // Nothing published between its cursor and the welcome: the welcome itself came
            // through, and every message after it comes on it, in order. Caught up.
            guard let target = Self.catchUpTarget(epoch: welcome.epoch, next: welcome.next, live: welcome.live) else { continue }
            owed.append((welcome.topic, target))
        }
        guard !owed.isEmpty else { return self.switchToCandidate(run, connection, candidate, now: now) }
        return self.awaitCatchUp(run, connection, candidate, to: CatchUp(owed: owed), now: now)
    }

    /// The probe is welcomed and must bring `target` itself before it takes over.
    private mutating func awaitCatchUp(
        _ run: Run,
        _ connection: Connection,
        _ candidate: Candidate,
        to target: CatchUp,
        now: NIODeadline
    ) -> [Action] {
        // Caught up only once the probe itself brought the live end, even if the open transport
        // delivered those messages meanwhile: a proxy that holds response bodies until it has
        // N bytes releases a welcome with a replay longer than N, then holds the rest.
        var connection = connection
        var candidate = candidate
        candidate.catchUpTo = target
        candidate.lastProgress = now
        connection.candidate = candidate
        self.state = .open(run, connection)
        // The replay must keep coming: one confirm timeout from now, moved on by each message.
        return [self.arm(.confirm(candidate.attempt.id), at: now + self.confirmTimeout(for: candidate.attempt.method))]
    }

    /// The candidate failed (closed, timed out, could not resume): stay, and continue the
    /// upgrade round with the next better transport or wait one interval for the next round.
    mutating func candidateFailed(
        _ run: Run,
        _ connection: Connection,
        _ candidate: Candidate,
        timedOut: Bool,
        closedByUs: Bool,
        now: NIODeadline
    ) -> [Action] {
        let method = candidate.attempt.method
        var actions: [Action] = closedByUs ? [.close(method, candidate.attempt.id)] : []
        actions += self.disarm(.confirm(candidate.attempt.id))
        if timedOut {
            self.performanceRecords[method].confirmTimeouts += 1
        } else {
            self.performanceRecords[method].connectFailures += 1
        }
        var connection = connection
        connection.candidate = nil
        self.state = .open(run, connection)
        switch candidate.purpose {
        case .upgrade:
            if !candidate.remaining.isEmpty {
                return actions + self.startCandidate(run, connection, methods: candidate.remaining, purpose: .upgrade, now: now)
            }
            actions.append(self.arm(.probe, at: now + self.nextProbeDelay()))
        case .latency:
            // Judge a full window of fresh samples before trying again.
            self.latencyWindow.reset()
        }
        return actions
    }

    /// The candidate is welcomed, resumed and caught up: it becomes the open transport and the
    /// old one is closed.
    mutating func switchToCandidate(_ run: Run, _ connection: Connection, _ candidate: Candidate, now: NIODeadline) -> [Action] {
        let old = connection.method
        let new = candidate.attempt.method
        let id = candidate.attempt.id
        var actions: [Action] = [.close(old, connection.id)]
        actions += self.disarm(.heartbeatCheck(connection.id))
        actions += self.disarm(.confirm(connection.id))
        actions += self.disarm(.confirm(id))
        actions += self.disarm(.probe)
        self.recordTimeOpen(connection, until: now)
        self.remember(old, now: now)

        let reason: MethodChangeReason = candidate.purpose == .upgrade ? .upgradeProbeSucceeded : .latencyThreshold
        actions.append(.methodChanged(from: old, to: new, reason: reason))
        self.counters.methodChanges += 1
        self.performanceRecords[new].opens += 1
        self.performanceRecords[new].probesSucceeded += 1
        self.refusedInARow = PerTransport(repeating: false)
        self.lastOpenedMethod = new
        // A switch is not a return from a fallback on silence, and ends the look for the way back.
        self.probeOnNextOpen = false
        self.returnProbeDelay = nil
        var newRun = Run(method: new, troubleSince: now)
        newRun.hasOpened = true
        self.state = .open(
            newRun,
            Connection(id: id, method: new, openedAt: now, heartbeatInterval: self.heartbeatInterval(for: new))
        )
        self.latencyWindow.reset()
        self.remember(new, now: now)
        actions.append(.opened(new, id))
        actions += self.transmitOutbox(on: new, id)
        actions.append(self.arm(.heartbeatCheck(id), at: now + self.heartbeatTimeout(for: new)))
        actions += self.armProbeIfWorse(new, now: now)
        return actions
    }
}
