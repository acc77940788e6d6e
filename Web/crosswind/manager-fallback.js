// When a transport fails or goes silent: confirm timeouts, backoff, the give-up deadline,
// heartbeats, and falling back to the next transport. Methods of RealtimeCommunicationManager
// (installed by manager.js).

import { REASONS } from "./options.js";
import { backoffCeiling } from "./timers.js";

export const fallback = {
  confirmTimeout(method) {
    const floor = method === "sync" ? this.options.syncConfirmTimeoutFloor : this.options.confirmTimeoutFloor;
    const rtt = this.rtt === null ? this.options.initialRtt : this.rtt;
    return Math.max(floor, this.options.confirmRttMultiplier * rtt);
  },

  /** Full jitter: a random delay up to the exponential ceiling of the `retry`-th backoff. */
  backoffDelay(retry) {
    const { base, cap } = this.options.backoff;
    return this.env.random() * backoffCeiling(base, cap, retry);
  },

  onClosed(attempt, cause, detail) {
    attempt.transport.close();
    if (detail) this.reportError(`${attempt.method}: ${detail}`);
    if (attempt === this.candidate) {
      this.candidateFailed(attempt, false);
      return;
    }
    if (this.state === "open") {
      const ending = cause === "closedByServer" ? "closedByServer" : cause === "heartbeatLost" ? "heartbeatLost" : "lost";
      this.connectionEnded(attempt, ending);
      return;
    }
    // It ended before its welcome.
    const perf = this.perf[attempt.method];
    if (cause === "refused") {
      perf.refused += 1;
      this.run.refusals += 1;
      this.refusedInARow.add(attempt.method);
      // An immediate answer of "no" (a closed port, a REJECT, a rejected upgrade); the second in
      // a row is enough, unless the refusals say the server is down rather than the transport blocked.
      if (this.options.autoSwitch && this.run.refusals >= this.options.refusalsBeforeFallback && this.refusalIsBlock()) {
        perf.failures += 1;
        this.timers.disarm(`confirm:${attempt.id}`);
        this.primary = null;
        this.fallBack(REASONS.fallbackConnectRefused);
        return;
      }
    } else {
      this.run.refusals = 0;
    }
    this.primaryFailed(attempt, false);
  },

  /** The attempt ended before its welcome: closed by itself, or timed out waiting for it. */
  primaryFailed(attempt, confirmTimedOut) {
    this.dropAttempt(attempt);
    this.primary = null;
    const perf = this.perf[attempt.method];
    perf.failures += 1;
    if (confirmTimedOut) this.run.refusals = 0;
    if (this.run.refusals === 0) {
      // A failure of another kind: the server answers or the path loses packets, so the row of
      // refusals (and a verdict of "server down" drawn from it) ends here.
      this.refusedInARow.clear();
      if (this.run.serverDown) {
        this.run.serverDown = false;
        this.run.troubleSince = this.now();
      }
    }
    if (confirmTimedOut) {
      perf.confirmTimeouts += 1;
      // The path accepts connections but does not pass the stream: a property of the network.
      if (this.options.autoSwitch) {
        this.fallBack(REASONS.fallbackConfirmTimeout);
        return;
      }
    }
    this.run.giveUpReason = confirmTimedOut ? REASONS.fallbackConfirmTimeout : REASONS.fallbackConnectFailed;
    this.retryLater();
  },

  /** Backs off before the next attempt of the run's transport; falls back once the give-up deadline passed. */
  retryLater() {
    const now = this.now();
    const run = this.run;
    run.failures += 1;
    if (run.troubleSince + this.options.giveUpAfter <= now && !run.serverDown) {
      if (this.options.autoSwitch) {
        this.fallBack(run.giveUpReason);
        return;
      }
      run.troubleSince = now;
    }
    this.state = "retrying";
    this.timers.arm("retry", now + this.backoffDelay(run.failures - 1), () => {
      if (this.state === "retrying") this.openAttempt();
    });
    if (this.timers.deadline("giveUp") !== run.troubleSince + this.options.giveUpAfter) this.armGiveUp(run.troubleSince);
  },

  giveUpDue() {
    const run = this.run;
    if (!run) return;
    const now = this.now();
    if (run.serverDown) {
      // The server is down: a hung connect is cut short and retried, never given up on.
      run.troubleSince = now;
      if (this.state === "connecting" && this.primary) {
        this.dropAttempt(this.primary);
        this.perf[this.primary.method].failures += 1;
        this.primary = null;
        this.retryLater();
      } else {
        this.armGiveUp(now);
      }
      return;
    }
    if (this.state === "connecting" && this.primary) {
      const attempt = this.primary;
      this.dropAttempt(attempt);
      this.perf[attempt.method].failures += 1;
      this.primary = null;
      if (this.options.autoSwitch) {
        this.fallBack(run.giveUpReason);
        return;
      }
      // Without switching, the deadline only cuts a hung attempt short.
      run.troubleSince = now;
      this.retryLater();
    } else if (this.state === "retrying") {
      if (this.options.autoSwitch) {
        this.fallBack(run.giveUpReason);
        return;
      }
      run.troubleSince = now;
      this.armGiveUp(now);
    }
  },

  confirmExpired(attempt) {
    if (attempt === this.primary && this.state === "connecting") {
      this.primaryFailed(attempt, true);
    } else if (attempt === this.primary && this.state === "open") {
      this.catchUpDue(attempt);
    } else if (attempt === this.candidate) {
      // Catching up: it fails only once the replay stopped coming for a confirm timeout.
      if (attempt.catchUpTo && this.stillCatchingUp(attempt)) return;
      this.candidateFailed(attempt, attempt.connected);
    }
  },

  /** Re-arms the catch-up deadline one confirm timeout after the last progress; false once that has passed. */
  stillCatchingUp(attempt) {
    const deadline = attempt.lastProgress + this.confirmTimeout(attempt.method);
    if (this.now() >= deadline) return false;
    this.timers.arm(`confirm:${attempt.id}`, deadline, () => this.confirmExpired(attempt));
    return true;
  },

  /** The open connection's replay stopped short of the live end for a confirm timeout: of no use. */
  catchUpDue(attempt) {
    if (!attempt.catchUpTo || this.stillCatchingUp(attempt)) return;
    this.connectionEnded(attempt, "catchUpStalled");
  },

  /**
   * Whether refusals of the run's transport mean the network blocks it (fall back at once)
   * rather than that the server is down (retry it with backoff). Refusals say "blocked" only
   * while the transport has not opened in this run and the server has not been found down: a
   * restarting server drops its connections and refuses the reconnects, a firewall that REJECTs
   * refuses from the first connect. After an open, refusals are retried until the give-up
   * deadline, then the manager falls back as usual; once every transport has been refused in a
   * row it returns to the one that last opened and retries only it (fallBack). The same rule as
   * the Swift `RealtimeManagerStateMachine.refusalIsBlock`.
   */
  refusalIsBlock() {
    return !this.run.hasOpened && !this.run.serverDown;
  },

  methodAfter(method) {
    const index = this.order.indexOf(method);
    return index < 0 ? this.order[0] : this.order[(index + 1) % this.order.length];
  },

  /** Leaves the run's transport for the next one (wrapping around). */
  fallBack(reason) {
    const from = this.run.method;
    for (const name of ["giveUp", "retry", "probe"]) this.timers.disarm(name);
    for (const attempt of [this.primary, this.candidate]) {
      if (!attempt) continue;
      this.dropAttempt(attempt);
      this.timers.disarm(`heartbeat:${attempt.id}`);
    }
    this.primary = null;
    this.candidate = null;
    if (this.order.every((method) => this.refusedInARow.has(method))) {
      // Every transport refused in a row: the server is down, not the network. Wait for it on
      // the transport that last opened (the best one if none has).
      this.refusedInARow.clear();
      const home = this.order.includes(this.lastOpenedMethod) ? this.lastOpenedMethod : this.order[0];
      this.beginRun(home, home === from ? null : from, home === from ? null : REASONS.serverDown, true);
      return;
    }
    if (fellBackOnSilence(this.run, reason)) this.probeOnNextOpen = true;
    const next = this.methodAfter(from);
    this.beginRun(next, next === from ? null : from, next === from ? null : reason);
  },

  // MARK: Liveness

  /** Lazily re-armed: the next keepalive (after heartbeatInterval of silence) or the heartbeat timeout. */
  armHeartbeat(attempt) {
    const { heartbeatInterval, heartbeatTimeout } = this.options;
    let due = attempt.lastHeard + heartbeatTimeout;
    if (!attempt.keepaliveSent && heartbeatInterval < heartbeatTimeout) due = Math.min(due, attempt.lastHeard + heartbeatInterval);
    this.timers.arm(`heartbeat:${attempt.id}`, due, () => this.heartbeatDue(attempt));
  },

  heartbeatDue(attempt) {
    if (attempt !== this.primary || this.state !== "open") return;
    const silent = this.now() - attempt.lastHeard;
    if (silent >= this.options.heartbeatTimeout) {
      this.connectionEnded(attempt, "heartbeatLost");
      return;
    }
    if (silent >= this.options.heartbeatInterval && !attempt.keepaliveSent) {
      attempt.keepaliveSent = true;
      attempt.transport.keepalive();
    }
    if (attempt === this.primary && this.state === "open") this.armHeartbeat(attempt);
  },

  /** The open connection ended: reconnect the same transport after a backoff step (a fresh stretch if it was stable) or fall back. */
  connectionEnded(attempt, ending) {
    const now = this.now();
    attempt.transport.close();
    this.timers.disarm(`heartbeat:${attempt.id}`);
    if (this.candidate) {
      // A probe only makes sense beside a working transport; the next open re-arms it.
      this.dropAttempt(this.candidate);
      this.candidate = null;
    }
    this.timers.disarm("probe");
    const perf = this.perf[attempt.method];
    perf.timeOpenMs += now - attempt.openedAt;
    this.timers.disarm(`confirm:${attempt.id}`);
    this.primary = null;
    const run = this.run;
    if (ending === "catchUpStalled") {
      // Like a welcome that never came: the path lets it open but holds its stream.
      perf.streamsBehind += 1;
      if (this.options.autoSwitch) {
        this.fallBack(REASONS.fallbackCatchUpStalled);
        return;
      }
    }
    if (ending === "heartbeatLost") {
      perf.heartbeatLosses += 1;
      run.heartbeatLosses += 1;
      if (this.options.autoSwitch && run.heartbeatLosses >= Math.max(1, this.options.heartbeatLossesBeforeFallback)) {
        this.suspendProbes(attempt.method);
        this.fallBack(REASONS.fallbackHeartbeatLost);
        return;
      }
    } else if (ending === "heldInBursts") {
      perf.bufferingDetections += 1;
      if (this.options.autoSwitch) {
        // A probe checks the welcome and the catch-up, which such a path can pass: leave the
        // transport out of probes for rememberFor.
        this.suspendProbes(attempt.method);
        this.fallBack(REASONS.fallbackStreamHeld);
        return;
      }
    } else if (ending === "behind") {
      // A fresh connection often cures it; a second time on this transport, the path is the problem.
      perf.streamsBehind += 1;
      run.behindEndings += 1;
      if (this.options.autoSwitch && run.behindEndings >= 2) {
        this.fallBack(REASONS.fallbackStreamBehind);
        return;
      }
    } else {
      perf.closedAfterOpen += 1;
    }
    run.giveUpReason = ending === "closedByServer" ? REASONS.transportClosedByServer
      : ending === "heartbeatLost" ? REASONS.fallbackHeartbeatLost
      : ending === "behind" ? REASONS.fallbackStreamBehind
      : ending === "heldInBursts" ? REASONS.fallbackStreamHeld
      : ending === "catchUpStalled" ? REASONS.fallbackCatchUpStalled : REASONS.fallbackConnectFailed;
    if (now - attempt.openedAt >= this.options.giveUpAfter) {
      // A stable connection ended: a fresh stretch with a fresh give-up window, and the first
      // backoff step (full jitter up to the base), so the clients of a restarted server do not
      // all come back in the same instant.
      run.troubleSince = now;
      run.failures = 0;
    }
    // Otherwise it died young: part of the same stretch of trouble.
    this.retryLater();
  },
};

/**
 * Whether a fallback left a transport that had opened in the run because nothing answered any
 * more: it went silent or was lost, and the reconnects got no answer for `giveUpAfter`. An
 * outage longer than the heartbeat timeout looks like that, and so does a firewall that starts
 * dropping the transport; once the next transport opens, a probe tells them apart at once
 * (the Swift manager's `fellBackOnSilence`).
 */
function fellBackOnSilence(run, reason) {
  return run.hasOpened && (reason === REASONS.fallbackHeartbeatLost || reason === REASONS.fallbackConnectFailed);
}
