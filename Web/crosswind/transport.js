// What the three transports share. A transport is one connection attempt. It reports to
// `events` — connected, welcome, message, traffic, ack, closed, error — until it is closed, and
// nothing after. `ctx` gives it the manager's options, env, endpoints, URLs, outbox and cursor.

import { describe } from "./env.js";
import { HttpSender } from "./http-sender.js";
import { accessToken } from "./options.js";

export class Transport {
  constructor(ctx, events, resumeFrom) {
    this.ctx = ctx;
    this.events = events;
    /** The cursor this attempt resumes after (null: the live end). */
    this.resumeFrom = resumeFrom;
    this.welcomed = false;
    this.done = false;
    /** Several topics: the welcomes of the current group so far, by topic. */
    this.welcomes = new Map();
  }

  /**
   * Query parameters of a request on the topic (`topic`) or topics (`topics=a,b,c`), then
   * `extra`, then `client`.
   */
  topicParams(extra) {
    const topics = this.ctx.options.topics;
    const topic = topics ? ["topics", topics.join(",")] : ["topic", this.ctx.options.topic];
    return [topic, ...extra, ["client", this.ctx.clientId], ["token", accessToken(this.ctx.options)]];
  }

  /**
   * A welcome as the manager hears it: for one topic the welcome itself; for several, nothing
   * until every topic's welcome arrived (the server sends them one after another), then
   * `{topics: [welcome per topic, in the order asked], session}`. A welcome of a topic not asked
   * for, or one without a topic, is `{malformed: detail}`. A second welcome of a topic starts a
   * new group (the stream reconnected).
   */
  welcomeArrived(welcome) {
    const topics = this.ctx.options.topics;
    if (!topics) return welcome;
    const topic = welcome && typeof welcome === "object" ? welcome.topic : undefined;
    if (!topics.includes(topic)) return { malformed: `welcome for topic ${JSON.stringify(topic)}, not asked for` };
    if (this.welcomes.has(topic)) this.welcomes.clear();
    this.welcomes.set(topic, welcome);
    if (this.welcomes.size < topics.length) return null;
    const combined = { topics: topics.map((name) => this.welcomes.get(name)), session: welcome.session };
    this.welcomes.clear();
    return combined;
  }

  /**
   * `new env[name](url)` (`WebSocket`, `EventSource`), or null after arranging to fail with
   * `cause` when the platform lacks it or the constructor throws.
   */
  construct(name, url, cause) {
    try {
      const Constructor = this.ctx.env[name];
      if (!Constructor) throw new Error(`${name} is not available here`);
      return new Constructor(url);
    } catch (error) {
      this.failSoon(cause, `${name} constructor: ${describe(error)}`);
      return null;
    }
  }

  /** Ends the attempt and tells the manager how (`refused`, `failed`, `lost`, `closedByServer`), once. */
  fail(cause, detail) {
    if (this.done) return;
    this.close();
    this.events.closed(cause, detail);
  }

  /** `fail` on the next turn, so the manager never sees a callback from inside its own `open` call. */
  failSoon(cause, detail) {
    Promise.resolve().then(() => this.fail(cause, detail));
  }

  /** Sends client messages (`{seq, data}`), if the transport can now. */
  send(_messages) {}

  /** Asks for traffic after a silence; every transport that can has its own way. */
  keepalive() {}

  /** Stops for good; no event follows. */
  close() {
    this.done = true;
  }
}

/** SSE and Custom Sync: client messages go beside them by `POST /send`. */
export class HttpTransport extends Transport {
  constructor(ctx, events, resumeFrom, onSessionLost) {
    super(ctx, events, resumeFrom);
    this.sender = new HttpSender(ctx, events, onSessionLost);
  }

  /** Posts the whole outbox (the manager's `messages` are part of it). */
  send(_messages) {
    if (!this.done) this.sender.flush();
  }

  close() {
    super.close();
    this.sender.close();
  }
}
