/*
 * crosswind.js — the browser side of Crosswind: a dependency-free RealtimeCommunicationManager
 * over WebSocket, Server-Sent Events and Custom Sync (HTTP polling), speaking the wire protocol
 * of `crosswind serve` (README "Transports and the manager", DESIGN "Wire endpoints").
 *
 * ES2020, no imports. Runs as a classic <script> (sets `globalThis.Crosswind`) and under Node 20
 * (`module.exports`) for unit tests. Every clock, timer, random draw and network constructor is
 * taken from `options.env`, so tests drive the manager with fakes and fake time.
 *
 * It mirrors the Swift `RealtimeManagerStateMachine` (Sources/CrosswindTransport/Manager):
 *   - a transport is open only after its welcome (WebSocket welcome frame, SSE `welcome` event,
 *     the first Custom Sync batch); the confirm timeout is max(floor, 4 × RTT), RTT measured by
 *     the `GET /negotiate` round trip (500 ms assumed when it failed);
 *   - a refused WebSocket (error before open, or close 1006 before the welcome) twice in a row
 *     falls back at once (`fallbackConnectRefused`); other failures retry with full-jitter
 *     backoff until `giveUpAfter` (`fallbackConnectFailed`); a missing welcome falls back at once
 *     (`fallbackConfirmTimeout`); silence for `heartbeatTimeout` reconnects, the second time on
 *     one transport falls back (`fallbackHeartbeatLost`); falling off the last transport wraps
 *     around to the first, so a healed network is found again;
 *   - an open connection that ends after being open for `giveUpAfter` reconnects at once, a
 *     younger one backs off within the same give-up window;
 *   - upgrade probes every `benchmarkInterval` while not on the best transport: the better one
 *     opens beside the current one from the current cursor and takes over once welcomed with
 *     `recovered:true` and caught up (`upgradeProbeSucceeded`); a failed probe tries the next
 *     better transport, then waits one interval;
 *   - exactly-once, in-order delivery by (epoch, offset): offsets at or below the last delivered
 *     one are dropped and counted as duplicates, every open resumes from the last delivered
 *     cursor, a resume the server could not complete (`recovered:false`, a new epoch) is
 *     reported through `onRecoveryIncomplete`, never hidden;
 *   - client messages are numbered 1, 2, 3 … per client, kept until acknowledged and resent
 *     after every open (reconnect, EventSource reconnect, switch); the server drops resends by
 *     number.
 *
 * Simplifications (where the browser forces them or the Swift feature does not pay here):
 *   1. No pure state machine with action lists: one class reacts to transport callbacks and
 *      timers directly. Timers are named (`confirm:ID`, `retry`, `giveUp`, `heartbeat:ID`,
 *      `probe`); re-arming a name replaces it, as in the Swift timer table.
 *   2. RTT is measured once, by the `/negotiate` fetch (no TCP handshake or ping to time).
 *      "Connected" (which arms the confirm timeout) is the WebSocket `open` event (the 101)
 *      and, for SSE and Custom Sync, sending the request (a buffering proxy holds an event
 *      stream's response head back too). Before that only `giveUpAfter` bounds an attempt.
 *   3. Only a WebSocket can be "refused": browsers report an RST, a DNS failure and a rejected
 *      upgrade alike (an error before `open`, close code 1006), so both count. An SSE or sync
 *      request that fails before its welcome is an ordinary failure (backoff until give-up).
 *   4. Browsers cannot send WebSocket pings nor see pongs or SSE comment lines. Liveness is any
 *      traffic (welcome, message, ack, sync response). After `heartbeatInterval` (25 s) of
 *      silence the manager asks for traffic: on WebSocket it sends `{"type":"send","seq":0,
 *      "data":null}`, which the server answers with an ack (seq 0 is never a new message, so it
 *      is dropped as a resend); on SSE it checks with one `GET /sync?since=<last>` whether the
 *      topic is merely idle (a 304 or an empty batch at our cursor counts as a heartbeat), so a
 *      quiet topic does not look like a dead stream. With nothing heard for `heartbeatTimeout`
 *      (35 s) the connection is lost. Buffering detection by late heartbeats (`bufferingStrikes`)
 *      needs the heartbeat cadence and is left out; a buffered stream still fails the heartbeat
 *      timeout or the welcome.
 *   5. EventSource reconnects by itself (stream recycling after ~128 KiB, a dropped connection)
 *      with `Last-Event-ID`; that is normal, not a failure: the new `welcome` is checked like a
 *      resume (an incomplete one is reported), the POST session is renewed and unacknowledged
 *      client messages are resent. If it dies before any event carried an id, it would reconnect
 *      from the live end, so the manager replaces it with a new EventSource that passes
 *      `cursor=` instead. An EventSource that gives up (readyState CLOSED) is a lost connection.
 *   6. Not ported: the latency-threshold switch, the per-network transport memory, the
 *      permessage-deflate option and binary frames. `switches` counts changes with a `from`
 *      (the initial choice is in `methodChanges`).
 *   7. The `negotiate` answer only narrows the preference order to the transports the server
 *      offers and supplies endpoint paths; if it fails the manager proceeds with the defaults.
 *   8. Custom Sync: the confirm floor is `syncConfirmTimeoutFloor` (2 × confirmTimeoutFloor, i.e.
 *      5 s, as in Swift); after it opened, HTTP or network errors back off (0.5 s doubling to
 *      20 s) and the sixth in a row ends the connection. A POST /send answered 404 (the session
 *      died with its connection) waits for a fresh session: the next SSE welcome, or the next
 *      sync batch (the manager drops its ETag once so the server answers 200 with one).
 */
(function () {
  "use strict";

  // MARK: Names and defaults

  const METHODS = ["websocket", "sse", "sync"];
  const ALIASES = {
    websocket: "websocket",
    ws: "websocket",
    sse: "sse",
    eventsource: "sse",
    "server-sent-events": "sse",
    sync: "sync",
    "custom-sync": "sync",
    customsync: "sync",
    "custom_sync": "sync",
    polling: "sync",
  };

  /** Reason codes of `onMethodChange`, the same strings as the Swift `MethodChangeReason`. */
  const REASONS = Object.freeze({
    initial: "initial",
    fallbackConnectFailed: "fallbackConnectFailed",
    fallbackConnectRefused: "fallbackConnectRefused",
    fallbackConfirmTimeout: "fallbackConfirmTimeout",
    fallbackHeartbeatLost: "fallbackHeartbeatLost",
    transportClosedByServer: "transportClosedByServer",
    upgradeProbeSucceeded: "upgradeProbeSucceeded",
  });

  const DEFAULT_ENDPOINTS = Object.freeze({ websocket: "/ws", sse: "/events", sync: "/sync", send: "/send", negotiate: "/negotiate" });

  const DEFAULTS = Object.freeze({
    url: undefined,
    topic: "metrics",
    defaultMethod: "websocket",
    fallbackMethods: ["sse", "sync"],
    autoSwitch: true,
    autoConnect: true,
    enablePerformanceMonitoring: true,
    benchmarkInterval: 300000,
    syncInterval: 2000,
    longPoll: 0,
    syncBatchSize: 50,
    confirmTimeoutFloor: 2500,
    syncConfirmTimeoutFloor: undefined, // 2 × confirmTimeoutFloor
    confirmRttMultiplier: 4,
    initialRtt: 500,
    giveUpAfter: 10000,
    refusalsBeforeFallback: 2,
    backoff: { base: 500, cap: 20000 },
    heartbeatInterval: 25000,
    heartbeatTimeout: 35000,
    heartbeatLossesBeforeFallback: 2,
    idleCheck: true,
    sendQueueLimit: 1000,
    latencySamples: 100,
    syncMaxConsecutiveErrors: 5,
    clientId: undefined,
    onMethodChange: undefined,
    onMessage: undefined,
    onRecoveryIncomplete: undefined,
    onError: undefined,
    env: undefined,
  });

  /** `websocket`, `sse` or `sync` for any accepted spelling; throws on an unknown one. */
  function canonicalMethod(name) {
    const key = String(name).trim().toLowerCase();
    const method = ALIASES[key];
    if (!method) throw new TypeError(`crosswind: unknown transport '${name}' (use websocket, sse, sync or custom-sync)`);
    return method;
  }

  /** `"E:O"` → {epoch, offset}; null for anything else. */
  function parseCursor(text) {
    const match = /^(\d+):(\d+)$/.exec(String(text == null ? "" : text).trim());
    return match ? { epoch: Number(match[1]), offset: Number(match[2]) } : null;
  }

  function formatCursor(cursor) {
    return cursor ? `${cursor.epoch}:${cursor.offset}` : null;
  }

  /** Query string with `:` kept literal, so cursors read `cursor=42:7` on the wire. */
  function query(params) {
    const parts = [];
    for (const [name, value] of params) {
      if (value === undefined || value === null || value === "") continue;
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value)).replace(/%3A/gi, ":")}`);
    }
    return parts.length ? `?${parts.join("&")}` : "";
  }

  function isCount(value) {
    return typeof value === "number" && Number.isFinite(value) && value >= 0;
  }

  /** The platform, or the test's fakes. Functions are wrapped so browsers never see a foreign `this`. */
  function makeEnv(env) {
    const e = env || {};
    const g = typeof globalThis !== "undefined" ? globalThis : {};
    const setT = e.setTimeout || g.setTimeout;
    const clearT = e.clearTimeout || g.clearTimeout;
    const fetchImpl = e.fetch || g.fetch;
    return {
      WebSocket: e.WebSocket || g.WebSocket,
      EventSource: e.EventSource || g.EventSource,
      fetch: fetchImpl ? (url, init) => fetchImpl(url, init) : undefined,
      setTimeout: (fn, ms) => setT(fn, ms),
      clearTimeout: (handle) => clearT(handle),
      now: e.now || (() => Date.now()),
      random: e.random || Math.random,
      AbortController: "AbortController" in e ? e.AbortController : g.AbortController,
    };
  }

  function normalizeOptions(options) {
    const o = Object.assign({}, DEFAULTS, options || {});
    o.backoff = Object.assign({}, DEFAULTS.backoff, (options && options.backoff) || {});
    o.defaultMethod = canonicalMethod(o.defaultMethod);
    const fallbacks = o.fallbackMethods == null ? [] : Array.isArray(o.fallbackMethods) ? o.fallbackMethods : [o.fallbackMethods];
    o.fallbackMethods = fallbacks.map(canonicalMethod);
    if (o.syncConfirmTimeoutFloor === undefined) o.syncConfirmTimeoutFloor = 2 * o.confirmTimeoutFloor;
    for (const name of ["benchmarkInterval", "syncInterval", "longPoll", "confirmTimeoutFloor", "syncConfirmTimeoutFloor",
      "giveUpAfter", "heartbeatInterval", "heartbeatTimeout", "initialRtt"]) {
      if (!isCount(o[name])) throw new TypeError(`crosswind: ${name} must be a number of milliseconds >= 0, got ${o[name]}`);
    }
    if (!isCount(o.backoff.base) || !isCount(o.backoff.cap)) throw new TypeError("crosswind: backoff needs numeric base and cap (ms)");
    o.topic = String(o.topic);
    return o;
  }

  function newPerformance() {
    return {
      attempts: 0, // connection attempts, probes included
      opens: 0, // attempts that were welcomed and became (or were switched to as) the transport
      failures: 0, // attempts that never opened: refused, failed, confirm timeouts, given up
      refused: 0, // of which refused (WebSocket error before open / 1006 before welcome)
      confirmTimeouts: 0, // of which the welcome never came
      heartbeatLosses: 0, // open connections that went silent for heartbeatTimeout
      closedAfterOpen: 0, // open connections closed by the server or lost
      reconnects: 0, // EventSource's own reconnects (a new welcome on the same attempt)
      probes: 0,
      probesSucceeded: 0,
      messages: 0, // delivered via this transport
      duplicates: 0, // suppressed on this transport
      timeOpenMs: 0,
      latency: { count: 0, last: null, average: null, min: null, max: null, samples: [] },
    };
  }

  function recordLatency(record, value, keep) {
    record.count += 1;
    record.last = value;
    record.sum = (record.sum || 0) + value;
    record.average = record.sum / record.count;
    record.min = record.min === null ? value : Math.min(record.min, value);
    record.max = record.max === null ? value : Math.max(record.max, value);
    record.samples.push(value);
    if (record.samples.length > keep) record.samples.splice(0, record.samples.length - keep);
  }

  // MARK: Transports
  //
  // A transport is one connection attempt. It reports to `events` (connected, welcome, message,
  // heartbeat, ack, closed, error) until `close()`; after close it reports nothing. `ctx` gives
  // it the manager's URLs, options, env, outbox and cursor.

  /** `POST /send?session=S` beside SSE and Custom Sync: one request in flight, the whole outbox each time. */
  class HttpSender {
    constructor(ctx, events, onSessionLost) {
      this.ctx = ctx;
      this.events = events;
      this.onSessionLost = onSessionLost;
      this.session = null;
      this.inFlight = false;
      this.done = false;
      this.errors = 0;
      this.retryHandle = null;
      this.controller = null;
    }

    setSession(session) {
      if (typeof session === "string" && session) {
        this.session = session;
        this.flush();
      }
    }

    flush() {
      if (this.done || this.inFlight || !this.session || this.retryHandle !== null) return;
      const batch = this.ctx.outbox();
      if (batch.length === 0) return;
      const env = this.ctx.env;
      if (!env.fetch) return;
      const highestSent = batch[batch.length - 1].seq;
      const body = JSON.stringify({ type: "send", messages: batch.map((m) => ({ seq: m.seq, data: m.data })) });
      this.inFlight = true;
      this.controller = env.AbortController ? new env.AbortController() : null;
      const init = { method: "POST", headers: { "Content-Type": "application/json" }, body, cache: "no-store" };
      if (this.controller) init.signal = this.controller.signal;
      const url = this.ctx.httpUrl(this.ctx.endpoints.send, [["session", this.session]]);
      Promise.resolve()
        .then(() => env.fetch(url, init))
        .then(async (response) => {
          if (this.done) return;
          if (response.status === 200) {
            const answer = await response.json();
            if (this.done) return;
            this.inFlight = false;
            this.errors = 0;
            if (answer && answer.type === "ack" && isCount(answer.seq)) this.events.ack(answer.seq);
            // More to send only if something newer than this batch is waiting (no loop on a short ack).
            const rest = this.ctx.outbox();
            if (rest.length && rest[rest.length - 1].seq > highestSent) this.flush();
            else if (rest.length) this.retryLater();
          } else if (response.status === 404) {
            this.inFlight = false;
            this.session = null; // wait for a fresh session, then flush again
            if (this.onSessionLost) this.onSessionLost();
          } else {
            this.inFlight = false;
            this.events.error(`POST ${this.ctx.endpoints.send} answered ${response.status}`);
            this.retryLater();
          }
        })
        .catch((error) => {
          if (this.done) return;
          this.inFlight = false;
          this.events.error(`POST ${this.ctx.endpoints.send} failed: ${error && error.message ? error.message : error}`);
          this.retryLater();
        });
    }

    retryLater() {
      if (this.done || this.retryHandle !== null) return;
      const { base, cap } = this.ctx.options.backoff;
      const delay = Math.min(cap, base * Math.pow(2, Math.min(this.errors, 20)));
      this.errors += 1;
      this.retryHandle = this.ctx.env.setTimeout(() => {
        this.retryHandle = null;
        this.flush();
      }, delay);
    }

    close() {
      this.done = true;
      if (this.retryHandle !== null) this.ctx.env.clearTimeout(this.retryHandle);
      this.retryHandle = null;
      if (this.controller) {
        try { this.controller.abort(); } catch (_) { /* already done */ }
      }
    }
  }

  class WebSocketTransport {
    constructor(ctx, events, resumeFrom) {
      this.ctx = ctx;
      this.events = events;
      this.resumeFrom = resumeFrom;
      this.socket = null;
      this.opened = false;
      this.welcomed = false;
      this.done = false;
    }

    open() {
      const env = this.ctx.env;
      const url = this.ctx.wsUrl(this.ctx.endpoints.websocket, [
        ["topic", this.ctx.options.topic],
        ["cursor", formatCursor(this.resumeFrom)],
        ["client", this.ctx.clientId],
      ]);
      let socket;
      try {
        if (!env.WebSocket) throw new Error("WebSocket is not available here");
        socket = new env.WebSocket(url);
      } catch (error) {
        // Deferred so the manager never sees a callback from inside its own `open` call.
        Promise.resolve().then(() => this.fail("refused", `WebSocket constructor: ${error && error.message ? error.message : error}`));
        return;
      }
      this.socket = socket;
      socket.onopen = () => {
        if (this.done) return;
        this.opened = true;
        this.events.connected();
      };
      socket.onmessage = (event) => {
        if (this.done) return;
        let frame;
        try {
          frame = JSON.parse(typeof event.data === "string" ? event.data : String(event.data));
        } catch (_) {
          this.events.error("undecodable WebSocket frame");
          return;
        }
        if (!frame || typeof frame !== "object") return;
        switch (frame.type) {
          case "welcome":
            this.welcomed = true;
            this.events.welcome(frame);
            break;
          case "message":
            this.events.message(frame);
            break;
          case "ack":
            this.events.traffic();
            if (isCount(frame.seq)) this.events.ack(frame.seq);
            break;
          case "error":
            this.events.traffic();
            this.events.error(`server: ${frame.reason}`);
            break;
          default:
            this.events.traffic();
        }
      };
      socket.onerror = () => {
        // Before `open` the browser could not connect or the upgrade was rejected: a refusal.
        // After it, the `close` event that follows says how it ended.
        if (!this.opened) this.fail("refused", "error before open");
      };
      socket.onclose = (event) => {
        const code = event && typeof event.code === "number" ? event.code : 1006;
        if (!this.welcomed) this.fail(code === 1006 ? "refused" : "failed", `closed ${code} before the welcome`);
        else this.fail(code === 1006 ? "lost" : "closedByServer", `closed ${code}${event && event.reason ? ` (${event.reason})` : ""}`);
      };
    }

    fail(cause, detail) {
      if (this.done) return;
      this.detach();
      this.events.closed(cause, detail);
    }

    /** Sends client messages as `{"type":"send","seq":N,"data":…}` text frames. */
    send(messages) {
      if (this.done || !this.socket || !this.welcomed || this.socket.readyState !== 1) return;
      for (const message of messages) {
        this.socket.send(JSON.stringify({ type: "send", seq: message.seq, data: message.data }));
      }
    }

    /** Asks the server for traffic: seq 0 is never new, so the server only acks it. */
    keepalive() {
      if (this.done || !this.socket || this.socket.readyState !== 1) return;
      this.socket.send('{"type":"send","seq":0,"data":null}');
    }

    detach() {
      this.done = true;
      const socket = this.socket;
      if (!socket) return;
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      return socket;
    }

    close() {
      if (this.done && !this.socket) return;
      const socket = this.detach();
      this.socket = null;
      if (socket && (socket.readyState === 0 || socket.readyState === 1)) {
        try { socket.close(1000, "client closed"); } catch (_) { /* closing anyway */ }
      }
    }
  }

  class SSETransport {
    constructor(ctx, events, resumeFrom) {
      this.ctx = ctx;
      this.events = events;
      this.resumeFrom = resumeFrom;
      this.source = null;
      this.connectedOnce = false;
      this.welcomed = false;
      this.done = false;
      this.idleCheckInFlight = null;
      this.sender = new HttpSender(ctx, events, null);
    }

    open() {
      this.openSource(this.resumeFrom);
    }

    openSource(cursor) {
      const env = this.ctx.env;
      const url = this.ctx.httpUrl(this.ctx.endpoints.sse, [
        ["topic", this.ctx.options.topic],
        ["cursor", formatCursor(cursor)],
        ["client", this.ctx.clientId],
      ]);
      let source;
      try {
        if (!env.EventSource) throw new Error("EventSource is not available here");
        source = new env.EventSource(url);
      } catch (error) {
        Promise.resolve().then(() => this.fail("failed", `EventSource constructor: ${error && error.message ? error.message : error}`));
        return;
      }
      this.source = source;
      // The request is on its way: the confirm timeout runs from here, not from the `open`
      // event, because a buffering proxy holds the response head back with the stream and
      // `open` would then never come (only the give-up deadline would end the attempt).
      if (!this.connectedOnce) {
        this.connectedOnce = true;
        this.events.connected();
      }
      source.addEventListener("welcome", (event) => {
        if (this.done || source !== this.source) return;
        let welcome;
        try { welcome = JSON.parse(event.data); } catch (_) { this.events.error("undecodable SSE welcome"); return; }
        this.welcomed = true;
        this.events.welcome(welcome);
        if (!this.done) this.sender.setSession(welcome && welcome.session);
      });
      source.addEventListener("message", (event) => {
        if (this.done || source !== this.source) return;
        let message;
        try { message = JSON.parse(event.data); } catch (_) { this.events.error("undecodable SSE event"); return; }
        if (message && typeof message === "object" && (!isCount(message.epoch) || !isCount(message.offset))) {
          const cursor = parseCursor(event.lastEventId);
          if (cursor) Object.assign(message, cursor);
        }
        this.events.message(message);
      });
      source.addEventListener("error", () => {
        if (this.done || source !== this.source) return;
        if (!this.welcomed) {
          // Before the welcome the manager decides about retries, not EventSource.
          this.fail("failed", "EventSource error before the welcome");
        } else if (source.readyState === 2) {
          this.fail("lost", "EventSource closed");
        } else if (!source.lastEventId && this.ctx.cursor()) {
          // It would reconnect from the live end: reconnect ourselves with our cursor instead.
          try { source.close(); } catch (_) { /* replacing it */ }
          this.openSource(this.ctx.cursor());
        }
        // Otherwise EventSource reconnects with Last-Event-ID; its new welcome tells the rest.
      });
    }

    fail(cause, detail) {
      if (this.done) return;
      this.close();
      this.events.closed(cause, detail);
    }

    send() {
      if (!this.done) this.sender.flush();
    }

    /**
     * After `heartbeatInterval` of silence: is the topic idle, or is the stream dead? Comment
     * heartbeats are invisible to EventSource, so one sync request at our cursor decides. A 304
     * (or an empty, recovered batch at our cursor) means nothing was published: a heartbeat.
     */
    keepalive() {
      const env = this.ctx.env;
      const cursor = this.ctx.cursor();
      if (this.done || !this.ctx.options.idleCheck || !env.fetch || !cursor || this.idleCheckInFlight) return;
      const controller = env.AbortController ? new env.AbortController() : null;
      this.idleCheckInFlight = controller || true;
      const url = this.ctx.httpUrl(this.ctx.endpoints.sync, [
        ["topic", this.ctx.options.topic],
        ["since", formatCursor(cursor)],
        ["limit", 1],
        ["client", this.ctx.clientId],
      ]);
      const init = { headers: { Accept: "application/json", "If-None-Match": `"${formatCursor(cursor)}"` }, cache: "no-store" };
      if (controller) init.signal = controller.signal;
      Promise.resolve()
        .then(() => env.fetch(url, init))
        .then(async (response) => {
          let idle = response.status === 304;
          if (response.status === 200) {
            const batch = await response.json();
            idle = !!batch && batch.recovered !== false && batch.epoch === cursor.epoch &&
              Array.isArray(batch.messages) && batch.messages.length === 0;
          }
          this.idleCheckInFlight = null;
          if (!this.done && idle) this.events.traffic();
        })
        .catch(() => { this.idleCheckInFlight = null; });
    }

    close() {
      this.done = true;
      this.sender.close();
      if (this.idleCheckInFlight && this.idleCheckInFlight !== true) {
        try { this.idleCheckInFlight.abort(); } catch (_) { /* done */ }
      }
      if (this.source) {
        try { this.source.close(); } catch (_) { /* closing anyway */ }
        this.source = null;
      }
    }
  }

  class SyncTransport {
    constructor(ctx, events, resumeFrom) {
      this.ctx = ctx;
      this.events = events;
      this.since = resumeFrom;
      this.etag = null;
      this.welcomed = false;
      this.done = false;
      this.errors = 0;
      this.pollHandle = null;
      this.controller = null;
      this.sender = new HttpSender(ctx, events, () => {
        // The session died with its HTTP connection; a 200 batch names the current one.
        this.etag = null;
      });
    }

    open() {
      if (!this.ctx.env.fetch) {
        Promise.resolve().then(() => this.fail("failed", "fetch is not available here"));
        return;
      }
      this.events.connected(); // the request is on its way: the confirm timeout runs from here
      this.poll();
    }

    schedule(delay) {
      if (this.done) return;
      if (this.pollHandle !== null) this.ctx.env.clearTimeout(this.pollHandle);
      this.pollHandle = this.ctx.env.setTimeout(() => {
        this.pollHandle = null;
        this.poll();
      }, delay);
    }

    poll() {
      if (this.done) return;
      const { options, env } = this.ctx;
      const url = this.ctx.httpUrl(this.ctx.endpoints.sync, [
        ["topic", options.topic],
        ["since", formatCursor(this.since)],
        ["limit", options.syncBatchSize],
        ["wait", this.welcomed && options.longPoll > 0 ? Math.round(options.longPoll) : null],
        ["client", this.ctx.clientId],
      ]);
      const headers = { Accept: "application/json" };
      if (this.etag) headers["If-None-Match"] = this.etag;
      const init = { headers, cache: "no-store" };
      this.controller = env.AbortController ? new env.AbortController() : null;
      if (this.controller) init.signal = this.controller.signal;
      Promise.resolve()
        .then(() => env.fetch(url, init))
        .then(async (response) => {
          if (this.done) return;
          if (response.status === 304) {
            if (!this.welcomed) return this.fail("failed", "304 before the first batch");
            this.errors = 0;
            this.events.traffic();
            this.schedule(options.longPoll > 0 ? 0 : options.syncInterval);
            return;
          }
          if (response.status !== 200) return this.error(`GET ${this.ctx.endpoints.sync} answered ${response.status}`);
          const batch = await response.json();
          if (this.done) return;
          const cursor = batch && batch.type === "batch" ? parseCursor(batch.cursor) : null;
          if (!cursor || !Array.isArray(batch.messages) || !isCount(batch.epoch)) return this.error("undecodable sync batch");
          this.errors = 0;
          const etag = response.headers && typeof response.headers.get === "function" ? response.headers.get("ETag") : null;
          this.etag = etag || `"${batch.cursor}"`;
          if (!this.welcomed) {
            // The first batch is the welcome: the stream continues at its first message, or after its cursor.
            this.welcomed = true;
            const first = batch.messages[0];
            const next = first && isCount(first.offset) ? first.offset : cursor.offset + 1;
            this.events.welcome({ type: "welcome", topic: batch.topic, epoch: batch.epoch, next, recovered: batch.recovered !== false, session: batch.session });
            if (this.done) return;
          } else {
            this.events.traffic();
          }
          this.sender.setSession(batch.session);
          for (const message of batch.messages) {
            if (this.done) return;
            this.events.message(message);
          }
          if (this.done) return;
          this.since = cursor;
          const full = batch.messages.length >= options.syncBatchSize;
          this.schedule(full || options.longPoll > 0 ? 0 : options.syncInterval);
        })
        .catch((error) => {
          if (this.done) return;
          this.error(`GET ${this.ctx.endpoints.sync} failed: ${error && error.message ? error.message : error}`);
        });
    }

    error(detail) {
      if (this.done) return;
      if (!this.welcomed) return this.fail("failed", detail);
      this.errors += 1;
      this.events.error(detail);
      if (this.errors > this.ctx.options.syncMaxConsecutiveErrors) return this.fail("lost", `${detail} (${this.errors} times in a row)`);
      this.schedule(Math.min(20000, 500 * Math.pow(2, this.errors - 1)));
    }

    fail(cause, detail) {
      if (this.done) return;
      this.close();
      this.events.closed(cause, detail);
    }

    send() {
      if (!this.done) this.sender.flush();
    }

    keepalive() {
      // Every poll response is traffic; nothing to ask for.
    }

    close() {
      this.done = true;
      this.sender.close();
      if (this.pollHandle !== null) this.ctx.env.clearTimeout(this.pollHandle);
      this.pollHandle = null;
      if (this.controller) {
        try { this.controller.abort(); } catch (_) { /* done */ }
      }
    }
  }

  const TRANSPORTS = { websocket: WebSocketTransport, sse: SSETransport, sync: SyncTransport };

  // MARK: The manager

  class RealtimeCommunicationManager {
    constructor(options) {
      this.options = normalizeOptions(options);
      this.env = makeEnv(this.options.env);
      const order = [this.options.defaultMethod];
      for (const method of this.options.fallbackMethods) if (!order.includes(method)) order.push(method);
      /** Preference order: default first, then the fallbacks ("better" = earlier). */
      this.order = order;
      this.configuredOrder = order.slice();
      const origin = typeof location !== "undefined" && location && location.origin && location.origin !== "null" ? location.origin : "";
      this.baseUrl = String(this.options.url !== undefined ? this.options.url : origin).replace(/\/+$/, "");
      this.clientId = this.options.clientId ? String(this.options.clientId) : `c${Math.floor(this.env.random() * 2 ** 52).toString(36)}${Math.floor(this.env.random() * 2 ** 30).toString(36)}`;
      this.endpoints = Object.assign({}, DEFAULT_ENDPOINTS);

      this.state = "idle"; // idle | negotiating | connecting | retrying | open
      this.run = null; // {method, troubleSince, failures, heartbeatLosses, refusals, giveUpReason}
      this.primary = null; // the attempt being connected, or the open one
      this.candidate = null; // an upgrade probe beside the open one
      this.last = null; // last delivered cursor {epoch, offset}
      this.timers = new Map();
      this.outbox = [];
      this.nextSeq = 1;
      this.nextAttemptId = 1;
      this.rtt = null;
      this.serverEpoch = null;
      this.lastReason = null;
      this.lastError = null;
      this.switchLog = [];
      this.perf = { websocket: newPerformance(), sse: newPerformance(), sync: newPerformance() };
      this.latency = { count: 0, last: null, average: null, min: null, max: null, samples: [] };
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
      this.ctx = {
        get env() { return manager.env; },
        get options() { return manager.options; },
        get endpoints() { return manager.endpoints; },
        get clientId() { return manager.clientId; },
        outbox: () => manager.outbox.slice(),
        cursor: () => (manager.last ? Object.assign({}, manager.last) : null),
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

    /** The last delivered cursor as `EPOCH:OFFSET`, where the next open resumes. */
    get cursor() {
      return formatCursor(this.last);
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
      this.negotiate(negotiation).then(() => {
        if (this.negotiation !== negotiation || this.state !== "negotiating") return;
        this.negotiation = null;
        this.beginRun(this.order[0], null, REASONS.initial);
      });
      return this.readyPromise;
    }

    /**
     * Sends a client message (any JSON value). Numbered per client and kept until the server
     * acknowledges it; sent now if a transport is open, else after the next open. Returns its number.
     */
    send(data) {
      const entry = { seq: this.nextSeq++, data: data === undefined ? null : data };
      this.outbox.push(entry);
      while (this.outbox.length > Math.max(0, this.options.sendQueueLimit)) {
        this.outbox.shift();
        this.counters.sendsDropped += 1;
      }
      if (this.state === "open" && this.primary && this.outbox.includes(entry)) this.primary.transport.send([entry]);
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
      for (const name of Array.from(this.timers.keys())) this.disarm(name);
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
        const record = JSON.parse(JSON.stringify(this.perf[method]));
        delete record.latency.sum;
        if (this.state === "open" && this.primary && this.primary.method === method && this.primary.openedAt !== null) {
          record.timeOpenMs += now - this.primary.openedAt;
        }
        transports[method] = record;
      }
      const latency = JSON.parse(JSON.stringify(this.latency));
      delete latency.sum;
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
        unacknowledged: this.outbox.length,
        counters: Object.assign({}, this.counters),
        latency,
        transports,
        switchLog: this.switchLog.map((entry) => Object.assign({}, entry)),
        lastError: this.lastError,
      };
    }

    // MARK: Negotiation

    async negotiate(negotiation) {
      const env = this.env;
      if (!env.fetch) {
        this.reportError("negotiate: fetch is not available");
        return;
      }
      const started = this.now();
      const controller = env.AbortController ? new env.AbortController() : null;
      const init = { headers: { Accept: "application/json" }, cache: "no-store" };
      if (controller) init.signal = controller.signal;
      let timer = null;
      const timeout = new Promise((_, reject) => {
        timer = env.setTimeout(() => {
          timer = null;
          if (controller) try { controller.abort(); } catch (_) { /* done */ }
          reject(new Error(`no answer within ${this.options.giveUpAfter} ms`));
        }, this.options.giveUpAfter);
      });
      try {
        const response = await Promise.race([Promise.resolve().then(() => env.fetch(`${this.baseUrl}${this.endpoints.negotiate}`, init)), timeout]);
        const rtt = this.now() - started;
        if (response.status !== 200) throw new Error(`answered ${response.status}`);
        const body = await Promise.race([response.json(), timeout]);
        this.rtt = rtt;
        if (body && typeof body === "object") {
          if (isCount(body.epoch)) this.serverEpoch = body.epoch;
          if (body.endpoints && typeof body.endpoints === "object") {
            for (const name of ["websocket", "sse", "sync", "send"]) {
              if (typeof body.endpoints[name] === "string" && body.endpoints[name].startsWith("/")) this.endpoints[name] = body.endpoints[name];
            }
          }
          if (Array.isArray(body.transports)) {
            const offered = body.transports.map((name) => { try { return canonicalMethod(name); } catch (_) { return null; } });
            const narrowed = this.configuredOrder.filter((method) => offered.includes(method));
            if (narrowed.length) this.order = narrowed;
          }
        }
      } catch (error) {
        this.reportError(`negotiate: ${error && error.message ? error.message : error}`);
      } finally {
        if (timer !== null) env.clearTimeout(timer);
      }
    }

    // MARK: Runs and attempts

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

    confirmTimeout(method) {
      const floor = method === "sync" ? this.options.syncConfirmTimeoutFloor : this.options.confirmTimeoutFloor;
      const rtt = this.rtt === null ? this.options.initialRtt : this.rtt;
      return Math.max(floor, this.options.confirmRttMultiplier * rtt);
    }

    backoffDelay(retry) {
      const { base, cap } = this.options.backoff;
      const ceiling = Math.min(cap, base * Math.pow(2, Math.min(retry, 40)));
      return this.env.random() * ceiling;
    }

    /** Switches to (or starts on) `method`: reports the change, opens an attempt, arms the give-up deadline. */
    beginRun(method, from, reason) {
      if (reason) this.methodChanged(from, method, reason);
      const now = this.now();
      this.run = { method, troubleSince: now, failures: 0, heartbeatLosses: 0, refusals: 0, giveUpReason: REASONS.fallbackConnectFailed };
      this.arm("giveUp", now + this.options.giveUpAfter, () => this.giveUpDue());
      this.openAttempt();
    }

    methodChanged(from, to, reason) {
      this.counters.methodChanges += 1;
      if (from) this.counters.switches += 1;
      this.lastReason = reason;
      const entry = { at: this.now(), from: from || null, to, reason };
      this.switchLog.push(entry);
      if (this.switchLog.length > 200) this.switchLog.shift();
      this.callback("onMethodChange", to, { from: from || null, reason });
    }

    newAttempt(method, purpose) {
      const attempt = {
        id: this.nextAttemptId++,
        method,
        purpose,
        resumeFrom: this.last ? Object.assign({}, this.last) : null,
        connected: false,
        welcomed: false,
        openedAt: null,
        lastHeard: null,
        keepaliveSent: false,
        catchUpTo: null,
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

    methodAfter(method) {
      const index = this.order.indexOf(method);
      return index < 0 ? this.order[0] : this.order[(index + 1) % this.order.length];
    }

    /** Leaves the run's transport for the next one (wrapping around). */
    fallBack(reason) {
      const from = this.run.method;
      this.disarm("giveUp");
      this.disarm("retry");
      this.disarm("probe");
      for (const attempt of [this.primary, this.candidate]) {
        if (!attempt) continue;
        attempt.transport.close();
        this.disarm(`confirm:${attempt.id}`);
        this.disarm(`heartbeat:${attempt.id}`);
      }
      this.primary = null;
      this.candidate = null;
      const next = this.methodAfter(from);
      this.beginRun(next, next === from ? null : from, next === from ? null : reason);
    }

    // MARK: Transport events

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
    }

    onConnected(attempt) {
      if (attempt.connected) return;
      attempt.connected = true;
      if (attempt.welcomed) return;
      // The connection is up; the welcome has the confirm timeout to come (a probe: the same).
      this.arm(`confirm:${attempt.id}`, this.now() + this.confirmTimeout(attempt.method), () => this.confirmExpired(attempt));
    }

    onWelcome(attempt, welcome) {
      if (!welcome || !isCount(welcome.epoch) || !isCount(welcome.next)) {
        this.protocolError(`${attempt.method}: malformed welcome`);
        return;
      }
      const normalized = { epoch: welcome.epoch, next: welcome.next, recovered: welcome.recovered !== false, session: welcome.session || null };
      if (attempt.welcomed) {
        // EventSource reconnected by itself (stream recycling, a dropped connection): a resume.
        this.perf[attempt.method].reconnects += 1;
        if (attempt === this.primary && this.state === "open") {
          this.heard(attempt);
          this.acceptWelcome(normalized, attempt.method);
          attempt.transport.send(this.outbox.slice());
        }
        return;
      }
      attempt.welcomed = true;
      if (!attempt.connected) attempt.connected = true;
      if (attempt === this.primary && this.state === "connecting") this.primaryOpened(attempt, normalized);
      else if (attempt === this.candidate) this.candidateWelcomed(attempt, normalized);
    }

    primaryOpened(attempt, welcome) {
      const now = this.now();
      this.disarm(`confirm:${attempt.id}`);
      this.disarm("giveUp");
      this.run.failures = 0;
      this.run.refusals = 0;
      // `troubleSince` stays: a connection that dies young continues the same stretch of trouble.
      this.state = "open";
      attempt.openedAt = now;
      attempt.lastHeard = now;
      this.perf[attempt.method].opens += 1;
      this.acceptWelcome(welcome, attempt.method);
      this.armHeartbeat(attempt);
      this.armProbeIfWorse(attempt.method);
      attempt.transport.send(this.outbox.slice());
      if (this.resolveReady) {
        this.resolveReady(attempt.method);
        this.resolveReady = null;
      }
    }

    /** Aligns the delivery position with a welcome of the open transport; reports an incomplete resume. */
    acceptWelcome(welcome, method) {
      const { epoch, next, recovered } = welcome;
      const last = this.last;
      if (!last) {
        // First welcome ever: start at the live end (or the first replayed message).
        this.last = { epoch, offset: Math.max(0, next - 1) };
        return;
      }
      if (last.epoch === epoch && recovered) return;
      // The server cannot replay what followed `last` (outside the replay window) or its history
      // restarted under a new epoch: say so, and continue where the stream resumes. Within one
      // epoch the position never moves back, so nothing is delivered twice.
      const before = Math.max(0, next - 1);
      const sameEpoch = last.epoch === epoch;
      this.last = { epoch, offset: sameEpoch ? Math.max(last.offset, before) : before };
      this.counters.recoveriesIncomplete += 1;
      this.callback("onRecoveryIncomplete", {
        reason: sameEpoch ? "outsideReplayWindow" : "newEpoch",
        lastDelivered: Object.assign({}, last),
        resumesAt: { epoch, offset: next },
        missing: sameEpoch ? Math.max(0, before - last.offset) : null,
        transport: method,
      });
    }

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
        if (this.state === "open") this.deliver(message, attempt.method);
        return;
      }
      // A probe: both transports feed the one position, whichever brings an offset first delivers it.
      this.deliver(message, attempt.method);
      const target = attempt.catchUpTo;
      if (target && attempt === this.candidate && (message.epoch !== target.epoch || message.offset >= target.offset)) {
        this.switchToCandidate(attempt);
      }
    }

    /** Exactly once, in order: offsets at or below the last delivered one are duplicates. */
    deliver(message, method) {
      const { epoch, offset } = message;
      const last = this.last;
      if (last && last.epoch === epoch && offset <= last.offset) {
        this.counters.duplicates += 1;
        this.perf[method].duplicates += 1;
        return false;
      }
      if (last && last.epoch !== epoch) {
        // A message of another epoch without a welcome saying so: the server's history was reset.
        this.counters.recoveriesIncomplete += 1;
        this.last = { epoch, offset };
        this.callback("onRecoveryIncomplete", {
          reason: "newEpoch",
          lastDelivered: Object.assign({}, last),
          resumesAt: { epoch, offset },
          missing: null,
          transport: method,
        });
      } else {
        if (last && offset > last.offset + 1) this.counters.missing += offset - last.offset - 1;
        this.last = { epoch, offset };
      }
      this.counters.delivered += 1;
      this.perf[method].messages += 1;
      const data = message.data;
      if (this.options.enablePerformanceMonitoring && data && typeof data === "object" && typeof data.ts === "number" && Number.isFinite(data.ts)) {
        const latency = this.now() - data.ts;
        recordLatency(this.perf[method].latency, latency, this.options.latencySamples);
        recordLatency(this.latency, latency, this.options.latencySamples);
      }
      this.callback("onMessage", { topic: message.topic, epoch, offset, data, transport: method });
      return true;
    }

    heard(attempt) {
      attempt.lastHeard = this.now();
      attempt.keepaliveSent = false;
    }

    onAck(attempt, seq) {
      this.heard(attempt);
      const before = this.outbox.length;
      this.outbox = this.outbox.filter((entry) => entry.seq > seq);
      this.counters.sendsAcknowledged += before - this.outbox.length;
    }

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
        // An immediate answer of "no" (a closed port, a REJECT, a rejected upgrade); the second in a row is enough.
        if (this.options.autoSwitch && this.run.refusals >= this.options.refusalsBeforeFallback) {
          perf.failures += 1;
          this.disarm(`confirm:${attempt.id}`);
          this.primary = null;
          this.fallBack(REASONS.fallbackConnectRefused);
          return;
        }
      } else {
        this.run.refusals = 0;
      }
      this.primaryFailed(attempt, false);
    }

    /** The attempt ended before its welcome: closed by itself, or timed out waiting for it. */
    primaryFailed(attempt, confirmTimedOut) {
      attempt.transport.close();
      this.disarm(`confirm:${attempt.id}`);
      this.primary = null;
      const perf = this.perf[attempt.method];
      perf.failures += 1;
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
    }

    /** Backs off before the next attempt of the run's transport; falls back once the give-up deadline passed. */
    retryLater() {
      const now = this.now();
      const run = this.run;
      run.failures += 1;
      if (run.troubleSince + this.options.giveUpAfter <= now) {
        if (this.options.autoSwitch) {
          this.fallBack(run.giveUpReason);
          return;
        }
        run.troubleSince = now;
      }
      this.state = "retrying";
      this.arm("retry", now + this.backoffDelay(run.failures - 1), () => {
        if (this.state === "retrying") this.openAttempt();
      });
      const deadline = run.troubleSince + this.options.giveUpAfter;
      if (this.deadline("giveUp") !== deadline) this.arm("giveUp", deadline, () => this.giveUpDue());
    }

    giveUpDue() {
      const run = this.run;
      if (!run) return;
      const now = this.now();
      if (this.state === "connecting" && this.primary) {
        const attempt = this.primary;
        attempt.transport.close();
        this.disarm(`confirm:${attempt.id}`);
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
        this.arm("giveUp", now + this.options.giveUpAfter, () => this.giveUpDue());
      }
    }

    confirmExpired(attempt) {
      if (attempt === this.primary && this.state === "connecting") {
        this.primaryFailed(attempt, true);
      } else if (attempt === this.candidate) {
        this.candidateFailed(attempt, attempt.connected);
      }
    }

    // MARK: Liveness

    /** Lazily re-armed: the next keepalive (after heartbeatInterval of silence) or the heartbeat timeout. */
    armHeartbeat(attempt) {
      const { heartbeatInterval, heartbeatTimeout } = this.options;
      let due = attempt.lastHeard + heartbeatTimeout;
      if (!attempt.keepaliveSent && heartbeatInterval < heartbeatTimeout) due = Math.min(due, attempt.lastHeard + heartbeatInterval);
      this.arm(`heartbeat:${attempt.id}`, due, () => this.heartbeatDue(attempt));
    }

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
    }

    /** The open connection ended: reconnect the same transport (at once if it was stable) or fall back. */
    connectionEnded(attempt, ending) {
      const now = this.now();
      attempt.transport.close();
      this.disarm(`heartbeat:${attempt.id}`);
      if (this.candidate) {
        // A probe only makes sense beside a working transport; the next open re-arms it.
        this.candidate.transport.close();
        this.disarm(`confirm:${this.candidate.id}`);
        this.candidate = null;
      }
      this.disarm("probe");
      const perf = this.perf[attempt.method];
      perf.timeOpenMs += now - attempt.openedAt;
      this.primary = null;
      const run = this.run;
      if (ending === "heartbeatLost") {
        perf.heartbeatLosses += 1;
        run.heartbeatLosses += 1;
        if (this.options.autoSwitch && run.heartbeatLosses >= Math.max(1, this.options.heartbeatLossesBeforeFallback)) {
          this.fallBack(REASONS.fallbackHeartbeatLost);
          return;
        }
      } else {
        perf.closedAfterOpen += 1;
      }
      if (now - attempt.openedAt >= this.options.giveUpAfter) {
        // A stable connection ended: reconnect at once, with a fresh give-up window.
        run.troubleSince = now;
        run.failures = 0;
        this.arm("giveUp", now + this.options.giveUpAfter, () => this.giveUpDue());
        this.openAttempt();
        return;
      }
      // It died young: part of the same stretch of trouble.
      run.giveUpReason = ending === "closedByServer" ? REASONS.transportClosedByServer
        : ending === "heartbeatLost" ? REASONS.fallbackHeartbeatLost : REASONS.fallbackConnectFailed;
      this.retryLater();
    }

    // MARK: Upgrade probes

    armProbeIfWorse(method) {
      if (!this.options.autoSwitch || this.order.indexOf(method) <= 0 || this.timers.has("probe")) return;
      this.arm("probe", this.now() + this.options.benchmarkInterval, () => this.probeDue());
    }

    probeDue() {
      if (this.state !== "open" || !this.primary) return; // the next open arms it again
      if (this.candidate) {
        this.arm("probe", this.now() + this.options.benchmarkInterval, () => this.probeDue());
        return;
      }
      const index = this.order.indexOf(this.primary.method);
      const better = index < 0 ? [] : this.order.slice(0, index);
      if (better.length) this.startCandidate(better);
    }

    /** Opens `methods[0]` beside the open connection, resuming after the last delivered message. */
    startCandidate(methods) {
      const attempt = this.newAttempt(methods[0], "probe");
      attempt.remaining = methods.slice(1);
      this.perf[attempt.method].probes += 1;
      this.candidate = attempt;
      // Until it connects, a probe gets as long as a transport gets to open at all.
      this.arm(`confirm:${attempt.id}`, this.now() + this.options.giveUpAfter, () => this.confirmExpired(attempt));
      attempt.transport.open();
    }

    candidateWelcomed(attempt, welcome) {
      const last = this.last;
      if (!last || welcome.epoch !== last.epoch || !welcome.recovered) {
        // It cannot continue where the open transport is: switching would open a gap.
        this.candidateFailed(attempt, false);
        return;
      }
      const target = { epoch: welcome.epoch, offset: Math.max(0, welcome.next - 1) };
      if (target.offset <= last.offset) {
        // Everything after our position comes on it, in order: caught up already.
        this.switchToCandidate(attempt);
        return;
      }
      attempt.catchUpTo = target;
      // Catching up gets one more confirm timeout.
      this.arm(`confirm:${attempt.id}`, this.now() + this.confirmTimeout(attempt.method), () => this.confirmExpired(attempt));
    }

    candidateFailed(attempt, timedOut) {
      attempt.transport.close();
      this.disarm(`confirm:${attempt.id}`);
      const perf = this.perf[attempt.method];
      perf.failures += 1;
      if (timedOut) perf.confirmTimeouts += 1;
      this.candidate = null;
      if (this.state !== "open") return;
      if (attempt.remaining.length) {
        this.startCandidate(attempt.remaining);
        return;
      }
      this.arm("probe", this.now() + this.options.benchmarkInterval, () => this.probeDue());
    }

    /** The probe is welcomed, resumed and caught up: it becomes the transport; the old one is closed. */
    switchToCandidate(attempt) {
      const now = this.now();
      const old = this.primary;
      old.transport.close();
      this.disarm(`heartbeat:${old.id}`);
      this.disarm(`confirm:${attempt.id}`);
      this.disarm("probe");
      this.perf[old.method].timeOpenMs += now - old.openedAt;
      this.candidate = null;
      this.primary = attempt;
      attempt.purpose = "primary";
      attempt.openedAt = now;
      attempt.lastHeard = now;
      attempt.keepaliveSent = false;
      this.perf[attempt.method].opens += 1;
      this.perf[attempt.method].probesSucceeded += 1;
      this.run = { method: attempt.method, troubleSince: now, failures: 0, heartbeatLosses: 0, refusals: 0, giveUpReason: REASONS.fallbackConnectFailed };
      this.state = "open";
      this.methodChanged(old.method, attempt.method, REASONS.upgradeProbeSucceeded);
      this.armHeartbeat(attempt);
      this.armProbeIfWorse(attempt.method);
      attempt.transport.send(this.outbox.slice());
    }

    // MARK: Timers and callbacks

    arm(name, at, fn) {
      this.disarm(name);
      const entry = { at, handle: null };
      entry.handle = this.env.setTimeout(() => {
        if (this.timers.get(name) !== entry) return; // replaced or cancelled meanwhile
        this.timers.delete(name);
        fn();
      }, Math.max(0, at - this.now()));
      this.timers.set(name, entry);
    }

    disarm(name) {
      const entry = this.timers.get(name);
      if (!entry) return false;
      this.timers.delete(name);
      this.env.clearTimeout(entry.handle);
      return true;
    }

    deadline(name) {
      const entry = this.timers.get(name);
      return entry ? entry.at : null;
    }

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

  const api = {
    RealtimeCommunicationManager,
    REASONS,
    METHODS: METHODS.slice(),
    DEFAULTS,
    canonicalMethod,
    parseCursor,
    formatCursor,
    version: "1",
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (typeof globalThis !== "undefined") globalThis.Crosswind = api;
})();
