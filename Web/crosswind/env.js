// The platform the client runs on: the browser's own, or a test's fakes. Every clock, timer,
// random draw and network constructor the client uses comes from here (`options.env`), so
// the unit tests drive it with fake time and fake transports.

/** The platform, or the test's fakes. Functions are wrapped so browsers never see a foreign `this`. */
export function makeEnv(env) {
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

/** An error's message for a log line, whatever was thrown. */
export function describe(error) {
  return error && error.message ? error.message : String(error);
}

/**
 * Starts `fetch(url, init)` on the next turn (so a synchronous throw becomes a rejection and no
 * answer arrives inside the caller). Returns the response promise and `abort()`, which cancels
 * the request where the platform has an AbortController and does nothing otherwise.
 */
export function request(env, url, init) {
  const controller = env.AbortController ? new env.AbortController() : null;
  if (controller) init.signal = controller.signal;
  return {
    response: Promise.resolve().then(() => env.fetch(url, init)),
    abort() {
      if (!controller) return;
      try { controller.abort(); } catch (_) { /* already done */ }
    },
  };
}
