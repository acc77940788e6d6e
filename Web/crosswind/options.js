// Transport names, reason codes, defaults, and the checking of a manager's options.

/** The transports, best first when nothing else is configured. */
export const METHODS = Object.freeze(["websocket", "sse", "sync"]);

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
export const REASONS = Object.freeze({
  initial: "initial",
  fallbackConnectFailed: "fallbackConnectFailed",
  fallbackConnectRefused: "fallbackConnectRefused",
  fallbackConfirmTimeout: "fallbackConfirmTimeout",
  fallbackHeartbeatLost: "fallbackHeartbeatLost",
  transportClosedByServer: "transportClosedByServer",
  upgradeProbeSucceeded: "upgradeProbeSucceeded",
  latencyThreshold: "latencyThreshold",
  fallbackStreamBehind: "fallbackStreamBehind",
  fallbackCatchUpStalled: "fallbackCatchUpStalled",
  serverDown: "serverDown",
  fallbackStreamHeld: "fallbackStreamHeld",
});

/** Paths of `crosswind serve`; `GET /negotiate` may name others. */
/**
 * The first delay of the probes that look for the way back after a fallback on silence, once
 * the probe at the next open has failed: 15 s, doubling until `benchmarkInterval` (as Swift's
 * `returnProbeFirstDelay`).
 */
export const RETURN_PROBE_FIRST_DELAY = 15000;

export const DEFAULT_ENDPOINTS = Object.freeze({ websocket: "/ws", sse: "/events", sync: "/sync", send: "/send", negotiate: "/negotiate" });

/** Every option of the manager with its default; times are milliseconds. */
export const DEFAULTS = Object.freeze({
  url: undefined,
  topic: "metrics",
  // Several topics over one connection (`?topics=a,b,c`, a cursor per topic): a list of names
  // replaces `topic`; null follows `topic` alone, as before.
  topics: null,
  defaultMethod: "websocket",
  fallbackMethods: ["sse", "sync"],
  autoSwitch: true,
  autoConnect: true,
  enablePerformanceMonitoring: true,
  benchmarkInterval: 300000,
  // How long upgrade probes leave out a transport the path stalled after it opened (lost twice
  // to silence): 30 min, as `rememberFor` in Swift (whose per-network memory is not ported).
  rememberFor: 1800000,
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
  latencyThreshold: null, // ms; off when null
  latencyWindow: 20,
  behindLatency: 10000, // ms; a stream this late for behindFor is unhealthy (null: off)
  behindFor: 15000,
  // ms; an SSE message this much later than the connection's fastest, after as long a silence,
  // was held; bufferingStrikes such releases in a row fall back (null: off)
  burstHold: 3000,
  bufferingStrikes: 2,
  syncMaxConsecutiveErrors: 5,
  clientId: undefined,
  token: undefined, // access token: a string, or a function asked at every connection attempt
  onMethodChange: undefined,
  onMessage: undefined,
  onRecoveryIncomplete: undefined,
  onError: undefined,
  env: undefined,
});

/** The options that are durations in milliseconds. */
const DURATIONS = ["benchmarkInterval", "rememberFor", "syncInterval", "longPoll", "confirmTimeoutFloor", "syncConfirmTimeoutFloor",
  "giveUpAfter", "heartbeatInterval", "heartbeatTimeout", "initialRtt"];

/** A finite number >= 0 (a count, an offset, a duration). */
export function isCount(value) {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/** `websocket`, `sse` or `sync` for any accepted spelling; throws on an unknown one. */
export function canonicalMethod(name) {
  const key = String(name).trim().toLowerCase();
  const method = ALIASES[key];
  if (!method) throw new TypeError(`crosswind: unknown transport '${name}' (use websocket, sse, sync or custom-sync)`);
  return method;
}

/** The options over the defaults, transport names made canonical; throws a TypeError naming a bad one. */
export function normalizeOptions(options) {
  const o = Object.assign({}, DEFAULTS, options || {});
  o.backoff = Object.assign({}, DEFAULTS.backoff, (options && options.backoff) || {});
  o.defaultMethod = canonicalMethod(o.defaultMethod);
  const fallbacks = o.fallbackMethods == null ? [] : Array.isArray(o.fallbackMethods) ? o.fallbackMethods : [o.fallbackMethods];
  o.fallbackMethods = fallbacks.map(canonicalMethod);
  if (o.syncConfirmTimeoutFloor === undefined) o.syncConfirmTimeoutFloor = 2 * o.confirmTimeoutFloor;
  for (const name of DURATIONS) {
    if (!isCount(o[name])) throw new TypeError(`crosswind: ${name} must be a number of milliseconds >= 0, got ${o[name]}`);
  }
  if (!isCount(o.backoff.base) || !isCount(o.backoff.cap)) throw new TypeError("crosswind: backoff needs numeric base and cap (ms)");
  if (o.latencyThreshold !== null && !isCount(o.latencyThreshold)) throw new TypeError(`crosswind: latencyThreshold must be null or a number of milliseconds >= 0, got ${o.latencyThreshold}`);
  if (o.behindLatency !== null && !isCount(o.behindLatency)) throw new TypeError(`crosswind: behindLatency must be null or a number of milliseconds >= 0, got ${o.behindLatency}`);
  if (o.burstHold !== null && !isCount(o.burstHold)) throw new TypeError(`crosswind: burstHold must be null or a number of milliseconds >= 0, got ${o.burstHold}`);
  if (!Number.isInteger(o.bufferingStrikes) || o.bufferingStrikes < 1) throw new TypeError(`crosswind: bufferingStrikes must be a whole number >= 1, got ${o.bufferingStrikes}`);
  if (!isCount(o.behindFor)) throw new TypeError(`crosswind: behindFor must be a number of milliseconds >= 0, got ${o.behindFor}`);
  if (!Number.isInteger(o.latencyWindow) || o.latencyWindow < 1) throw new TypeError(`crosswind: latencyWindow must be a whole number >= 1, got ${o.latencyWindow}`);
  if (o.token !== undefined && o.token !== null && typeof o.token !== "string" && typeof o.token !== "function") {
    throw new TypeError("crosswind: token must be a string or a function that returns one");
  }
  o.topic = String(o.topic);
  o.topics = topicList(o.topics);
  return o;
}

/** The most topics one connection may carry (as the server allows). */
const MAX_TOPICS = 64;

/** `options.topics` checked: null, or 1 to 64 distinct names of `[A-Za-z0-9._-]` (the server's rule). */
function topicList(topics) {
  if (topics === null || topics === undefined) return null;
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS) {
    throw new TypeError(`crosswind: topics must be a list of 1 to ${MAX_TOPICS} topic names, got ${JSON.stringify(topics)}`);
  }
  const names = topics.map(String);
  for (const name of names) {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TypeError(`crosswind: topic name ${JSON.stringify(name)} may hold only letters, digits, '.', '_' and '-'`);
  }
  if (new Set(names).size !== names.length) throw new TypeError(`crosswind: topics names a topic twice: ${names.join(",")}`);
  return names;
}

/** The preference order of normalized options: the default first, then each fallback once ("better" = earlier). */
export function preferenceOrder(options) {
  const order = [options.defaultMethod];
  for (const method of options.fallbackMethods) if (!order.includes(method)) order.push(method);
  return order;
}

/**
 * The access token for a server started with a token secret (`options.token`: a string, or a
 * function asked at every connection attempt, so a page that refreshes its token reconnects
 * with the fresh one); undefined without one. Sent as `?token=` (the browser's WebSocket and
 * EventSource cannot set headers) and, on POSTs, as `Authorization: Bearer`.
 */
export function accessToken(options) {
  const token = typeof options.token === "function" ? options.token() : options.token;
  return token === null || token === undefined || token === "" ? undefined : String(token);
}
