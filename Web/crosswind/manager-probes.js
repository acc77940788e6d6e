// Upgrade probes: while the manager is not on its best transport, every `benchmarkInterval` a
// better one opens beside the open one, from the same cursor, and takes over once it is
// welcomed with `recovered:true` and has caught up. The latency switch opens the next
// transport the same way when the median of the last `latencyWindow` message latencies on the
// open one exceeds `latencyThreshold`. Methods of RealtimeCommunicationManager (installed by
// manager.js).

import { catchUpReached, catchUpTarget } from "./manager-events.js";
import { REASONS, RETURN_PROBE_FIRST_DELAY } from "./options.js";

export const upgradeProbes = {
  /** Arms the next probe if `method` is not the best transport and none is armed. */
  armProbeIfWorse(method) {
    if (!this.options.autoSwitch || this.order.indexOf(method) <= 0 || this.timers.has("probe")) return;
    this.returnProbeDelay = null;
    this.armProbe();
  },

  armProbe(delay = this.options.benchmarkInterval) {
    this.timers.arm("probe", this.now() + delay, () => this.probeDue());
  },

  /**
   * The delay before the probe after a failed one: while looking for the way back after a
   * fallback on silence (startOnOpen), RETURN_PROBE_FIRST_DELAY doubling, then
   * `benchmarkInterval`. A transport blocked for a minute or two is found again within about
   * as long, where the interval alone would leave the client on the worse one for five minutes.
   */
  nextProbeDelay() {
    const delay = this.returnProbeDelay;
    if (delay === null || delay >= this.options.benchmarkInterval) {
      this.returnProbeDelay = null;
      return this.options.benchmarkInterval;
    }
    this.returnProbeDelay = delay * 2;
    return delay;
  },

  probeDue() {
    if (this.state !== "open" || !this.primary) return; // the next open arms it again
    if (this.candidate) {
      this.armProbe();
      return;
    }
    const index = this.order.indexOf(this.primary.method);
    const ahead = index < 0 ? [] : this.order.slice(0, index);
    const now = this.now();
    const better = ahead.filter((method) => !(now < (this.probesSuspendedUntil[method] ?? -Infinity)));
    if (better.length) this.startCandidate(better);
    // Every better transport stalled on this path lately: look again one interval later.
    else if (ahead.length) this.armProbe();
  },

  /**
   * Leaves `method` out of upgrade probes for `rememberFor`: the manager fell back from it
   * because the path let it open and then silenced it twice (a proxy that starts holding a
   * stream after a while). A probe only waits for the welcome and the catch-up, which such a
   * path passes, so it would switch back and stall again. Transports left for failures a probe
   * does see (refused, no welcome) stay probe targets.
   */
  suspendProbes(method) {
    this.probesSuspendedUntil[method] = this.now() + this.options.rememberFor;
  },

  /**
   * One latency of the open transport (from `data.ts`). A full window whose median is over
   * the threshold opens the next transport beside it, make before break, like a probe; the
   * last transport has no next.
   */
  latencySample(method, latency) {
    if (this.state !== "open" || !this.primary || this.primary.method !== method) return;
    // Alive but far behind for behindFor (every sample over behindLatency): reconnect, and
    // fall back if it happens again (connectionEnded, "behind").
    const primary = this.primary;
    if (this.options.behindLatency !== null && latency > this.options.behindLatency) {
      if (primary.behindSince === undefined || primary.behindSince === null) primary.behindSince = this.now();
      if (this.now() - primary.behindSince >= this.options.behindFor) {
        this.connectionEnded(primary, "behind");
        return;
      }
    } else {
      primary.behindSince = null;
    }
    // Held bursts of an SSE stream that has caught up: something on the path buffers it (a
    // proxy that holds response bodies until it has N bytes), whatever its liveness says.
    if (method === "sse" && this.options.burstHold !== null && primary.bursts) {
      const releases = primary.bursts.record(latency, this.now(), this.options.burstHold, this.options.heartbeatTimeout, !primary.catchUpTo);
      if (releases >= Math.max(1, this.options.bufferingStrikes)) {
        this.connectionEnded(primary, "heldInBursts");
        return;
      }
    }
    this.latencyWindow.push(latency);
    if (this.latencyWindow.length > this.options.latencyWindow) this.latencyWindow.shift();
    const threshold = this.options.latencyThreshold;
    if (!this.options.autoSwitch || threshold === null || this.candidate || this.latencyWindow.length < this.options.latencyWindow) return;
    const sorted = this.latencyWindow.slice().sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]; // the upper middle one, as in Swift
    const index = this.order.indexOf(method);
    if (median <= threshold || index < 0 || index + 1 >= this.order.length) return;
    this.startCandidate([this.order[index + 1]], "latency");
  },

  /** Opens `methods[0]` beside the open connection, resuming after the last delivered message. */
  startCandidate(methods, reason = "upgrade") {
    const attempt = this.newAttempt(methods[0], "probe");
    attempt.reason = reason;
    attempt.remaining = methods.slice(1);
    this.perf[attempt.method].probes += 1;
    this.candidate = attempt;
    // Until it connects, a probe gets as long as a transport gets to open at all.
    this.armConfirm(attempt, this.options.giveUpAfter);
    attempt.transport.open();
  },

  candidateWelcomed(attempt, welcome) {
    if (welcome.topics) return this.multiplexedCandidateWelcomed(attempt, welcome);
    const last = this.position.last;
    if (!last || welcome.epoch !== last.epoch || !welcome.recovered) {
      // It cannot continue where the open transport is: switching would open a gap.
      this.candidateFailed(attempt, false);
      return;
    }
    if (welcome.live === null) {
      // A server that does not name its live end: take `next` for it, as before, and count what
      // either transport delivered.
      const legacy = { epoch: welcome.epoch, offset: Math.max(0, welcome.next - 1) };
      if (legacy.offset <= last.offset) this.switchToCandidate(attempt);
      else this.awaitCatchUp(attempt, legacy);
      return;
    }
    const target = catchUpTarget(welcome);
    if (!target) {
      // Nothing was published between its cursor and the welcome: the welcome itself came
      // through, and every message after it comes on it, in order. Caught up.
      this.switchToCandidate(attempt);
      return;
    }
    // Caught up only once the probe itself brought the live end, even if the open transport
    // delivered those messages meanwhile: a proxy that holds response bodies until N bytes
    // releases a welcome with a replay longer than N, then holds the rest.
    this.awaitCatchUp(attempt, target);
  },

  /**
   * A probe carrying several topics can take over only if every topic continues where the open
   * transport is (same epoch, resumed), and once it brought each topic's live end itself.
   */
  multiplexedCandidateWelcomed(attempt, welcome) {
    const continues = welcome.topics.every((entry) => {
      const last = this.position.of(entry.topic).last;
      return last && entry.epoch === last.epoch && entry.recovered;
    });
    if (!continues) {
      this.candidateFailed(attempt, false);
      return;
    }
    const target = catchUpTarget(welcome);
    if (target) this.awaitCatchUp(attempt, target);
    else this.switchToCandidate(attempt);
  },

  /** The probe is welcomed and must bring `target` itself before it takes over. */
  awaitCatchUp(attempt, target) {
    attempt.catchUpTo = target;
    attempt.lastProgress = this.now();
    // The replay must keep coming: one confirm timeout from now, moved on by each message.
    this.armConfirm(attempt, this.confirmTimeout(attempt.method));
  },

  /** A message on the probe was offered for delivery: it takes over once it reached the catch-up target. */
  candidateDelivered(attempt, message) {
    const target = attempt.catchUpTo;
    if (!target || attempt !== this.candidate) return;
    if (catchUpReached(target, message)) this.switchToCandidate(attempt);
    else attempt.lastProgress = this.now();
  },

  candidateFailed(attempt, timedOut) {
    this.dropAttempt(attempt);
    const perf = this.perf[attempt.method];
    perf.failures += 1;
    if (timedOut) perf.confirmTimeouts += 1;
    this.candidate = null;
    if (this.state !== "open") return;
    if (attempt.reason === "latency") {
      // Judge a full window of fresh samples before trying again.
      this.latencyWindow = [];
      return;
    }
    if (attempt.remaining.length) {
      this.startCandidate(attempt.remaining);
      return;
    }
    this.armProbe(this.nextProbeDelay());
  },

  /** The probe is welcomed, resumed and caught up: it becomes the transport; the old one is closed. */
  switchToCandidate(attempt) {
    const now = this.now();
    const old = this.primary;
    old.transport.close();
    this.timers.disarm(`heartbeat:${old.id}`);
    this.timers.disarm(`confirm:${old.id}`);
    this.timers.disarm(`confirm:${attempt.id}`);
    attempt.catchUpTo = null;
    this.timers.disarm("probe");
    this.perf[old.method].timeOpenMs += now - old.openedAt;
    this.candidate = null;
    this.primary = attempt;
    attempt.purpose = "primary";
    this.perf[attempt.method].probesSucceeded += 1;
    this.run = this.newRun(attempt.method, now);
    this.markOpen(attempt);
    this.methodChanged(old.method, attempt.method, attempt.reason === "latency" ? REASONS.latencyThreshold : REASONS.upgradeProbeSucceeded);
    this.probeOnNextOpen = false; // a switch is not a return from a fallback on silence
    this.returnProbeDelay = null; // and ends the look for the way back
    this.startOnOpen(attempt);
  },
};
