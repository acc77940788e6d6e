// Fakes for the browser client's unit tests (Web/test/): a clock whose timers fire only when a
// test advances it, a WebSocket and an EventSource the test plays the server side of, and a
// fetch that answers /negotiate, /sync and /send from per-test handlers. Outside Web/test/ so
// that `node --test Web/test/` does not run it as a test file of its own.

import assert from "node:assert/strict";

import { RealtimeCommunicationManager } from "../crosswind/index.js";

export const EPOCH = 42;

// MARK: Fakes

/** Lets promise chains (fetch answers, JSON bodies) run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

export class FakeClock {
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

export function fakeResponse(status, body, headers = {}) {
  const lower = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name) => (name.toLowerCase() in lower ? lower[name.toLowerCase()] : null) },
    json: async () => (typeof body === "string" ? JSON.parse(body) : body),
  };
}

export function welcomeFrame(epoch, next, recovered = true, session = `${epoch}-1`, live = undefined) {
  const frame = { type: "welcome", topic: "metrics", epoch, next, recovered, session };
  if (live !== undefined) frame.live = live;
  return frame;
}

export function messageFrame(epoch, offset, data = { n: offset }) {
  return { type: "message", topic: "metrics", epoch, offset, data };
}

/** A network of fakes; `net.env` goes into the manager's options. */
export function makeNet() {
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
    welcome(epoch, next, recovered = true, live = undefined) {
      this.frame(welcomeFrame(epoch, next, recovered, `${epoch}-1`, live));
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
    welcome(epoch, next, recovered = true, session = `${epoch}-7`, live = undefined) {
      this.emit("welcome", { data: JSON.stringify(welcomeFrame(epoch, next, recovered, session, live)), lastEventId: this.lastEventId });
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
export async function start(options = {}, net = makeNet()) {
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
export async function openWebSocket(h, next = 1) {
  const socket = h.net.lastSocket();
  socket.accept();
  socket.welcome(EPOCH, next);
  await flush();
  return socket;
}

/** WebSocket refused twice in a row: the manager falls back to SSE, whose stream opens with a welcome at 1. */
export async function fallBackToSSE(h) {
  h.net.lastSocket().refuse();
  await h.clock.advance(250);
  h.net.lastSocket().refuse();
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1);
  return source;
}

/** Accepts the WebSocket upgrade ("101 then silence"): the welcome is waited for exactly `ms`, then the manager falls back to SSE. */
export async function expectConfirmTimeout(h, ms) {
  h.net.lastSocket().accept();
  await h.clock.advance(ms - 1);
  assert.equal(h.manager.method, "websocket");
  await h.clock.advance(1);
  assert.equal(h.manager.method, "sse");
}
