// The RealtimeCommunicationManager: its options, state and public API, and the runs and
// attempts its decisions act on. The decisions themselves are methods of the same class written
// beside it: manager-events.js (what transports report; opening; delivery), manager-fallback.js
// (confirm timeouts, backoff, give-up, heartbeats, fallback), manager-probes.js (upgrade
// probes). What it mirrors of the Swift manager, and where it is simpler, is told at the top of
// index.js.

import { DeliveryPosition, TopicPositions, formatCursor } from "./cursor.js";
import { describe, makeEnv } from "./env.js";
import { negotiate } from "./negotiate.js";
import { transportEvents } from "./manager-events.js";
import { fallback } from "./manager-fallback.js";
import { upgradeProbes } from "./manager-probes.js";
import { DEFAULT_ENDPOINTS, METHODS, REASONS, normalizeOptions, preferenceOrder } from "./options.js";
import { Outbox } from "./outbox.js";
import { newLatency, newPerformance, snapshot } from "./performance.js";
import { SSETransport } from "./sse.js";
import { SyncTransport } from "./sync.js";
import { NamedTimers } from "./timers.js";
import { WebSocketTransport } from "./websocket.js";
import { query } from "./wire.js";

const TRANSPORTS = { websocket: WebSocketTransport, sse: SSETransport, sync: SyncTransport };

/** The longest `switchLog` kept. */
const SWITCH_LOG_LIMIT = 200;

/**
 * Starts on the best transport, falls back when the network forbids it, probes back up when it
 * can, and delivers every message once, in order. Options: `DEFAULTS` in options.js. Callbacks
 * are read from `this.options` at every call (so they may be replaced while it runs) and called
 * with the manager as `this`; their exceptions are logged, never thrown into the manager.
 */
export class RealtimeCommunicationManager {
  constructor(options) {
    this.options = normalizeOptions(options);
    this.env = makeEnv(this.options.env);
    /** Preference order: default first, then the fallbacks ("better" = earlier); `/negotiate` may narrow it. */
    this.order = preferenceOrder(this.options);
    this.configuredOrder = this.order.slice();
    const origin = typeof location !== "undefined" && location && location.origin && location.origin !== "null" ? location.origin : "";
    this.baseUrl = String(this.options.url !== undefined ? this.options.url : origin).replace(/\/+$/, "");
    this.clientId = this.options.clientId ? String(this.options.clientId) : `c${Math.floor(this.env.random() * 2 ** 52).toString(36)}${Math.floor(this.env.random() * 2 ** 30).toString(36)}`;
    this.endpoints = Object.assign({}, DEFAULT_ENDPOINTS);

    this.state = "idle"; // idle | negotiating | connecting | retrying | open
    this.run = null; // newRun(): {method, troubleSince, failures, …, hasOpened, serverDown, giveUpReason}
    this.refusedInARow = new Set(); // transports refused since the last open or failure of another kind (manager-fallback.js)
    this.lastOpenedMethod = null; // where the manager waits for a server that is down
    this.primary = null; // the attempt being connected, or the open one
    this.candidate = null; // an upgrade probe beside the open one
    this.probesSuspendedUntil = {}; // method → time before which probes leave it out (manager-probes.js)
    this.probeOnNextOpen = false; // fell back on silence: the next open probes at once (manager-fallback.js)
    this.returnProbeDelay = null; // after that probe failed: the delay before the next (manager-probes.js)
    this.position = this.options.topics ? new TopicPositions(this.options.topics) : new DeliveryPosition();
    this.timers = new NamedTimers(this.env);
    this.outbox = new Outbox(this.options.sendQueueLimit);
    this.nextAttemptId = 1;
    this.rtt = null;
    this.serverEpoch = null;
    this.lastReason = null;
    this.lastError = null;
    this.switchLog = [];
    this.perf = { websocket: newPerformance(), sse: newPerformance(), sync: newPerformance() };
    this.latency = newLatency();
    this.latencyWindow = []; // the open transport's newest latencies, for latencyThreshold
    this.counters = {
      delivered: 0,
      duplicates: 0,
      switches: 0,
      methodChanges: 0,
      missing: 0,
      recoveriesIncomplete: 0,
      sendsAcknowledged: 0,
      sendsDropped: 0,
      staleEvents: 0,
      protocolErrors: 0,
    };
    this.readyPromise = null;
    this.resolveReady = null;
    this.negotiation = null;

    const manager = this;
    /** What transports see of the manager (transport.js). */
    this.ctx = {
      get env() { return manager.env; },
      get options() { return manager.options; },
      get endpoints() { return manager.endpoints; },
      get clientId() { return manager.clientId; },
      outbox: () => manager.outbox.pending(),
      cursor: () => manager.position.cursor,
      httpUrl: (path, params) => `${manager.baseUrl}${path}${query(params)}`,
      wsUrl: (path, params) => `${manager.wsBase()}${path}${query(params)}`,
    };

    if (this.options.autoConnect) this.connect();
  }

  // MARK: Public API

  /** The transport in use or being tried (`websocket`, `sse`, `sync`), null when idle. */
  get method() {
    return this.run ? this.run.method : null;
  }

  get isOpen() {
    return this.state === "open";
  }

  /** The last delivered cursor as `EPOCH:OFFSET` (several topics: `TOPIC@EPOCH:OFFSET,…`), where the next open resumes. */
  get cursor() {
    return formatCursor(this.position.cursor);
  }

  /**
   * Starts: negotiates (measuring the RTT), then opens the default transport. Resolves with the
   * first transport that opens (null if `close()` comes first). Calling it again while running
   * returns the same promise.
   */
  connect() {
    if (this.state !== "idle") return this.readyPromise;
    this.readyPromise = new Promise((resolve) => { this.resolveReady = resolve; });
    this.state = "negotiating";
    const negotiation = {};
    this.negotiation = negotiation;
    negotiate(this.env, `${this.baseUrl}${this.endpoints.negotiate}`, this.options.giveUpAfter).then(
      (answer) => this.negotiated(negotiation, answer),
      (error) => {
        this.reportError(`negotiate: ${describe(error)}`);
        this.negotiated(negotiation, null);
      },
    );
    return this.readyPromise;
  }

  /**
   * Sends a client message (any JSON value). Numbered per client and kept until the server
   * acknowledges it; sent now if a transport is open, else after the next open. Returns its number.
   */
  send(data) {
    const { entry, dropped } = this.outbox.add(data);
    this.counters.sendsDropped += dropped;
    if (this.state === "open" && this.primary && this.outbox.holds(entry)) this.primary.transport.send([entry]);
    return entry.seq;
  }

  /** Closes every connection and timer. Position, outbox and figures are kept for a later `connect()`. */
  close() {
    if (this.state === "idle") return;
    this.negotiation = null;
    for (const attempt of [this.primary, this.candidate]) {
      if (!attempt) continue;
      attempt.transport.close();
      if (attempt.openedAt !== null && attempt.purpose === "primary") this.perf[attempt.method].timeOpenMs += this.now() - attempt.openedAt;
    }
    this.primary = null;
    this.candidate = null;
    this.timers.disarmAll();
    this.state = "idle";
    this.run = null;
    if (this.resolveReady) this.resolveReady(null);
    this.resolveReady = null;
  }

  /** Figures per transport and manager-wide counters (a snapshot; safe to keep). */
  stats() {
    const now = this.now();
    const transports = {};
    for (const method of METHODS) {
      const record = snapshot(this.perf[method]);
      if (this.state === "open" && this.primary && this.primary.method === method && this.primary.openedAt !== null) {
        record.timeOpenMs += now - this.primary.openedAt;
      }
      transports[method] = record;
    }
    return {
      method: this.method,
      state: this.state,
      open: this.state === "open",
      probing: this.candidate ? this.candidate.method : null,
      lastReason: this.lastReason,
      cursor: this.cursor,
      clientId: this.clientId,
      rttMs: this.rtt,
      serverEpoch: this.serverEpoch,
      order: this.order.slice(),
      unacknowledged: this.outbox.size,
      counters: Object.assign({}, this.counters),
      latency: snapshot(this.latency),
      transports,
      switchLog: this.switchLog.map((entry) => Object.assign({}, entry)),
      lastError: this.lastError,
    };
  }

  // MARK: Runs and attempts

  /** Applies the `/negotiate` answer (null: it failed, keep the defaults) and starts on the best transport. */
  negotiated(negotiation, answer) {
    if (this.negotiation !== negotiation || this.state !== "negotiating") return;
    this.negotiation = null;
    if (answer) {
      this.rtt = answer.rttMs;
      if (answer.epoch !== null) this.serverEpoch = answer.epoch;
      Object.assign(this.endpoints, answer.endpoints);
      const narrowed = answer.transports ? this.configuredOrder.filter((method) => answer.transports.includes(method)) : [];
      if (narrowed.length) this.order = narrowed;
    }
    this.beginRun(this.order[0], null, REASONS.initial);
  }

  now() {
    return this.env.now();
  }

  wsBase() {
    let base = this.baseUrl;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(base)) {
      const origin = typeof location !== "undefined" && location && location.origin ? location.origin : "http://localhost";
      base = origin + base;
    }
    return base.replace(/^http(s?):/i, "ws$1:");
  }

  /** A fresh run of `method`: nothing failed yet, trouble counted from `now`. */
  newRun(method, now) {
    return {
      method,
      troubleSince: now,
      failures: 0,
      heartbeatLosses: 0,
      behindEndings: 0,
      refusals: 0,
      hasOpened: false, // refusals after an open mean the server went away (manager-fallback.js, refusalIsBlock)
      serverDown: false, // every transport was refused in a row: retry this one, never give up
      giveUpReason: REASONS.fallbackConnectFailed,
    };
  }

  /** Arms the give-up deadline `giveUpAfter` from `now`. */
  armGiveUp(now) {
    this.timers.arm("giveUp", now + this.options.giveUpAfter, () => this.giveUpDue());
  }

  /** Switches to (or starts on) `method`: reports the change, opens an attempt, arms the give-up deadline. */
  beginRun(method, from, reason, serverDown = false) {
    if (reason) this.methodChanged(from, method, reason);
    const now = this.now();
    this.run = this.newRun(method, now);
    this.run.serverDown = serverDown;
    this.armGiveUp(now);
    this.openAttempt();
  }

  methodChanged(from, to, reason) {
    this.counters.methodChanges += 1;
    if (from) this.counters.switches += 1;
    this.lastReason = reason;
    const entry = { at: this.now(), from: from || null, to, reason };
    this.switchLog.push(entry);
    if (this.switchLog.length > SWITCH_LOG_LIMIT) this.switchLog.shift();
    this.callback("onMethodChange", to, { from: from || null, reason });
  }

  newAttempt(method, purpose) {
    const attempt = {
      id: this.nextAttemptId++,
      method,
      purpose,
      resumeFrom: this.position.cursor,
      connected: false,
      welcomed: false,
      openedAt: null,
      lastHeard: null,
      keepaliveSent: false,
      catchUpTo: null, // after a welcome that named a replay: the offset that ends it
      lastProgress: null, // the welcome or the last message of that replay
      remaining: [],
      transport: null,
    };
    attempt.transport = new TRANSPORTS[method](this.ctx, this.eventsFor(attempt), attempt.resumeFrom);
    this.perf[method].attempts += 1;
    return attempt;
  }

  /** A new attempt of the run's transport, resuming after the last delivered message. */
  openAttempt() {
    const attempt = this.newAttempt(this.run.method, "primary");
    this.primary = attempt;
    this.state = "connecting";
    attempt.transport.open();
  }

  /** Closes an attempt that has not opened and forgets its confirm timeout. */
  dropAttempt(attempt) {
    attempt.transport.close();
    this.timers.disarm(`confirm:${attempt.id}`);
  }

  // MARK: Errors and callbacks

  protocolError(detail) {
    this.counters.protocolErrors += 1;
    this.reportError(detail);
  }

  reportError(detail) {
    this.lastError = detail;
    if (typeof this.options.onError === "function") this.callback("onError", detail);
  }

  /** Application callbacks cannot break the manager: their exceptions are reported, not thrown. */
  callback(name, ...args) {
    const fn = this.options[name];
    if (typeof fn !== "function") return;
    try {
      fn.apply(this, args);
    } catch (error) {
      if (typeof console !== "undefined" && console.error) console.error(`crosswind: ${name} threw`, error);
    }
  }
}

// The manager's other concerns, written beside it (manager-*.js), as methods of the same class.
Object.assign(RealtimeCommunicationManager.prototype, transportEvents, fallback, upgradeProbes);
