import NIOCore

/// Starting, stopping, opening attempts, failing, backing off, giving up and falling back.
extension RealtimeManagerStateMachine {
    mutating func start(networkIdentity: String?, now: NIODeadline) -> [Action] {
        switch self.state {
        case .idle:
            break
        case .connecting, .retrying, .open:
            return self.protocolError("start while running")
        }
        self.networkIdentity = networkIdentity
        if let networkIdentity,
            let remembered = self.memory.method(for: networkIdentity, now: now, freshness: self.configuration.rememberFor),
            self.order.contains(remembered)
        {
            return self.beginRun(remembered, change: (nil, .remembered), now: now)
        }
        return self.beginRun(self.order[0], change: (nil, .initial), now: now)
    }

    mutating func stop(now: NIODeadline) -> [Action] {
        var actions: [Action] = []
        switch self.state {
        case .idle:
            // Stopping a stopped manager is harmless: nothing to close.
            return []
        case .connecting(_, let attempt):
            actions.append(.close(attempt.method, attempt.id))
        case .retrying:
            break
        case .open(_, let connection):
            actions.append(.close(connection.method, connection.id))
            if let candidate = connection.candidate {
                actions.append(.close(candidate.attempt.method, candidate.attempt.id))
            }
            self.recordTimeOpen(connection, until: now)
            self.remember(connection.method, now: now)
        }
        actions += self.timers.removeAll().map { .cancelTimer($0) }
        self.state = .idle
        return actions
    }

    // MARK: Runs and attempts

    /// Switches to (or starts on) `method`: a fresh run, an immediate attempt, a give-up deadline.
    /// `change` is nil when the order has a single transport and the "switch" is a fresh run on
    /// the same one (not a method change).
    mutating func beginRun(
        _ method: TransportMethod,
        change: (from: TransportMethod?, reason: MethodChangeReason)?,
        serverDown: Bool = false,
        now: NIODeadline
    ) -> [Action] {
        var actions: [Action] = []
        if let change {
            actions.append(.methodChanged(from: change.from, to: method, reason: change.reason))
            self.counters.methodChanges += 1
        }
        var run = Run(method: method, troubleSince: now)
        run.serverDown = serverDown
        actions += self.openAttempt(run, now: now)
        actions.append(self.arm(.giveUp(method), at: now + self.configuration.giveUpAfter))
        return actions
    }

    /// A new attempt of the run's transport, resuming after the last delivered message.
    mutating func openAttempt(_ run: Run, now: NIODeadline) -> [Action] {
        let attempt = self.newAttempt(run.method)
        self.performanceRecords[run.method].attempts += 1
        self.state = .connecting(run, attempt)
        return [.open(run.method, attempt.id, resumeFrom: attempt.resumeFrom)]
    }

    /// The next transport after `method` in the preference order, wrapping around.
    func method(after method: TransportMethod) -> TransportMethod {
        guard let index = self.order.firstIndex(of: method) else { return self.order[0] }
        return self.order[(index + 1) % self.order.count]
    }

    /// Leaves the run's transport for the next one. The caller has already closed the run's
    /// attempts and disarmed their timers; this disarms the run's own timers.
    ///
    /// When every transport has been refused in a row, there is no next one to find out about:
    /// the server is down. The manager goes back to the transport that last opened (the best
    /// one if none has) and waits for the server there (see ``refusalIsBlock(_:)``).
    mutating func fallBack(from run: Run, reason: MethodChangeReason, now: NIODeadline) -> [Action] {
        var actions = self.disarm(.giveUp(run.method))
        actions += self.disarm(.probe)
        if self.order.allSatisfy({ self.refusedInARow[$0] }) {
            self.refusedInARow = PerTransport(repeating: false)
            let home = self.lastOpenedMethod.flatMap { self.order.contains($0) ? $0 : nil } ?? self.order[0]
            let change = home == run.method ? nil : (from: Optional(run.method), reason: MethodChangeReason.serverDown)
            return actions + self.beginRun(home, change: change, serverDown: true, now: now)
        }
        if Self.fellBackOnSilence(run, reason: reason) { self.probeOnNextOpen = true }
        let next = self.method(after: run.method)
        actions += self.beginRun(next, change: next == run.method ? nil : (run.method, reason), now: now)
        return actions
    }

    /// Whether a fallback left a transport that had opened in the run because nothing answered
    /// any more: it went silent or was lost, and the reconnects got no answer for `giveUpAfter`.
    ///
    /// That is what a network outage longer than the heartbeat timeout looks like (a train in a
    /// tunnel, Wi-Fi that drops out), and also what a firewall that starts DROPping the
    /// transport looks like; the manager cannot tell them apart and falls back. Once the next
    /// transport opens, the network answers again: after an outage the better transport
    /// works again too, and a probe beside the open one finds out at once, instead of leaving
    /// the client on the worse one for `benchmarkInterval` (5 min). Behind a firewall the probe
    /// fails quietly and probes go back to their interval. Transports left for going silent
    /// twice stay out of probes as before (``suspendProbes(of:now:)``); a refusal, a missing
    /// welcome or a buffered stream does not qualify, since the network answered.
    static func fellBackOnSilence(_ run: Run, reason: MethodChangeReason) -> Bool {
        guard run.hasOpened else { return false }
        switch reason {
        case .fallbackHeartbeatLost, .fallbackConnectFailed: return true
        default: return false
        }
    }

    /// Whether refusals of the run's transport mean the network blocks it (fall back at once)
    /// rather than that the server is down (retry it with backoff).
    ///
    /// The rule: refusals say "blocked" only while the transport has not opened in this run and
    /// the server has not been found down. A server that restarts drops its connections and
    /// refuses the reconnects until it listens again; a firewall that REJECTs a port refuses
    /// it from the first connect. So refusals right after a connection of the same transport
    /// are retried with full-jitter backoff until the give-up deadline (a restart is usually
    /// over by then; a rule added mid-session is found then), and from there the manager falls
    /// back as usual. If the other transports are refused too, every transport has been refused
    /// in a row: the server is down, and the manager returns to the transport that last opened
    /// (``fallBack(from:reason:now:)``) and retries only it, with backoff and no give-up, until
    /// something other than a refusal happens. A port blocked on its own still falls back after
    /// two refusals, because another transport of the same server then answers.
    func refusalIsBlock(_ run: Run) -> Bool {
        !run.hasOpened && !run.serverDown
    }

    // MARK: Before the welcome

    mutating func connected(_ id: AttemptID, now: NIODeadline) -> [Action] {
        switch self.state {
        case .idle, .retrying:
            return self.stale()
        case .connecting(let run, var attempt):
            guard attempt.id == id else { return self.stale() }
            guard !attempt.connected else { return self.protocolError("connected twice on \(id)") }
            attempt.connected = true
            self.state = .connecting(run, attempt)
            return [self.arm(.confirm(id), at: now + self.confirmTimeoutOnConnect(for: attempt.method))]
        case .open(let run, var connection):
            if connection.id == id { return self.protocolError("connected after the welcome on \(id)") }
            guard var candidate = connection.candidate, candidate.attempt.id == id else { return self.stale() }
            guard !candidate.attempt.connected else { return self.protocolError("connected twice on \(id)") }
            candidate.attempt.connected = true
            connection.candidate = candidate
            self.state = .open(run, connection)
            // The probe's deadline shrinks from "connect within giveUpAfter" to the confirm timeout.
            return [self.arm(.confirm(id), at: now + self.confirmTimeoutOnConnect(for: candidate.attempt.method))]
        }
    }

    mutating func welcomeReceived(_ id: AttemptID, _ welcomes: [StreamWelcome], now: NIODeadline) -> [Action] {
        switch self.state {
        case .idle, .retrying:
            return self.stale()
        case .connecting(let run, let attempt):
            guard attempt.id == id else { return self.stale() }
            return self.primaryOpened(run, attempt, welcomes, now: now)
        case .open(let run, let connection):
            if connection.id == id { return self.protocolError("second welcome on \(id)") }
            guard let candidate = connection.candidate, candidate.attempt.id == id else { return self.stale() }
            return self.candidateWelcomed(run, connection, candidate, welcomes, now: now)
        }
    }

    /// The newest offset a welcome's replay runs up to, when it names a replay (`next` below the
    /// live end); nil when nothing comes before live messages, or the server does not say.
    static func catchUpTarget(epoch: UInt64, next: UInt64, live: UInt64?) -> StreamCursor? {
        guard let live, next < live else { return nil }
        return StreamCursor(epoch: epoch, offset: live - 1)
    }

    /// The attempt's welcome arrived: it is the open transport now.
    private mutating func primaryOpened(_ run: Run, _ attempt: Attempt, _ welcomes: [StreamWelcome], now: NIODeadline) -> [Action] {
        var actions = self.disarm(.confirm(attempt.id))
        actions += self.disarm(.giveUp(run.method))
        var run = run
        run.failures = 0
        // Refusals count in a row: an open ends the row (a refusal an hour later is a new one).
        run.refusals = 0
        run.hasOpened = true
        run.serverDown = false
        // A welcome under another epoch than the stream had: the server restarted, so a
        // connection that went silent before this one died with the server, not because the
        // path eats the transport. Such losses no longer count toward the fallback.
        if welcomes.contains(where: { welcome in self.lastDelivered(welcome.topic).map { $0.epoch != welcome.epoch } ?? false }) {
            run.heartbeatLosses = 0
        }
        self.refusedInARow = PerTransport(repeating: false)
        self.lastOpenedMethod = attempt.method
        // `troubleSince` stays: a connection that dies before it is stable continues the same
        // stretch of trouble (see `connectionEnded`).
        let interval = self.heartbeatInterval(for: attempt.method)
        var connection = Connection(id: attempt.id, method: attempt.method, openedAt: now, heartbeatInterval: interval)
        // A welcome that names a replay opens the transport, but the replay must then reach the
        // live end on it: a proxy that holds response bodies until it has N bytes lets a
        // welcome through when the replay behind it is longer than N, and holds the rest.
        connection.catchUpTo = CatchUp(welcomes)
        self.state = .open(run, connection)
        self.performanceRecords[attempt.method].opens += 1
        self.latencyWindow.reset()
        self.remember(attempt.method, now: now)
        actions.append(.opened(attempt.method, attempt.id))
        actions += self.transmitOutbox(on: attempt.method, attempt.id)
        for welcome in welcomes {
            actions += self.acceptWelcome(welcome.topic, epoch: welcome.epoch, next: welcome.next, recovered: welcome.recovered)
        }
        actions.append(self.arm(.heartbeatCheck(attempt.id), at: now + self.heartbeatTimeout(for: attempt.method)))
        if connection.catchUpTo != nil {
            actions.append(self.arm(.confirm(attempt.id), at: now + self.confirmTimeout(for: attempt.method)))
        }
        if self.probeOnNextOpen {
            // Back after falling back on silence: look at the better transports now, and if
            // they are not back yet, again after 15 s, 30 s, … (``nextProbeDelay()``).
            self.probeOnNextOpen = false
            if self.configuration.autoSwitch, let index = self.order.firstIndex(of: attempt.method), index > 0 {
                self.returnProbeDelay = Self.returnProbeFirstDelay
                return actions + self.disarm(.probe) + self.probeDue(now: now)
            }
        }
        actions += self.armProbeIfWorse(attempt.method, now: now)
        return actions
    }

    /// The attempt ended before its welcome: closed by itself (`closedByUs` false), timed out
    /// waiting for the welcome, or abandoned at the give-up deadline.
    mutating func primaryFailed(
        _ run: Run,
        _ attempt: Attempt,
        confirmTimedOut: Bool,
        closedByUs: Bool,
        now: NIODeadline
    ) -> [Action] {
        var actions: [Action] = closedByUs ? [.close(attempt.method, attempt.id)] : []
        actions += self.disarm(.confirm(attempt.id))
        var run = run
        if run.refusals == 0 {
            // A failure of another kind: the server answers or the path loses packets, so the
            // row of refusals (and a verdict of "server down" drawn from it) ends here.
            self.refusedInARow = PerTransport(repeating: false)
            if run.serverDown {
                run.serverDown = false
                run.troubleSince = now
            }
        }
        if confirmTimedOut {
            self.performanceRecords[attempt.method].confirmTimeouts += 1
            // The path accepts connections but does not pass the stream: a property of the
            // network, not a transient failure, so retrying the same transport only loses time.
            if self.configuration.autoSwitch {
                return actions + self.fallBack(from: run, reason: .fallbackConfirmTimeout, now: now)
            }
        } else {
            self.performanceRecords[attempt.method].connectFailures += 1
        }
        run.giveUpReason = confirmTimedOut ? .fallbackConfirmTimeout : .fallbackConnectFailed
        return actions + self.retryLater(run, after: attempt.id, now: now)
    }

    /// Backs off before the next attempt of the run's transport; the give-up deadline keeps
    /// running (or, without `autoSwitch`, restarts once it has passed).
    mutating func retryLater(_ run: Run, after failed: AttemptID, now: NIODeadline) -> [Action] {
        var run = run
        run.failures += 1
        let giveUpAt = run.troubleSince + self.configuration.giveUpAfter
        if giveUpAt <= now && !run.serverDown {
            if self.configuration.autoSwitch {
                return self.fallBack(from: run, reason: run.giveUpReason, now: now)
            }
            run.troubleSince = now
        }
        let delay = self.configuration.backoff.delay(retry: run.failures - 1, using: &self.random)
        self.state = .retrying(run, after: failed)
        var actions = [self.arm(.retry(after: failed), at: now + delay)]
        let deadline = run.troubleSince + self.configuration.giveUpAfter
        if self.timers.deadline(of: .giveUp(run.method)) != deadline {
            actions.append(self.arm(.giveUp(run.method), at: deadline))
        }
        return actions
    }

    mutating func retryDue(after failed: AttemptID, now: NIODeadline) -> [Action] {
        switch self.state {
        case .retrying(let run, let after) where after == failed:
            return self.openAttempt(run, now: now)
        case .idle, .connecting, .retrying, .open:
            return self.stale()
        }
    }

    /// The run's transport has failed for `giveUpAfter`.
    mutating func giveUpDue(_ method: TransportMethod, now: NIODeadline) -> [Action] {
        switch self.state {
        case .connecting(var run, let attempt) where run.method == method && run.serverDown:
            // The server is down: a hung connect is cut short and retried, never given up on.
            self.performanceRecords[method].connectFailures += 1
            run.troubleSince = now
            return [.close(attempt.method, attempt.id)] + self.disarm(.confirm(attempt.id)) + self.retryLater(run, after: attempt.id, now: now)
        case .retrying(var run, let failed) where run.method == method && run.serverDown:
            run.troubleSince = now
            self.state = .retrying(run, after: failed)
            return [self.arm(.giveUp(method), at: now + self.configuration.giveUpAfter)]
        case .connecting(var run, let attempt) where run.method == method:
            self.performanceRecords[method].connectFailures += 1
            var actions: [Action] = [.close(attempt.method, attempt.id)]
            actions += self.disarm(.confirm(attempt.id))
            if self.configuration.autoSwitch {
                return actions + self.fallBack(from: run, reason: run.giveUpReason, now: now)
            }
            // Without switching, the deadline only cuts a hung attempt short; try again.
            run.troubleSince = now
            return actions + self.retryLater(run, after: attempt.id, now: now)
        case .retrying(var run, let failed) where run.method == method:
            if self.configuration.autoSwitch {
                return self.disarm(.retry(after: failed)) + self.fallBack(from: run, reason: run.giveUpReason, now: now)
            }
            run.troubleSince = now
            self.state = .retrying(run, after: failed)
            return [self.arm(.giveUp(method), at: now + self.configuration.giveUpAfter)]
        case .idle, .connecting, .retrying, .open:
            return self.stale()
        }
    }

    mutating func confirmExpired(_ id: AttemptID, now: NIODeadline) -> [Action] {
        switch self.state {
        case .connecting(var run, let attempt) where attempt.id == id:
            run.refusals = 0
            return self.primaryFailed(run, attempt, confirmTimedOut: true, closedByUs: true, now: now)
        case .open(let run, let connection):
            if connection.id == id { return self.catchUpDue(run, connection, now: now) }
            guard let candidate = connection.candidate, candidate.attempt.id == id else { return self.stale() }
            if candidate.catchUpTo != nil, let progress = candidate.lastProgress {
                // Catching up: it fails only once the replay stopped coming for a confirm timeout.
                let deadline = progress + self.confirmTimeout(for: candidate.attempt.method)
                if now < deadline { return [self.arm(.confirm(id), at: deadline)] }
            }
            let timedOut = candidate.attempt.connected
            return self.candidateFailed(run, connection, candidate, timedOut: timedOut, closedByUs: true, now: now)
        case .idle, .connecting, .retrying:
            return self.stale()
        }
    }

    mutating func closed(_ id: AttemptID, cause: TransportCloseCause, now: NIODeadline) -> [Action] {
        switch self.state {
        case .connecting(var run, let attempt) where attempt.id == id:
            if cause == .refused {
                run.refusals += 1
                self.refusedInARow[attempt.method] = true
                // An answer of RST is definite: the port is closed or a firewall rejects it.
                // A second one in a row is enough to move on, without waiting to give up,
                // unless the refusals say the server is down rather than the transport blocked.
                if self.configuration.autoSwitch && run.refusals >= self.configuration.refusalsBeforeFallback && self.refusalIsBlock(run) {
                    self.performanceRecords[attempt.method].connectFailures += 1
                    return self.disarm(.confirm(attempt.id)) + self.fallBack(from: run, reason: .fallbackConnectRefused, now: now)
                }
                return self.primaryFailed(run, attempt, confirmTimedOut: false, closedByUs: false, now: now)
            }
            // Another kind of failure breaks the row of refusals.
            run.refusals = 0
            return self.primaryFailed(run, attempt, confirmTimedOut: false, closedByUs: false, now: now)
        case .open(let run, let connection):
            if connection.id == id {
                let ending: ConnectionEnding
                switch cause {
                case .failed, .lost, .refused: ending = .lost
                case .closedByServer: ending = .closedByServer
                case .heartbeatTimeout: ending = .heartbeatLost
                }
                return self.connectionEnded(run, connection, ending, closedByUs: false, now: now)
            }
            guard let candidate = connection.candidate, candidate.attempt.id == id else { return self.stale() }
            return self.candidateFailed(run, connection, candidate, timedOut: false, closedByUs: false, now: now)
        case .idle, .connecting, .retrying:
            return self.stale()
        }
    }
}
