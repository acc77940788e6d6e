// The Custom Sync transport: `GET /sync?topic=T&since=C` (or `topics=A,B&since=A@E:O,…`) polled
// with `If-None-Match` (304 when nothing changed), optionally held open by the server (`wait=`),
// client messages by `POST /send`.

import { formatCursor } from "./cursor.js";
import { describe, request } from "./env.js";
import { OneShotTimer, backoffCeiling } from "./timers.js";
import { HttpTransport } from "./transport.js";
import { batchCursor, batchIsFull, batchWelcome } from "./wire.js";

/** Backoff after a failed poll of an open connection: 0.5 s doubling to 20 s, as in Swift. */
const ERROR_BACKOFF = { base: 500, cap: 20000 };

/**
 * Polls from a cursor. Sending the first request is "connected"; its batch is the welcome.
 * After that every answer is traffic, errors back off, and more than `syncMaxConsecutiveErrors`
 * in a row end the connection (`lost`).
 */
export class SyncTransport extends HttpTransport {
  constructor(ctx, events, resumeFrom) {
    // The session died with its HTTP connection; a 200 batch names the current one.
    super(ctx, events, resumeFrom, () => { this.etag = null; });
    this.since = resumeFrom;
    this.etag = null;
    this.errors = 0;
    this.next = new OneShotTimer(ctx.env);
    this.poll = null; // the request in flight: {response, abort}
  }

  open() {
    if (!this.ctx.env.fetch) {
      this.failSoon("failed", "fetch is not available here");
      return;
    }
    this.events.connected(); // the request is on its way: the confirm timeout runs from here
    this.request();
  }

  schedule(delayMs) {
    if (!this.done) this.next.start(delayMs, () => this.request());
  }

  request() {
    if (this.done) return;
    const options = this.ctx.options;
    const url = this.ctx.httpUrl(this.ctx.endpoints.sync, this.topicParams([
      ["since", formatCursor(this.since)],
      ["limit", options.syncBatchSize],
      ["wait", this.welcomed && options.longPoll > 0 ? Math.round(options.longPoll) : null],
    ]));
    const headers = { Accept: "application/json" };
    if (this.etag) headers["If-None-Match"] = this.etag;
    this.poll = request(this.ctx.env, url, { headers, cache: "no-store" });
    this.poll.response
      .then((response) => (this.done ? undefined : this.answered(response)))
      .catch((error) => this.error(`GET ${this.ctx.endpoints.sync} failed: ${describe(error)}`));
  }

  async answered(response) {
    const options = this.ctx.options;
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
    const cursor = batchCursor(batch);
    if (!cursor) return this.error("undecodable sync batch");
    this.errors = 0;
    const etag = response.headers && typeof response.headers.get === "function" ? response.headers.get("ETag") : null;
    this.etag = etag || `"${batch.cursor}"`;
    if (!this.welcomed) {
      this.welcomed = true;
      this.events.welcome(batchWelcome(batch, cursor));
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
    const full = batchIsFull(batch, cursor, options.syncBatchSize);
    this.schedule(full || options.longPoll > 0 ? 0 : options.syncInterval);
  }

  /** A failed poll: before the welcome it ends the attempt, after it backs off. */
  error(detail) {
    if (this.done) return;
    if (!this.welcomed) return this.fail("failed", detail);
    this.errors += 1;
    this.events.error(detail);
    if (this.errors > this.ctx.options.syncMaxConsecutiveErrors) return this.fail("lost", `${detail} (${this.errors} times in a row)`);
    // Full jitter, so the clients of a failing server do not all ask again in the same instant.
    this.schedule(this.ctx.env.random() * backoffCeiling(ERROR_BACKOFF.base, ERROR_BACKOFF.cap, this.errors - 1));
  }

  close() {
    super.close();
    this.next.cancel();
    if (this.poll) this.poll.abort();
  }
}
