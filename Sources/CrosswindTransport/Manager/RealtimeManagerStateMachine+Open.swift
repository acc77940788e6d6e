import NIOCore

/// The open transport: delivery, liveness, buffering detection, latency, and its end.
extension RealtimeManagerStateMachine {
    /// How an open connection ended.
    enum ConnectionEnding: Sendable {
        /// Closed by the server (or a middlebox in its name).
        case closedByServer
        /// Broke without a close.
        case lost
        /// Nothing arrived for the heartbeat timeout (the machine's check or the transport's own).
        case heartbeatLost
        /// Heartbeats kept arriving late: the stream is buffered somewhere.
        case buffering
        /// Messages kept arriving in held bursts after the catch-up: the stream is buffered somewhere.
        case heldInBursts
        /// Messages kept arriving far behind their publication: alive, but of no use.
        case behind
        /// The replay its welcome announced stopped short of the live end for a confirm timeout.
        case catchUpStalled
    }

    // MARK: Delivery

    /// Aligns the delivery position with a welcome of the open transport; reports a resume the
    /// server could not complete.
    mutating func acceptWelcome(_ topic: String?, epoch: UInt64, next: UInt64, recovered: Bool) -> [Action] {
        guard let last = self.lastDelivered(topic) else {
            // First welcome ever: start at the live end.
            self.withTracker(topic) { $0.expect(epoch: epoch, next: next) }
            return []
        }
        if last.epoch == epoch && recovered { return [] }
        // The server cannot replay what followed `last` (retention exceeded) or its history
        // restarted under a new epoch: say so, and continue from where the stream resumes.
        // Within one epoch the position never moves back, so nothing is delivered twice.
        let resumesAt = StreamCursor(epoch: epoch, offset: next)
        let before = next == 0 ? 0 : next - 1
        let newLast = last.epoch == epoch ? max(last.offset, before) : before
        self.withTracker(topic) { $0 = DeliveryTracker(last: StreamCursor(epoch: epoch, offset: newLast)) }
        self.counters.recoveriesIncomplete += 1
        return [.recoveryIncomplete(lastDelivered: last, resumesAt: resumesAt, topic: topic)]
    }

    /// Passes a message of an open transport (or a welcomed probe) through the tracker.
    mutating func deliver(_ message: RealtimeMessage, via method: TransportMethod) -> [Action] {
        let topic = self.trackerKey(of: message)
        let previous = self.lastDelivered(topic)
        switch self.withTracker(topic, { $0.accept(epoch: message.epoch, offset: message.offset) }) {
        case .deliver:
            self.recordDelivery(via: method)
            return [.deliver(message)]
        case .deliverAfterGap(let missing):
            self.recordDelivery(via: method)
            self.counters.missing += missing
            return [.gap(missing: missing), .deliver(message)]
        case .newEpoch:
            // A message of another epoch without a welcome saying so: the server's history was
            // reset under the connection. Never a silent gap.
            self.recordDelivery(via: method)
            self.counters.recoveriesIncomplete += 1
            let notice = previous.map { Action.recoveryIncomplete(lastDelivered: $0, resumesAt: message.cursor, topic: topic) }
            return (notice.map { [$0] } ?? []) + [.deliver(message)]
        case .duplicate:
            self.counters.duplicatesSuppressed += 1
            self.performanceRecords[method].duplicatesSuppressed += 1
            return []
        }
    }

    private mutating func recordDelivery(via method: TransportMethod) {
        self.counters.delivered += 1
        self.performanceRecords[method].messagesDelivered += 1
    }

    mutating func messageReceived(_ id: AttemptID, _ message: RealtimeMessage, now: NIODeadline) -> [Action] {
        switch self.state {
        case .connecting(_, let attempt) where attempt.id == id:
            // Without a welcome the position of the stream is unknown; transports send the
            // welcome first, so this is a glue bug. The message is not lost: the next attempt
            // resumes from the last delivered cursor.
            return self.protocolError("message before the welcome on \(id)")
        case .open(let run, var connection):
            if connection.id == id {
                connection.lastHeard = now
                var actions: [Action] = []
                if var target = connection.catchUpTo {
                    connection.lastProgress = now
                    if target.reached(by: message) {
                        // It brought the live end (of every topic) itself: caught up.
                        connection.catchUpTo = nil
                        actions += self.disarm(.confirm(id))
                    } else {
                        connection.catchUpTo = target
                    }
                }
                self.state = .open(run, connection)
                return actions + self.deliver(message, via: connection.method)
            }
            guard var candidate = connection.candidate, candidate.attempt.id == id else { return self.stale() }
            guard var target = candidate.catchUpTo else {
                return self.protocolError("message before the welcome on probe \(id)")
            }
            var actions = self.deliver(message, via: candidate.attempt.method)
            if target.reached(by: message) {
                actions += self.switchToCandidate(run, connection, candidate, now: now)
            } else {
                candidate.catchUpTo = target
                candidate.lastProgress = now
                connection.candidate = candidate
                self.state = .open(run, connection)
            }
            return actions
        case .idle, .connecting, .retrying:
            return self.stale()
        }
    }

    // MARK: Liveness

    /// A heartbeat of the open transport: liveness, and lateness for buffering detection.
    ///
    /// Heartbeats come on a fixed cadence (the server's SSE comments, the pongs to the glue's
    /// pings, both every `heartbeatInterval` from the open). A heartbeat more than
    /// `heartbeatGrace` after its slot on that cadence is *late*; with no traffic at all the
    /// liveness check would have fired first, so a late heartbeat means messages kept flowing
    /// while something held the stream and released it in bursts. A normally spaced on-time
    /// heartbeat (its gap since the previous one at least `interval - grace`) clears the
    /// strikes; a burst's tightly packed heartbeats do not clear the strike of the first one.
    /// So does the stream flowing after a late heartbeat (with ``RealtimeManagerConfiguration/burstHold``
    /// set): a message that is not late and was published after the late heartbeat arrived
    /// (``BurstRecord/flows(since:latency:now:hold:)``), which a buffer never lets through
    /// before its next release. A lossy link (a segment retransmitted after a backed-off
    /// timeout) or an outage's backlog makes a heartbeat late too, and the stream then flows;
    /// without this, two such delays hours apart would count as a buffering path.
    /// Heartbeats well ahead of their slot are neutral, except that one not packed in a burst
    /// (at least `grace` after the previous one) moves the slots to itself: the path got
    /// faster since the open anchored them.
    ///
    /// Only SSE is judged. Its heartbeats are comment lines the server writes into the same
    /// response body as the messages, so a late one while messages flowed means the body was
    /// held. Custom Sync is exempt: each poll response is complete by construction (and comes
    /// every `syncInterval`); a slow poll is the liveness check's business. WebSocket is exempt
    /// too: its heartbeat is the pong to the client's own ping, so a late pong measures the
    /// ping's trip upstream as well. On a lossy or intermittent radio link a ping lost in a gap
    /// waits for TCP's backed-off retransmission (RFC 6298 keeps the doubled timeout until a
    /// fresh sample), so pongs come late twice in a row while messages keep arriving on time;
    /// that is not a buffering path, and SSE would send its client messages up the same path.
    /// After the 101 a proxy relays the WebSocket as opaque bytes, so the response buffering
    /// this looks for does not apply; a WebSocket that goes silent fails the liveness check.
    mutating func heartbeat(_ id: AttemptID, now: NIODeadline) -> [Action] {
        switch self.state {
        case .connecting(_, let attempt) where attempt.id == id:
            // Before the welcome (an SSE prelude comment, say) the confirm timeout governs.
            return []
        case .open(let run, var connection):
            guard connection.id == id else {
                // A probe's heartbeats are not tracked: its confirm deadline bounds it.
                if let candidate = connection.candidate, candidate.attempt.id == id { return [] }
                return self.stale()
            }
            connection.lastHeard = now
            let interval = self.configuration.heartbeatInterval
            let grace = self.configuration.heartbeatGrace
            let due = connection.expectedHeartbeat
            switch connection.method {
            case .sync, .websocket:
                break
            case .sse:
                if now < due - grace {
                    // Early: ahead of its slot. Unless it came packed with the previous one (a
                    // burst), the slots were anchored late (a welcome that crossed a slow path
                    // that has since become fast, so the server's cadence runs ahead of the
                    // open's): they move to it, or every later heartbeat would look late by
                    // the difference. (A cadence shorter than configured keeps moving them, and
                    // is never late.)
                    if now - connection.lastHeartbeat >= grace {
                        connection.expectedHeartbeat = now + interval
                    }
                } else if now > due + grace {
                    connection.expectedHeartbeat = due + interval
                    connection.lateHeartbeats += 1
                    connection.lateHeartbeatAt = now
                    if connection.lateHeartbeats >= max(1, self.configuration.bufferingStrikes) {
                        return self.connectionEnded(run, connection, .buffering, closedByUs: true, now: now)
                    }
                } else {
                    connection.expectedHeartbeat = due + interval
                    if now - connection.lastHeartbeat >= interval - grace {
                        connection.lateHeartbeats = 0
                    }
                }
            }
            connection.lastHeartbeat = now
            self.state = .open(run, connection)
            return []
        case .idle, .connecting, .retrying:
            return self.stale()
        }
    }

    /// The open transport's stream continued in a new response: the server's heartbeats now
    /// come on a cadence anchored here, so the slots move with it. Judged against the old
    /// slots, the new cadence would look late (or early) by however far its phase moved, and
    /// two such continuations would read as a buffering path. The moment counts as traffic
    /// and as a normally spaced heartbeat; strikes already counted stay.
    mutating func streamContinued(_ id: AttemptID, now: NIODeadline) -> [Action] {
        switch self.state {
        case .open(let run, var connection):
            guard connection.id == id else {
                if let candidate = connection.candidate, candidate.attempt.id == id { return [] }
                return self.stale()
            }
            connection.lastHeard = now
            connection.lastHeartbeat = now
            connection.expectedHeartbeat = now + self.heartbeatInterval(for: connection.method)
            self.state = .open(run, connection)
            return []
        case .connecting(_, let attempt) where attempt.id == id:
            return self.protocolError("stream continued before the welcome on \(id)")
        case .idle, .connecting, .retrying:
            return self.stale()
        }
    }

    /// The catch-up deadline of the open connection (its `.confirm` timer after a welcome that
    /// named a replay). Moved forward lazily while the replay keeps coming; once it has stopped
    /// short of the live end for a confirm timeout, the connection is of no use.
    mutating func catchUpDue(_ run: Run, _ connection: Connection, now: NIODeadline) -> [Action] {
        guard connection.catchUpTo != nil else { return self.stale() }
        let deadline = connection.lastProgress + self.confirmTimeout(for: connection.method)
        if now < deadline { return [self.arm(.confirm(connection.id), at: deadline)] }
        return self.connectionEnded(run, connection, .catchUpStalled, closedByUs: true, now: now)
    }

    /// The liveness timer. It is armed once per open connection and moved forward lazily (one
    /// re-arm per timeout at most), not re-armed on every message.
    mutating func heartbeatCheckDue(_ id: AttemptID, now: NIODeadline) -> [Action] {
        guard case .open(let run, let connection) = self.state, connection.id == id else { return self.stale() }
        let deadline = connection.lastHeard + self.heartbeatTimeout(for: connection.method)
        if now < deadline {
            return [self.arm(.heartbeatCheck(id), at: deadline)]
        }
        return self.connectionEnded(run, connection, .heartbeatLost, closedByUs: true, now: now)
    }

    // MARK: Latency

    mutating func latencySample(_ id: AttemptID, _ latency: TimeAmount, now: NIODeadline) -> [Action] {
        switch self.state {
        case .connecting(let run, let attempt) where attempt.id == id:
            self.performanceRecords[run.method].latency.record(latency)
            return []
        case .open(let run, let connection):
            guard connection.id == id else {
                guard let candidate = connection.candidate, candidate.attempt.id == id else { return self.stale() }
                self.performanceRecords[candidate.attempt.method].latency.record(latency)
                return []
            }
            self.performanceRecords[connection.method].latency.record(latency)
            var connection = connection
            if let limit = self.configuration.behindLatency, latency > limit {
                let since = connection.behindSince ?? now
                if now - since >= self.configuration.behindFor {
                    return self.connectionEnded(run, connection, .behind, closedByUs: true, now: now)
                }
                connection.behindSince = since
            } else {
                connection.behindSince = nil
            }
            if connection.method == .sse, let hold = self.configuration.burstHold {
                let releases = connection.bursts.record(
                    latency: latency,
                    now: now,
                    openedAt: connection.openedAt,
                    hold: hold,
                    within: self.heartbeatTimeout(for: .sse),
                    judge: connection.catchUpTo == nil
                )
                if releases >= max(1, self.configuration.bufferingStrikes) {
                    return self.connectionEnded(run, connection, .heldInBursts, closedByUs: true, now: now)
                }
                if connection.lateHeartbeats > 0, let lateAt = connection.lateHeartbeatAt,
                    connection.bursts.flows(since: lateAt, latency: latency, now: now, hold: hold)
                {
                    // The stream flows since that late heartbeat: what held it was the path
                    // (segments lost on a lossy link, an outage's backlog), not a buffer.
                    connection.lateHeartbeats = 0
                }
            }
            self.state = .open(run, connection)
            self.latencyWindow.record(latency)
            guard self.configuration.autoSwitch, let threshold = self.configuration.latencyThreshold,
                connection.candidate == nil, self.latencyWindow.isFull,
                let median = self.latencyWindow.median, median > threshold,
                let index = self.order.firstIndex(of: connection.method), index + 1 < self.order.count
            else { return [] }
            // Make before break: the next transport opens beside this one and takes over once
            // it has caught up, like an upgrade probe. The last transport has no "next".
            return self.startCandidate(run, connection, methods: [self.order[index + 1]], purpose: .latency, now: now)
        case .idle, .connecting, .retrying:
            return self.stale()
        }
    }

    // MARK: The end of an open connection

    /// The open connection ended. Decides between reconnecting the same transport (at once
    /// after a stable connection, with backoff after a short-lived one) and falling back.
    mutating func connectionEnded(
        _ run: Run,
        _ connection: Connection,
        _ ending: ConnectionEnding,
        closedByUs: Bool,
        now: NIODeadline
    ) -> [Action] {
        var actions: [Action] = closedByUs ? [.close(connection.method, connection.id)] : []
        actions += self.disarm(.heartbeatCheck(connection.id))
        actions += self.disarm(.confirm(connection.id))
        if let candidate = connection.candidate {
            // A probe only makes sense beside a working transport; the next open re-arms it.
            actions.append(.close(candidate.attempt.method, candidate.attempt.id))
            actions += self.disarm(.confirm(candidate.attempt.id))
        }
        self.recordTimeOpen(connection, until: now)
        self.remember(connection.method, now: now)
        var run = run
        switch ending {
        case .heartbeatLost:
            self.performanceRecords[connection.method].heartbeatLosses += 1
            if connection.method == .websocket, let floor = self.configuration.heartbeatFloor, self.webSocketHeartbeatInterval > floor {
                // Died quiet between two pings: ping more often and try again (see `heartbeatFloor`).
                self.webSocketHeartbeatInterval = max(floor, .nanoseconds(self.webSocketHeartbeatInterval.nanoseconds / 2))
                break
            }
            run.heartbeatLosses += 1
            if self.configuration.autoSwitch && run.heartbeatLosses >= max(1, self.configuration.heartbeatLossesBeforeFallback) {
                self.suspendProbes(of: connection.method, now: now)
                return actions + self.fallBack(from: run, reason: .fallbackHeartbeatLost, now: now)
            }
        case .buffering, .heldInBursts:
            self.performanceRecords[connection.method].bufferingDetections += 1
            if self.configuration.autoSwitch {
                // A probe checks the welcome and the catch-up, which a path that buffers an
                // open stream can pass; leave the transport out until `rememberFor` has passed.
                self.suspendProbes(of: connection.method, now: now)
                let reason: MethodChangeReason = ending == .buffering ? .fallbackBuffering : .fallbackStreamHeld
                return actions + self.fallBack(from: run, reason: reason, now: now)
            }
        case .catchUpStalled:
            // Like a welcome that never came: the path lets the transport open but holds its
            // stream, a property of the network, so retrying the same transport only loses time.
            self.performanceRecords[connection.method].streamsBehind += 1
            if self.configuration.autoSwitch {
                return actions + self.fallBack(from: run, reason: .fallbackCatchUpStalled, now: now)
            }
        case .behind:
            // A fresh connection often cures it (a new TCP connection starts without the old
            // one's backed-off retransmission timer); a second time, the path is the problem.
            self.performanceRecords[connection.method].streamsBehind += 1
            run.behindEndings += 1
            if self.configuration.autoSwitch && run.behindEndings >= 2 {
                return actions + self.fallBack(from: run, reason: .fallbackStreamBehind, now: now)
            }
        case .closedByServer, .lost:
            self.performanceRecords[connection.method].closedAfterOpen += 1
        }
        switch ending {
        case .closedByServer: run.giveUpReason = .transportClosedByServer
        case .lost: run.giveUpReason = .fallbackConnectFailed
        case .heartbeatLost: run.giveUpReason = .fallbackHeartbeatLost
        case .buffering: run.giveUpReason = .fallbackBuffering
        case .heldInBursts: run.giveUpReason = .fallbackStreamHeld
        case .behind: run.giveUpReason = .fallbackStreamBehind
        case .catchUpStalled: run.giveUpReason = .fallbackCatchUpStalled
        }
        if now - connection.openedAt >= self.configuration.giveUpAfter {
            // A stable connection ended (stream recycling, a server restart, one dropped
            // connection): a fresh stretch with a fresh give-up window, and the first backoff
            // step (full jitter up to the backoff's base), so the clients of a restarted
            // server do not all come back in the same instant.
            run.troubleSince = now
            run.failures = 0
        }
        // Otherwise it died young: part of the same stretch of trouble as whatever came before.
        return actions + self.retryLater(run, after: connection.id, now: now)
    }
}
