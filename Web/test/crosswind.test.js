// Unit tests of Web/crosswind.js: `node --test Web/test/` (Node 20's built-in runner, no packages).
//
// The manager runs against fakes: a clock whose timers fire only when a test advances it, a
// WebSocket and an EventSource the test plays the server side of, and a fetch that answers
// /negotiate, /sync and /send from per-test handlers. Each test narrates its scenario.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const Crosswind = require(path.join(__dirname, "..", "crosswind.js"));
const { RealtimeCommunicationManager } = Crosswind;

const EPOCH = 42;

// MARK: Fakes

/** Lets promise chains (fetch answers, JSON bodies) run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { id, at: this.t + Math.max(0, Number(ms) || 0), fn });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  nextDue() {
    let next = null;
    for (const timer of this.timers.values()) {
      if (!next || timer.at < next.at || (timer.at === next.at && timer.id < next.id)) next = timer;
    }
    return next;
  }

  /** Moves time forward by `ms`, firing due timers in deadline order (promises settle in between). */
  async advance(ms) {
    const target = this.t + ms;
    await flush();
    for (;;) {
      const next = this.nextDue();
      if (!next || next.at > target) break;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await flush();
    }
    this.t = target;
    await flush();
  }
}

function fakeResponse(status, body, headers = {}) {
  const lower = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name) => (name.toLowerCase() in lower ? lower[name.toLowerCase()] : null) },
    json: async () => (typeof body === "string" ? JSON.parse(body) : body),
  };
}

function welcomeFrame(epoch, next, recovered = true, session = `${epoch}-1`) {
  return { type: "welcome", topic: "metrics", epoch, next, recovered, session };
}

function messageFrame(epoch, offset, data = { n: offset }) {
  return { type: "message", topic: "metrics", epoch, offset, data };
}

/** A network of fakes; `net.env` goes into the manager's options. */
function makeNet() {
  const clock = new FakeClock();
  const net = {
    clock,
    sockets: [],
    sources: [],
    requests: [],
    negotiate: () => fakeResponse(200, { transports: ["websocket", "sse", "sync"], endpoints: { websocket: "/ws", sse: "/events", sync: "/sync", send: "/send" }, epoch: EPOCH }),
    sync: null, // (request) => response | Promise<response>
    send: null,
    syncQueue: [], // pending /sync requests when `sync` is null: {request, respond}
  };

  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      this.onopen = this.onmessage = this.onerror = this.onclose = null;
      net.sockets.push(this);
    }
    send(text) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(JSON.parse(text));
    }
    close(code) {
      this.closedByClient = code === undefined ? 1005 : code;
      this.readyState = 3;
    }
    // Server side.
    accept() {
      this.readyState = 1;
      if (this.onopen) this.onopen({});
    }
    frame(object) {
      if (this.onmessage) this.onmessage({ data: JSON.stringify(object) });
    }
    welcome(epoch, next, recovered = true) {
      this.frame(welcomeFrame(epoch, next, recovered));
    }
    message(epoch, offset, data) {
      this.frame(messageFrame(epoch, offset, data));
    }
    refuse() {
      this.readyState = 3;
      if (this.onerror) this.onerror({});
      if (this.onclose) this.onclose({ code: 1006, reason: "" });
    }
    drop(code = 1006) {
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason: "" });
    }
    get sends() {
      return this.sent.filter((f) => f.type === "send" && f.seq > 0);
    }
  }

  class FakeEventSource {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.lastEventId = "";
      this.listeners = {};
      this.closedByClient = false;
      net.sources.push(this);
    }
    addEventListener(type, fn) {
      (this.listeners[type] = this.listeners[type] || []).push(fn);
    }
    close() {
      this.readyState = 2;
      this.closedByClient = true;
    }
    emit(type, event) {
      for (const fn of this.listeners[type] || []) fn(event);
    }
    // Server side.
    open() {
      this.readyState = 1;
      this.emit("open", {});
    }
    welcome(epoch, next, recovered = true, session = `${epoch}-7`) {
      this.emit("welcome", { data: JSON.stringify(welcomeFrame(epoch, next, recovered, session)), lastEventId: this.lastEventId });
    }
    message(epoch, offset, data) {
      this.lastEventId = `${epoch}:${offset}`;
      this.emit("message", { data: JSON.stringify(messageFrame(epoch, offset, data)), lastEventId: this.lastEventId });
    }
    /** The stream broke; EventSource reconnects by itself (readyState CONNECTING) or gives up (CLOSED). */
    error(readyState = 0) {
      this.readyState = readyState;
      this.emit("error", {});
    }
  }

  function fetch(url, init = {}) {
    const parsed = new URL(url);
    const request = { url, path: parsed.pathname, params: parsed.searchParams, init, headers: init.headers || {}, body: init.body ? JSON.parse(init.body) : null };
    net.requests.push(request);
    if (request.path === "/negotiate") return Promise.resolve(net.negotiate(request));
    if (request.path === "/sync") {
      if (net.sync) return Promise.resolve(net.sync(request));
      return new Promise((resolve) => net.syncQueue.push({ request, respond: resolve }));
    }
    if (request.path === "/send") {
      if (net.send) return Promise.resolve(net.send(request));
      return Promise.resolve(fakeResponse(200, { type: "ack", seq: request.body.messages[request.body.messages.length - 1].seq }));
    }
    return Promise.resolve(fakeResponse(404, { type: "error", reason: "no such endpoint" }));
  }

  net.env = {
    WebSocket: FakeWebSocket,
    EventSource: FakeEventSource,
    fetch,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    random: () => 0.5,
    AbortController: null,
  };
  net.lastSocket = () => net.sockets[net.sockets.length - 1];
  net.lastSource = () => net.sources[net.sources.length - 1];
  net.syncRequests = () => net.requests.filter((r) => r.path === "/sync");
  return net;
}

/** A manager on fakes that records what it tells the application. */
async function start(options = {}, net = makeNet()) {
  const seen = { messages: [], changes: [], incomplete: [], errors: [] };
  const manager = new RealtimeCommunicationManager(Object.assign({
    url: "http://dash.test",
    clientId: "client-1",
    env: net.env,
    onMessage: (m) => seen.messages.push(m),
    onMethodChange: (method, info) => seen.changes.push({ method, from: info.from, reason: info.reason }),
    onRecoveryIncomplete: (info) => seen.incomplete.push(info),
    onError: (detail) => seen.errors.push(detail),
  }, options));
  await flush();
  return { manager, net, seen, clock: net.clock, offsets: () => seen.messages.map((m) => m.offset) };
}

/** Opens the default WebSocket: accept the upgrade, then the welcome. */
async function openWebSocket(h, next = 1) {
  const socket = h.net.lastSocket();
  socket.accept();
  socket.welcome(EPOCH, next);
  await flush();
  return socket;
}

// MARK: WebSocket

test("the welcome opens the WebSocket; the 101 alone does not", async () => {
  const h = await start();
  // negotiate answered, the default transport is being tried.
  assert.equal(h.net.requests[0].path, "/negotiate");
  assert.deepEqual(h.seen.changes, [{ method: "websocket", from: null, reason: "initial" }]);
  const socket = h.net.lastSocket();
  assert.equal(socket.url, "ws://dash.test/ws?topic=metrics&client=client-1");
  // Upgrade accepted: connected, not open.
  socket.accept();
  assert.equal(h.manager.isOpen, false);
  assert.equal(h.manager.stats().state, "connecting");
  // The welcome opens it.
  socket.welcome(EPOCH, 5);
  assert.equal(h.manager.isOpen, true);
  assert.equal(h.manager.method, "websocket");
  assert.equal(h.manager.cursor, "42:4");
  assert.equal(await h.manager.connect(), "websocket");
  const stats = h.manager.stats();
  assert.equal(stats.transports.websocket.attempts, 1);
  assert.equal(stats.transports.websocket.opens, 1);
  h.manager.close();
  assert.equal(socket.closedByClient, 1000);
});

test("messages are delivered once, in order; duplicates are dropped and counted", async () => {
  const h = await start();
  const socket = await openWebSocket(h, 5);
  // 5, 6, a resent 6, 7, an old 5, a gap to 9.
  socket.message(EPOCH, 5, { ts: h.clock.now() - 12, cpu: 40 });
  socket.message(EPOCH, 6, { ts: h.clock.now() - 20, cpu: 41 });
  socket.message(EPOCH, 6);
  socket.message(EPOCH, 7);
  socket.message(EPOCH, 5);
  socket.message(EPOCH, 9);
  assert.deepEqual(h.offsets(), [5, 6, 7, 9]);
  assert.deepEqual(h.seen.messages[0], { topic: "metrics", epoch: EPOCH, offset: 5, data: { ts: h.clock.now() - 12, cpu: 40 }, transport: "websocket" });
  const stats = h.manager.stats();
  assert.equal(stats.counters.delivered, 4);
  assert.equal(stats.counters.duplicates, 2);
  assert.equal(stats.counters.missing, 1);
  assert.equal(stats.transports.websocket.messages, 4);
  assert.equal(stats.transports.websocket.duplicates, 2);
  // Latency from data.ts: 12 ms and 20 ms.
  assert.equal(stats.transports.websocket.latency.count, 2);
  assert.equal(stats.transports.websocket.latency.last, 20);
  assert.equal(stats.transports.websocket.latency.average, 16);
  assert.deepEqual(stats.transports.websocket.latency.samples, [12, 20]);
  assert.equal(stats.latency.average, 16);
  assert.equal(stats.cursor, "42:9");
  h.manager.close();
});

test("a lost connection reconnects from the last delivered cursor; the overlap is suppressed", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  first.message(EPOCH, 1);
  first.message(EPOCH, 2);
  first.message(EPOCH, 3);
  // The connection breaks young: backoff (random 0.5 of 500 ms), then a new attempt with the cursor.
  first.drop(1006);
  assert.equal(h.manager.stats().state, "retrying");
  await h.clock.advance(250);
  const second = h.net.lastSocket();
  assert.notEqual(second, first);
  assert.equal(second.url, "ws://dash.test/ws?topic=metrics&cursor=42:3&client=client-1");
  second.accept();
  second.welcome(EPOCH, 2); // the server replays from 2
  second.message(EPOCH, 2);
  second.message(EPOCH, 3);
  second.message(EPOCH, 4);
  assert.deepEqual(h.offsets(), [1, 2, 3, 4]);
  assert.equal(h.manager.stats().counters.duplicates, 2);
  assert.equal(h.seen.changes.length, 1, "a reconnect of the same transport is not a method change");
  assert.equal(h.seen.incomplete.length, 0);
  h.manager.close();
});

test("a resume outside the replay window or into a new epoch is reported, never hidden", async () => {
  const h = await start();
  const first = await openWebSocket(h, 10);
  first.message(EPOCH, 10);
  first.drop(1006);
  await h.clock.advance(250);
  // Same epoch, but the server could not replay after 42:10: it resumes at 50 with a snapshot.
  const second = h.net.lastSocket();
  second.accept();
  second.welcome(EPOCH, 50, false);
  assert.equal(h.seen.incomplete.length, 1);
  assert.deepEqual(h.seen.incomplete[0], { reason: "outsideReplayWindow", lastDelivered: { epoch: 42, offset: 10 }, resumesAt: { epoch: 42, offset: 50 }, missing: 39, transport: "websocket" });
  second.message(EPOCH, 50);
  assert.deepEqual(h.offsets(), [10, 50]);
  // The server restarted: a new epoch, delivered and reported.
  second.drop(1006);
  await h.clock.advance(500);
  const third = h.net.lastSocket();
  assert.match(third.url, /cursor=42:50/);
  third.accept();
  third.welcome(77, 1, false);
  third.message(77, 1);
  assert.equal(h.seen.incomplete.length, 2);
  assert.equal(h.seen.incomplete[1].reason, "newEpoch");
  assert.deepEqual(h.offsets(), [10, 50, 1]);
  assert.equal(h.manager.cursor, "77:1");
  h.manager.close();
});

test("a WebSocket refused twice in a row falls back to SSE at once (fallbackConnectRefused)", async () => {
  const h = await start();
  h.net.lastSocket().refuse();
  // One refusal: retry the same transport after the backoff.
  assert.equal(h.manager.method, "websocket");
  await h.clock.advance(250);
  assert.equal(h.net.sockets.length, 2);
  // A 101-less close (1006) before the welcome is a refusal too.
  h.net.lastSocket().drop(1006);
  assert.equal(h.manager.method, "sse");
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackConnectRefused" });
  const source = h.net.lastSource();
  assert.equal(source.url, "http://dash.test/events?topic=metrics&client=client-1");
  source.open();
  source.welcome(EPOCH, 1);
  assert.equal(h.manager.isOpen, true);
  const stats = h.manager.stats();
  assert.equal(stats.transports.websocket.refused, 2);
  assert.equal(stats.transports.websocket.failures, 2);
  assert.equal(stats.counters.switches, 1);
  assert.equal(stats.lastReason, "fallbackConnectRefused");
  h.manager.close();
});

test("a WebSocket that is upgraded but never welcomed times out (confirm) and falls back to SSE", async () => {
  const h = await start();
  const socket = h.net.lastSocket();
  socket.accept(); // "101 then silence"
  await h.clock.advance(2499);
  assert.equal(h.manager.method, "websocket");
  await h.clock.advance(1);
  assert.equal(h.manager.method, "sse");
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackConfirmTimeout" });
  assert.equal(socket.closedByClient, 1000);
  assert.equal(h.manager.stats().transports.websocket.confirmTimeouts, 1);
  h.manager.close();
});

test("the confirm timeout is max(floor, 4 × RTT), the RTT measured by /negotiate", async () => {
  const net = makeNet();
  // /negotiate answers after 1 s: RTT 1000 ms, confirm timeout 4000 ms.
  const answer = net.negotiate;
  net.negotiate = (request) => new Promise((resolve) => net.clock.setTimeout(() => resolve(answer(request)), 1000));
  const h = await start({}, net);
  assert.equal(net.sockets.length, 0);
  await net.clock.advance(1000);
  assert.equal(h.manager.stats().rttMs, 1000);
  net.lastSocket().accept();
  await net.clock.advance(3999);
  assert.equal(h.manager.method, "websocket");
  await net.clock.advance(1);
  assert.equal(h.manager.method, "sse");
  h.manager.close();
});

test("a WebSocket that never connects is given up after giveUpAfter (fallbackConnectFailed)", async () => {
  const h = await start();
  // The attempt hangs (a firewall that drops SYNs): nothing happens for 10 s.
  await h.clock.advance(9999);
  assert.equal(h.manager.method, "websocket");
  await h.clock.advance(1);
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackConnectFailed" });
  h.manager.close();
});

test("an SSE stream whose welcome never arrives falls back to Custom Sync", async () => {
  const h = await start({ defaultMethod: "sse", fallbackMethods: ["sync"] });
  const source = h.net.lastSource();
  source.open(); // the response head came, the welcome is held (a buffering proxy)
  await h.clock.advance(2500);
  assert.equal(h.manager.method, "sync");
  assert.deepEqual(h.seen.changes, [
    { method: "sse", from: null, reason: "initial" },
    { method: "sync", from: "sse", reason: "fallbackConfirmTimeout" },
  ]);
  assert.equal(source.closedByClient, true);
  assert.equal(h.net.syncRequests().length, 1);
  h.manager.close();
});

test("a proxy that holds the SSE response head back: the confirm timeout runs from the request", async () => {
  const h = await start({ defaultMethod: "sse", fallbackMethods: ["sync"] });
  const source = h.net.lastSource(); // never opens: no head, no welcome
  await h.clock.advance(2499);
  assert.equal(h.manager.method, "sse");
  await h.clock.advance(1);
  assert.equal(h.manager.method, "sync");
  assert.deepEqual(h.seen.changes[1], { method: "sync", from: "sse", reason: "fallbackConfirmTimeout" });
  assert.equal(source.closedByClient, true);
  h.manager.close();
});

// MARK: Custom Sync

test("Custom Sync: the first batch is the welcome; since/ETag advance; 304 is a heartbeat", async () => {
  const h = await start({ defaultMethod: "custom-sync", fallbackMethods: [], syncInterval: 2000 });
  const respond = (status, body, etag) => {
    const pending = h.net.syncQueue.shift();
    pending.respond(fakeResponse(status, body, etag ? { ETag: etag } : {}));
    return pending.request;
  };
  // First poll: no cursor, no entity tag.
  let request = respond(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:17", session: "42-3", messages: [] }, '"42:17"');
  assert.equal(request.url, "http://dash.test/sync?topic=metrics&limit=50&client=client-1");
  assert.equal(request.headers["If-None-Match"], undefined);
  await flush();
  assert.equal(h.manager.isOpen, true);
  assert.equal(h.manager.method, "sync");
  assert.equal(h.manager.cursor, "42:17");
  // Next poll after syncInterval, with since and If-None-Match; 304: nothing new.
  await h.clock.advance(1999);
  assert.equal(h.net.syncQueue.length, 0);
  await h.clock.advance(1);
  request = respond(304, null, '"42:17"');
  assert.equal(request.url, "http://dash.test/sync?topic=metrics&since=42:17&limit=50&client=client-1");
  assert.equal(request.headers["If-None-Match"], '"42:17"');
  await h.clock.advance(2000);
  // Still the same position; this time two messages.
  request = respond(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:19", session: "42-3",
    messages: [messageFrame(EPOCH, 18), messageFrame(EPOCH, 19)] }, '"42:19"');
  assert.equal(request.params.get("since"), "42:17");
  await flush();
  assert.deepEqual(h.offsets(), [18, 19]);
  await h.clock.advance(2000);
  request = respond(304, null, '"42:19"');
  assert.equal(request.params.get("since"), "42:19");
  assert.equal(request.headers["If-None-Match"], '"42:19"');
  await flush();
  // Quiet for a minute of 304s: heartbeats keep it open, nothing is delivered twice.
  for (let i = 0; i < 30; i++) {
    await h.clock.advance(2000);
    respond(304, null, '"42:19"');
  }
  await flush();
  assert.equal(h.manager.isOpen, true);
  assert.deepEqual(h.offsets(), [18, 19]);
  assert.equal(h.manager.stats().transports.sync.heartbeatLosses, 0);
  h.manager.close();
});

test("Custom Sync resumes with since= after a failed poll gives way to a new attempt", async () => {
  const h = await start({ defaultMethod: "sync", fallbackMethods: [], syncMaxConsecutiveErrors: 0 });
  h.net.syncQueue.shift().respond(fakeResponse(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:5", session: "42-1",
    messages: [messageFrame(EPOCH, 4), messageFrame(EPOCH, 5)] }, { ETag: '"42:5"' }));
  await flush();
  assert.deepEqual(h.offsets(), [4, 5]);
  await h.clock.advance(2000);
  // The server answers 503: the open connection is lost (young), backoff, then a new attempt from 42:5.
  h.net.syncQueue.shift().respond(fakeResponse(503, { type: "error", reason: "busy" }));
  await flush();
  assert.equal(h.manager.stats().state, "retrying");
  await h.clock.advance(250);
  const retry = h.net.syncQueue.shift();
  assert.equal(retry.request.params.get("since"), "42:5");
  assert.equal(retry.request.headers["If-None-Match"], undefined, "a new attempt starts without an entity tag");
  h.manager.close();
});

// MARK: Upgrade probes

test("the upgrade probe moves back to WebSocket without a duplicate across the overlap", async () => {
  const h = await start({ benchmarkInterval: 10000 });
  // WebSocket refused twice: on SSE.
  h.net.lastSocket().refuse();
  await h.clock.advance(250);
  h.net.lastSocket().refuse();
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1);
  source.message(EPOCH, 1);
  source.message(EPOCH, 2);
  source.message(EPOCH, 3);
  // benchmarkInterval later a WebSocket opens beside SSE, resuming from 42:3.
  await h.clock.advance(9999);
  assert.equal(h.net.sockets.length, 2);
  await h.clock.advance(1);
  assert.equal(h.net.sockets.length, 3);
  const probe = h.net.lastSocket();
  assert.equal(probe.url, "ws://dash.test/ws?topic=metrics&cursor=42:3&client=client-1");
  assert.equal(h.manager.stats().probing, "websocket");
  // Meanwhile SSE keeps delivering.
  source.message(EPOCH, 4);
  source.message(EPOCH, 5);
  // The probe is welcomed (recovered, replaying from 4): it has passed the last offset, switch.
  probe.accept();
  probe.welcome(EPOCH, 4);
  assert.equal(h.manager.method, "websocket");
  assert.deepEqual(h.seen.changes[2], { method: "websocket", from: "sse", reason: "upgradeProbeSucceeded" });
  assert.equal(source.closedByClient, true);
  // The replay overlaps what SSE delivered; late SSE events are ignored.
  source.message(EPOCH, 6);
  probe.message(EPOCH, 4);
  probe.message(EPOCH, 5);
  probe.message(EPOCH, 6);
  probe.message(EPOCH, 7);
  assert.deepEqual(h.offsets(), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(h.seen.messages.map((m) => m.transport), ["sse", "sse", "sse", "sse", "sse", "websocket", "websocket"]);
  const stats = h.manager.stats();
  assert.equal(stats.counters.duplicates, 2);
  assert.equal(stats.transports.websocket.probes, 1);
  assert.equal(stats.transports.websocket.probesSucceeded, 1);
  assert.equal(stats.counters.switches, 2);
  // On the best transport: no more probes.
  await h.clock.advance(30000);
  assert.equal(h.net.sockets.length, 3);
  h.manager.close();
});

test("a probe that cannot resume (recovered:false) is dropped; the next round comes one interval later", async () => {
  const h = await start({ defaultMethod: "websocket", fallbackMethods: ["sse"], benchmarkInterval: 10000 });
  h.net.lastSocket().refuse();
  await h.clock.advance(250);
  h.net.lastSocket().refuse();
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1);
  source.message(EPOCH, 1);
  await h.clock.advance(10000);
  const probe = h.net.lastSocket();
  probe.accept();
  probe.welcome(EPOCH, 9, false);
  assert.equal(h.manager.method, "sse");
  assert.equal(probe.closedByClient, 1000);
  assert.equal(h.manager.stats().probing, null);
  assert.equal(h.seen.incomplete.length, 0, "a failed probe is not the application's business");
  // The probe that never connects is bounded by giveUpAfter; the round after that opens another.
  await h.clock.advance(10000);
  assert.equal(h.net.sockets.length, 4);
  await h.clock.advance(10000);
  assert.equal(h.manager.stats().probing, null);
  assert.equal(h.manager.method, "sse");
  h.manager.close();
});

// MARK: Liveness

test("silence: a keepalive after 25 s, a reconnect after 35 s, a fallback the second time", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  await h.clock.advance(25000);
  // The browser cannot ping: the manager asks for an ack with seq 0.
  assert.deepEqual(first.sent, [{ type: "send", seq: 0, data: null }]);
  await h.clock.advance(10000);
  // Nothing came: the connection is lost; it had been open 35 s (stable), so reconnect at once.
  assert.equal(first.closedByClient, 1000);
  assert.equal(h.net.sockets.length, 2);
  assert.equal(h.manager.method, "websocket");
  const second = await openWebSocket(h, 1);
  // An ack answers the keepalive: alive.
  await h.clock.advance(25000);
  second.frame({ type: "ack", seq: 0 });
  await h.clock.advance(30000);
  assert.equal(h.net.sockets.length, 2);
  // Then silence again (keepalive at 50 s after the ack, loss at 60 s): the second loss on
  // this transport falls back.
  await h.clock.advance(6000);
  assert.equal(h.manager.method, "sse");
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackHeartbeatLost" });
  assert.equal(h.manager.stats().transports.websocket.heartbeatLosses, 2);
  h.manager.close();
});

test("SSE on an idle topic: a sync check at our cursor tells idle from dead", async () => {
  const h = await start({ defaultMethod: "sse", fallbackMethods: ["sync"] });
  h.net.sync = (request) => fakeResponse(304, null, { ETag: request.headers["If-None-Match"] });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 8);
  await h.clock.advance(25000);
  const check = h.net.syncRequests()[0];
  assert.equal(check.url, "http://dash.test/sync?topic=metrics&since=42:7&limit=1&client=client-1");
  assert.equal(check.headers["If-None-Match"], '"42:7"');
  // 304: idle, not dead. Two more minutes of idleness keep it open.
  await h.clock.advance(120000);
  assert.equal(h.manager.method, "sse");
  assert.equal(h.net.sources.length, 1);
  // Now the check finds messages the stream did not bring: the stream is dead.
  h.net.sync = () => fakeResponse(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:8", messages: [messageFrame(EPOCH, 8)] });
  await h.clock.advance(35000);
  assert.equal(h.net.sources.length, 2, "heartbeat lost: reconnect");
  assert.equal(h.manager.stats().transports.sse.heartbeatLosses, 1);
  h.manager.close();
});

test("EventSource's own reconnect (stream recycling) is normal: same transport, no duplicates", async () => {
  const h = await start({ defaultMethod: "sse" });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1, true, "42-1");
  source.message(EPOCH, 1);
  source.message(EPOCH, 2);
  // The stream ended after its byte budget; EventSource reconnects with Last-Event-ID 42:2.
  source.error(0);
  assert.equal(source.closedByClient, false);
  source.open();
  source.welcome(EPOCH, 2, true, "42-2");
  source.message(EPOCH, 2);
  source.message(EPOCH, 3);
  assert.deepEqual(h.offsets(), [1, 2, 3]);
  assert.equal(h.seen.changes.length, 1);
  assert.equal(h.manager.stats().transports.sse.reconnects, 1);
  assert.equal(h.manager.stats().counters.duplicates, 1);
  // EventSource gives up (readyState CLOSED): a lost connection, reconnected by the manager with cursor=.
  source.error(2);
  await h.clock.advance(250);
  assert.equal(h.net.lastSource().url, "http://dash.test/events?topic=metrics&cursor=42:3&client=client-1");
  h.manager.close();
});

test("an EventSource that dies before any event id is replaced with one that passes cursor=", async () => {
  const h = await start({ defaultMethod: "sse" });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 20);
  source.error(0); // it would reconnect from the live end
  assert.equal(source.closedByClient, true);
  assert.equal(h.net.sources.length, 2);
  assert.equal(h.net.lastSource().url, "http://dash.test/events?topic=metrics&cursor=42:19&client=client-1");
  assert.equal(h.manager.method, "sse");
  h.manager.close();
});

// MARK: Client messages

test("send(): numbered, resent after a reopen, cleared by the ack", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  assert.equal(h.manager.send({ text: "a" }), 1);
  assert.equal(h.manager.send({ text: "b" }), 2);
  assert.deepEqual(first.sends, [{ type: "send", seq: 1, data: { text: "a" } }, { type: "send", seq: 2, data: { text: "b" } }]);
  // The server acknowledges 1; 2 is lost with the connection.
  first.frame({ type: "ack", seq: 1 });
  assert.equal(h.manager.stats().unacknowledged, 1);
  first.drop(1006);
  // Offline: queued.
  assert.equal(h.manager.send({ text: "c" }), 3);
  await h.clock.advance(250);
  const second = h.net.lastSocket();
  second.accept();
  assert.deepEqual(second.sends, [], "nothing is sent before the welcome");
  second.welcome(EPOCH, 1);
  assert.deepEqual(second.sends.map((f) => f.seq), [2, 3]);
  second.frame({ type: "ack", seq: 3 });
  const stats = h.manager.stats();
  assert.equal(stats.unacknowledged, 0);
  assert.equal(stats.counters.sendsAcknowledged, 3);
  h.manager.close();
});

test("send() beside SSE: POST /send?session=S, resent under the new session after a 404", async () => {
  const h = await start({ defaultMethod: "sse" });
  const posts = [];
  let answer = (request) => fakeResponse(404, { type: "error", reason: "unknown session" });
  h.net.send = (request) => { posts.push(request); return answer(request); };
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1, true, "42-5");
  source.message(EPOCH, 1);
  h.manager.send({ x: 1 });
  await flush();
  assert.equal(posts.length, 1);
  assert.equal(posts[0].url, "http://dash.test/send?session=42-5");
  assert.equal(posts[0].init.method, "POST");
  assert.deepEqual(posts[0].body, { type: "send", messages: [{ seq: 1, data: { x: 1 } }] });
  // 404: the session ended with its stream; EventSource reconnects and the new welcome names a new one.
  answer = (request) => fakeResponse(200, { type: "ack", seq: 1 });
  source.error(0);
  source.open();
  source.welcome(EPOCH, 2, true, "42-6");
  await flush();
  assert.equal(posts.length, 2);
  assert.equal(posts[1].url, "http://dash.test/send?session=42-6");
  assert.deepEqual(posts[1].body.messages.map((m) => m.seq), [1]);
  assert.equal(h.manager.stats().unacknowledged, 0);
  h.manager.close();
});

// MARK: Options

test("'custom-sync' is an alias of 'sync'; unknown transports are rejected", async () => {
  const a = new RealtimeCommunicationManager({ autoConnect: false, fallbackMethods: ["sse", "custom-sync"] });
  assert.deepEqual(a.order, ["websocket", "sse", "sync"]);
  const b = new RealtimeCommunicationManager({ autoConnect: false, defaultMethod: "custom-sync", fallbackMethods: ["sync", "sse"] });
  assert.deepEqual(b.order, ["sync", "sse"]);
  assert.equal(Crosswind.canonicalMethod("Custom-Sync"), "sync");
  assert.throws(() => new RealtimeCommunicationManager({ autoConnect: false, defaultMethod: "socket.io" }), /unknown transport/);
  // It really starts on sync.
  const h = await start({ defaultMethod: "custom-sync", fallbackMethods: ["sse"] });
  assert.equal(h.manager.method, "sync");
  assert.deepEqual(h.seen.changes, [{ method: "sync", from: null, reason: "initial" }]);
  assert.equal(h.net.syncRequests().length, 1);
  h.manager.close();
});

test("negotiate narrows the order to what the server offers and supplies the endpoints", async () => {
  const net = makeNet();
  net.negotiate = () => fakeResponse(200, { transports: ["sse", "sync"], endpoints: { sse: "/stream", sync: "/poll", send: "/up" }, epoch: 9 });
  const h = await start({}, net);
  assert.deepEqual(h.manager.order, ["sse", "sync"]);
  assert.equal(h.manager.method, "sse");
  assert.equal(net.lastSource().url, "http://dash.test/stream?topic=metrics&client=client-1");
  assert.equal(h.manager.stats().serverEpoch, 9);
  h.manager.close();
});

test("without autoSwitch the manager stays on its transport and keeps retrying", async () => {
  const h = await start({ autoSwitch: false });
  for (let i = 0; i < 5; i++) {
    h.net.lastSocket().refuse();
    await h.clock.advance(20000);
  }
  assert.equal(h.manager.method, "websocket");
  assert.equal(h.seen.changes.length, 1);
  assert.ok(h.net.sockets.length >= 6);
  h.manager.close();
});

test("close() stops everything; events of closed transports are ignored", async () => {
  const h = await start();
  const socket = await openWebSocket(h, 1);
  h.manager.close();
  assert.equal(h.manager.stats().state, "idle");
  assert.equal(h.clock.timers.size, 0);
  socket.message(EPOCH, 1);
  assert.deepEqual(h.offsets(), []);
  await h.clock.advance(600000);
  assert.equal(h.net.sockets.length, 1);
});
