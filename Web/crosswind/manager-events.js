// What the transports report to the manager: connected, welcome, message, traffic, ack. Opening
// a transport, exactly-once delivery and acknowledgements of client messages. Methods of
// RealtimeCommunicationManager (installed by manager.js).

import { BurstRecord } from "./bursts.js";
import { isCount, RETURN_PROBE_FIRST_DELAY } from "./options.js";

/**
 * The newest offset a welcome's replay runs up to, when it names one (`next` below the live end
 * `live`); null when nothing comes before live messages, or the server does not say.
 */
export function catchUpTarget(welcome) {
  if (welcome.topics) {
    // Several topics: each topic's own target, until its message arrives (`catchUpReached`).
    const topics = {};
    let any = false;
    for (const entry of welcome.topics) {
      const target = catchUpTarget(entry);
      if (target) { topics[entry.topic] = target; any = true; }
    }
    return any ? { topics } : null;
  }
  if (welcome.live === null || welcome.live === undefined || welcome.next >= welcome.live) return null;
  return { epoch: welcome.epoch, offset: welcome.live - 1 };
}

/**
 * Whether `message` completes the catch-up to `target`: it reaches the target's offset (or
 * another epoch). Several topics: the message settles its own topic's target, and the catch-up
 * is complete once every topic's is.
 */
export function catchUpReached(target, message) {
  if (!target.topics) return message.epoch !== target.epoch || message.offset >= target.offset;
  const own = target.topics[message.topic];
  if (own && (message.epoch !== own.epoch || message.offset >= own.offset)) delete target.topics[message.topic];
  return Object.keys(target.topics).length === 0;
}

/** A welcome's fields checked and defaulted; null when it is malformed. */
function normalizeWelcome(welcome) {
  if (!welcome || !isCount(welcome.epoch) || !isCount(welcome.next)) return null;
  const live = isCount(welcome.live) ? welcome.live : null;
  return { topic: welcome.topic, epoch: welcome.epoch, next: welcome.next, recovered: welcome.recovered !== false, session: welcome.session || null, live };
}
import { recordLatency } from "./performance.js";

export const transportEvents = {
  /** The attempt's `events`: ignored (and counted) once it is neither the primary nor the candidate. */
  eventsFor(attempt) {
    const live = () => attempt === this.primary || attempt === this.candidate;
    const guard = (fn) => (...args) => {
      if (!live()) {
        this.counters.staleEvents += 1;
        return;
      }
      fn(...args);
    };
    return {
      connected: guard(() => this.onConnected(attempt)),
      welcome: guard((welcome) => this.onWelcome(attempt, welcome)),
      message: guard((message) => this.onMessage(attempt, message)),
      traffic: guard(() => this.heard(attempt)),
      ack: guard((seq) => this.onAck(attempt, seq)),
      closed: guard((cause, detail) => this.onClosed(attempt, cause, detail)),
      error: (detail) => this.reportError(`${attempt.method}: ${detail}`),
    };
  },

  onConnected(attempt) {
    if (attempt.connected) return;
    attempt.connected = true;
    if (attempt.welcomed) return;
    // The connection is up; the welcome has the confirm timeout to come (a probe: the same).
    this.armConfirm(attempt, this.confirmTimeout(attempt.method));
  },

  armConfirm(attempt, timeoutMs) {
    this.timers.arm(`confirm:${attempt.id}`, this.now() + timeoutMs, () => this.confirmExpired(attempt));
  },

  onWelcome(attempt, welcome) {
    if (welcome && welcome.malformed) {
      this.protocolError(`${attempt.method}: ${welcome.malformed}`);
      return;
    }
    let normalized;
    if (welcome && Array.isArray(welcome.topics)) {
      // Several topics: their welcomes together (transport.js), each checked.
      const topics = welcome.topics.map(normalizeWelcome);
      normalized = topics.includes(null) ? null : { topics, recovered: topics.every((entry) => entry.recovered), session: welcome.session || null };
    } else {
      normalized = normalizeWelcome(welcome);
    }
    if (!normalized) {
      this.protocolError(`${attempt.method}: malformed welcome`);
      return;
    }
    if (attempt.welcomed) {
      // EventSource reconnected by itself (stream recycling, a dropped connection): a resume.
      this.perf[attempt.method].reconnects += 1;
      if (attempt === this.primary && this.state === "open") {
        this.heard(attempt);
        this.acceptWelcome(normalized, attempt.method);
        attempt.transport.send(this.outbox.pending());
      }
      return;
    }
    attempt.welcomed = true;
    if (!attempt.connected) attempt.connected = true;
    if (attempt === this.primary && this.state === "connecting") this.primaryOpened(attempt, normalized);
    else if (attempt === this.candidate) this.candidateWelcomed(attempt, normalized);
  },

  primaryOpened(attempt, welcome) {
    this.timers.disarm(`confirm:${attempt.id}`);
    this.timers.disarm("giveUp");
    this.run.failures = 0;
    this.run.refusals = 0;
    // `troubleSince` stays: a connection that dies young continues the same stretch of trouble.
    this.markOpen(attempt);
    // Another epoch than the stream had: the server restarted, so a connection that went
    // silent before this one died with it; such losses no longer count toward the fallback.
    if (this.acceptWelcome(welcome, attempt.method).some((report) => report.reason === "newEpoch")) this.run.heartbeatLosses = 0;
    // A welcome that names a replay opens the transport, but the replay must then reach the live
    // end on it: a proxy that holds response bodies until N bytes lets a welcome through when
    // the replay behind it is longer than N, and holds the rest.
    attempt.catchUpTo = catchUpTarget(welcome);
    if (attempt.catchUpTo) {
      attempt.lastProgress = this.now();
      this.armConfirm(attempt, this.confirmTimeout(attempt.method));
    }
    this.startOnOpen(attempt);
    if (this.resolveReady) {
      this.resolveReady(attempt.method);
      this.resolveReady = null;
    }
  },

  /** `attempt` is now the open transport (its first open, or a switch to it). */
  markOpen(attempt) {
    const now = this.now();
    this.state = "open";
    this.run.hasOpened = true;
    this.run.serverDown = false;
    this.refusedInARow.clear();
    this.lastOpenedMethod = attempt.method;
    attempt.openedAt = now;
    attempt.bursts = new BurstRecord(now);
    attempt.lastHeard = now;
    attempt.keepaliveSent = false;
    this.perf[attempt.method].opens += 1;
    this.latencyWindow = [];
  },

  /** Starts what runs on the open transport once the application has been told: heartbeats, probes, the outbox. */
  startOnOpen(attempt) {
    this.armHeartbeat(attempt);
    const returning = this.probeOnNextOpen && this.options.autoSwitch && this.order.indexOf(attempt.method) > 0;
    this.probeOnNextOpen = false;
    if (returning) {
      // Back after falling back on silence (manager-fallback.js, fellBackOnSilence): look at
      // the better transports now, and if they are not back yet, again after 15 s, 30 s, …
      // (manager-probes.js, nextProbeDelay).
      this.returnProbeDelay = RETURN_PROBE_FIRST_DELAY;
      this.timers.disarm("probe");
      this.probeDue();
    } else this.armProbeIfWorse(attempt.method);
    attempt.transport.send(this.outbox.pending());
  },

  /**
   * Aligns the delivery position with a welcome of the open transport; reports each incomplete
   * resume (one per topic that could not resume) and returns those reports.
   */
  acceptWelcome(welcome, method) {
    const incomplete = this.position.welcome(welcome);
    const reports = Array.isArray(incomplete) ? incomplete : incomplete ? [incomplete] : [];
    for (const report of reports) this.recoveryIncomplete(report, method);
    return reports;
  },

  onMessage(attempt, message) {
    if (!message || typeof message !== "object" || !isCount(message.epoch) || !isCount(message.offset)) {
      this.protocolError(`${attempt.method}: malformed message`);
      return;
    }
    if (!attempt.welcomed) {
      // Without a welcome the stream position is unknown; the next open resumes anyway.
      this.protocolError(`${attempt.method}: message before the welcome`);
      return;
    }
    this.heard(attempt);
    if (attempt === this.primary) {
      if (this.state !== "open") return;
      const target = attempt.catchUpTo;
      if (target) {
        attempt.lastProgress = this.now();
        if (catchUpReached(target, message)) {
          // It brought the live end itself: caught up.
          attempt.catchUpTo = null;
          this.timers.disarm(`confirm:${attempt.id}`);
        }
      }
      this.deliver(message, attempt.method);
      return;
    }
    // A probe: both transports feed the one position, whichever brings an offset first delivers it.
    this.deliver(message, attempt.method);
    this.candidateDelivered(attempt, message);
  },

  /** Exactly once, in order (cursor.js); counted, timed and handed to `onMessage`. */
  deliver(message, method) {
    const verdict = this.position.admit(message);
    if (verdict.unknown) {
      this.protocolError(`${method}: message of topic ${JSON.stringify(message.topic)}, not subscribed`);
      return false;
    }
    if (verdict.duplicate) {
      this.counters.duplicates += 1;
      this.perf[method].duplicates += 1;
      return false;
    }
    if (verdict.incomplete) this.recoveryIncomplete(verdict.incomplete, method);
    this.counters.missing += verdict.missing;
    this.counters.delivered += 1;
    this.perf[method].messages += 1;
    const { epoch, offset, data } = message;
    if (this.options.enablePerformanceMonitoring && data && typeof data === "object" && typeof data.ts === "number" && Number.isFinite(data.ts)) {
      const latency = this.now() - data.ts;
      recordLatency(this.perf[method].latency, latency, this.options.latencySamples);
      recordLatency(this.latency, latency, this.options.latencySamples);
      this.latencySample(method, latency);
    }
    this.callback("onMessage", { topic: message.topic, epoch, offset, data, transport: method });
    return true;
  },

  recoveryIncomplete(report, method) {
    this.counters.recoveriesIncomplete += 1;
    this.callback("onRecoveryIncomplete", Object.assign(report, { transport: method }));
  },

  heard(attempt) {
    attempt.lastHeard = this.now();
    attempt.keepaliveSent = false;
  },

  onAck(attempt, seq) {
    this.heard(attempt);
    this.counters.sendsAcknowledged += this.outbox.acknowledge(seq);
  },
};
