// `POST /send?session=S`: client messages beside SSE and Custom Sync, which have no way back
// to the server of their own.

import { describe, request } from "./env.js";
import { acknowledged, sendBody } from "./wire.js";
import { accessToken } from "./options.js";
import { OneShotTimer, backoffCeiling } from "./timers.js";

/**
 * Posts the whole outbox, one request in flight at a time, once the transport's welcome has
 * named a session. Acknowledgements go to `events.ack`; errors back off (`options.backoff`).
 * A 404 means the session died with its connection: the sender waits for the next session
 * (`setSession`) and tells `onSessionLost`, unless the next session already came while the
 * request was out, in which case it posts under it at once.
 */
export class HttpSender {
  constructor(ctx, events, onSessionLost) {
    this.ctx = ctx;
    this.events = events;
    this.onSessionLost = onSessionLost;
    this.session = null;
    this.inFlight = null; // the request being answered: {response, abort}
    this.done = false;
    this.errors = 0;
    this.retry = new OneShotTimer(ctx.env);
  }

  /** A welcome or batch named the session; sends what waits. */
  setSession(session) {
    if (typeof session === "string" && session) {
      this.session = session;
      this.flush();
    }
  }

  /** Posts the outbox unless a request is in flight, a retry is pending or there is no session yet. */
  flush() {
    if (this.done || this.inFlight || !this.session || this.retry.pending) return;
    const batch = this.ctx.outbox();
    if (batch.length === 0) return;
    const env = this.ctx.env;
    if (!env.fetch) return;
    const highestSent = batch[batch.length - 1].seq;
    const headers = { "Content-Type": "application/json" };
    const token = accessToken(this.ctx.options);
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method: "POST", headers, body: sendBody(batch), cache: "no-store" };
    const posted = this.session;
    const url = this.ctx.httpUrl(this.ctx.endpoints.send, [["session", posted]]);
    this.inFlight = request(env, url, init);
    this.inFlight.response
      .then(async (response) => {
        if (this.done) return;
        if (response.status === 200) {
          const answer = await response.json();
          if (this.done) return;
          this.inFlight = null;
          this.errors = 0;
          const seq = acknowledged(answer);
          if (seq !== null) this.events.ack(seq);
          // More to send only if something newer than this batch is waiting (no loop on a short ack).
          const rest = this.ctx.outbox();
          if (rest.length && rest[rest.length - 1].seq > highestSent) this.flush();
          else if (rest.length) this.retryLater();
        } else if (response.status === 404) {
          this.inFlight = null;
          if (this.session !== posted) {
            // A fresh session arrived while this request was out (a recycled stream's welcome).
            this.flush();
            return;
          }
          this.session = null; // wait for a fresh session, then flush again
          if (this.onSessionLost) this.onSessionLost();
        } else {
          this.inFlight = null;
          this.events.error(`POST ${this.ctx.endpoints.send} answered ${response.status}`);
          this.retryLater();
        }
      })
      .catch((error) => {
        if (this.done) return;
        this.inFlight = null;
        this.events.error(`POST ${this.ctx.endpoints.send} failed: ${describe(error)}`);
        this.retryLater();
      });
  }

  retryLater() {
    if (this.done || this.retry.pending) return;
    const { base, cap } = this.ctx.options.backoff;
    const delay = backoffCeiling(base, cap, this.errors);
    this.errors += 1;
    this.retry.start(delay, () => this.flush());
  }

  close() {
    this.done = true;
    this.retry.cancel();
    if (this.inFlight) this.inFlight.abort();
  }
}
