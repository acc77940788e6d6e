// `GET /negotiate`: what the server offers, and the one round trip the browser can time.

import { canonicalMethod, isCount } from "./options.js";

/** The endpoints a server may rename; anything else in its answer is ignored. */
const RENAMEABLE = ["websocket", "sse", "sync", "send"];

/**
 * Asks `url` (the server's `/negotiate`) within `timeoutMs`. Resolves with
 * `{rttMs, epoch, endpoints, transports}`: the time to the response head, the stream epoch (or
 * null), the endpoint paths it names (absolute paths only), and the transports it offers in
 * canonical names (unknown ones left out; null when it names none). Rejects with an Error
 * saying what went wrong; the manager then proceeds with its defaults.
 */
export async function negotiate(env, url, timeoutMs) {
  if (!env.fetch) throw new Error("fetch is not available");
  const started = env.now();
  const controller = env.AbortController ? new env.AbortController() : null;
  const init = { headers: { Accept: "application/json" }, cache: "no-store" };
  if (controller) init.signal = controller.signal;
  let timer = null;
  const timeout = new Promise((_, reject) => {
    timer = env.setTimeout(() => {
      timer = null;
      if (controller) try { controller.abort(); } catch (_) { /* done */ }
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const response = await Promise.race([Promise.resolve().then(() => env.fetch(url, init)), timeout]);
    const rttMs = env.now() - started;
    if (response.status !== 200) throw new Error(`answered ${response.status}`);
    const body = await Promise.race([response.json(), timeout]);
    const answer = { rttMs, epoch: null, endpoints: {}, transports: null };
    if (!body || typeof body !== "object") return answer;
    if (isCount(body.epoch)) answer.epoch = body.epoch;
    if (body.endpoints && typeof body.endpoints === "object") {
      for (const name of RENAMEABLE) {
        const path = body.endpoints[name];
        if (typeof path === "string" && path.startsWith("/")) answer.endpoints[name] = path;
      }
    }
    if (Array.isArray(body.transports)) {
      answer.transports = body.transports.flatMap((name) => { try { return [canonicalMethod(name)]; } catch (_) { return []; } });
    }
    return answer;
  } finally {
    if (timer !== null) env.clearTimeout(timer);
  }
}
