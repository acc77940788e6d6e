// The SSE transport: `GET /events?topic=T&cursor=C` (or `topics=A,B`) through the browser's EventSource, client
// messages by `POST /send`, and a Custom Sync request to tell an idle topic from a dead stream.

import { formatCursor, parseCursor } from "./cursor.js";
import { request } from "./env.js";
import { isCount } from "./options.js";
import { HttpTransport } from "./transport.js";
import { decode } from "./wire.js";

/**
 * Whether a Custom Sync batch asked for at `cursor` says nothing was published: no messages, and
 * every topic resumed in its epoch.
 */
function idleBatch(batch, cursor) {
  if (!batch || !Array.isArray(batch.messages) || batch.messages.length !== 0) return false;
  if (!cursor.topics) return batch.recovered !== false && batch.epoch === cursor.epoch;
  return Array.isArray(batch.topics) && batch.topics.every((entry) => {
    const position = entry && cursor.topics[entry.topic];
    return !!position && entry.recovered !== false && entry.epoch === position.epoch;
  });
}

/** EventSource `readyState` when it gave up reconnecting. */
const CLOSED = 2;

/**
 * One EventSource, which reconnects by itself with `Last-Event-ID` (stream recycling, a dropped
 * connection); each new `welcome` is reported like a resume. Sending the request is
 * "connected"; the `welcome` event opens it.
 */
export class SSETransport extends HttpTransport {
  constructor(ctx, events, resumeFrom) {
    super(ctx, events, resumeFrom, null);
    this.source = null;
    this.connectedOnce = false;
    this.idleCheck = null; // the sync request in flight: {response, abort}
  }

  open() {
    this.openSource(this.resumeFrom);
  }

  openSource(cursor) {
    const url = this.ctx.httpUrl(this.ctx.endpoints.sse, this.topicParams([["cursor", formatCursor(cursor)]]));
    const source = this.construct("EventSource", url, "failed");
    if (!source) return;
    this.source = source;
    // The request is on its way: the confirm timeout runs from here, not from the `open`
    // event, because a buffering proxy holds the response head back with the stream and
    // `open` would then never come (only the give-up deadline would end the attempt).
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      this.events.connected();
    }
    const current = (listener) => (event) => {
      if (!this.done && source === this.source) listener(event);
    };
    source.addEventListener("welcome", current((event) => {
      const frame = decode(event.data);
      if (frame === undefined) return this.events.error("undecodable SSE welcome");
      // Several topics: one welcome event each, then the stream opens (or resumes) on all of them.
      const welcome = this.welcomeArrived(frame);
      if (!welcome) return;
      this.welcomed = true;
      this.events.welcome(welcome);
      if (!this.done) this.sender.setSession(welcome && welcome.session);
    }));
    source.addEventListener("message", current((event) => {
      const message = decode(event.data);
      if (message === undefined) return this.events.error("undecodable SSE event");
      // The event id names the position of one topic; of several, it is every topic's position.
      if (!this.ctx.options.topics && message && typeof message === "object" && (!isCount(message.epoch) || !isCount(message.offset))) {
        const cursor = parseCursor(event.lastEventId);
        if (cursor) Object.assign(message, cursor);
      }
      this.events.message(message);
    }));
    source.addEventListener("error", current(() => {
      if (!this.welcomed) {
        // Before the welcome the manager decides about retries, not EventSource.
        this.fail("failed", "EventSource error before the welcome");
      } else if (source.readyState === CLOSED) {
        this.fail("lost", "EventSource closed");
      } else if (!source.lastEventId && this.ctx.cursor()) {
        // It would reconnect from the live end: reconnect ourselves with our cursor instead.
        try { source.close(); } catch (_) { /* replacing it */ }
        this.openSource(this.ctx.cursor());
      }
      // Otherwise EventSource reconnects with Last-Event-ID; its new welcome tells the rest.
    }));
  }

  /**
   * After `heartbeatInterval` of silence: is the topic idle, or is the stream dead? Comment
   * heartbeats are invisible to EventSource, so one sync request at our cursor decides. A 304
   * (or an empty, recovered batch at our cursor) means nothing was published: a heartbeat.
   */
  keepalive() {
    const env = this.ctx.env;
    const cursor = this.ctx.cursor();
    if (this.done || !this.ctx.options.idleCheck || !env.fetch || !cursor || this.idleCheck) return;
    const since = formatCursor(cursor);
    const url = this.ctx.httpUrl(this.ctx.endpoints.sync, this.topicParams([["since", since], ["limit", 1]]));
    this.idleCheck = request(env, url, { headers: { Accept: "application/json", "If-None-Match": `"${since}"` }, cache: "no-store" });
    this.idleCheck.response
      .then(async (response) => {
        let idle = response.status === 304;
        if (response.status === 200) idle = idleBatch(await response.json(), cursor);
        this.idleCheck = null;
        if (!this.done && idle) this.events.traffic();
      })
      .catch(() => { this.idleCheck = null; });
  }

  close() {
    super.close();
    if (this.idleCheck) this.idleCheck.abort();
    if (this.source) {
      try { this.source.close(); } catch (_) { /* closing anyway */ }
      this.source = null;
    }
  }
}
