// The client's messages to the server. Numbered 1, 2, 3 … per client, kept until the server
// acknowledges them and resent after every open (a reconnect, an EventSource reconnect, a
// switch); the server drops resends by number, so a message sent twice arrives once.

/** Numbered client messages kept until acknowledged; the oldest go first past `limit`. */
export class Outbox {
  constructor(limit) {
    this.limit = limit;
    this.entries = [];
    this.nextSeq = 1;
  }

  /** Messages waiting for their acknowledgement. */
  get size() {
    return this.entries.length;
  }

  /**
   * Numbers `data` (undefined becomes null) and keeps it. Returns the entry `{seq, data}` and how
   * many of the oldest entries were dropped to stay within the limit (the new one among them
   * when the limit is 0).
   */
  add(data) {
    const entry = { seq: this.nextSeq++, data: data === undefined ? null : data };
    this.entries.push(entry);
    let dropped = 0;
    while (this.entries.length > Math.max(0, this.limit)) {
      this.entries.shift();
      dropped += 1;
    }
    return { entry, dropped };
  }

  /** Whether `entry` is still waiting (not acknowledged, not dropped). */
  holds(entry) {
    return this.entries.includes(entry);
  }

  /** The server has every message up to `seq`: they are forgotten. Returns how many were. */
  acknowledge(seq) {
    const before = this.entries.length;
    this.entries = this.entries.filter((entry) => entry.seq > seq);
    return before - this.entries.length;
  }

  /** A copy of the waiting messages, oldest first: what a newly opened transport sends. */
  pending() {
    return this.entries.slice();
  }
}
