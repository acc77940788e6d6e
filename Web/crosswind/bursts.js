// The held-burst test of one open stream, as BurstRecord.swift: does it arrive in releases of
// held messages? A proxy that holds response bodies until it has N bytes lets an open event
// stream through in chunks: nothing for a while, then everything published meanwhile at once,
// the oldest late by the whole wait, the newest on time. A message is held when its latency
// exceeds the connection's fastest by at least `hold` and nothing arrived for `hold` before
// it. Held releases count in a row; the count starts again when a message flows on time at
// least `hold` after the last release (a one-off stall: an outage's end, a lost segment), or
// when the silence before a release is longer than `within` (a heartbeat timeout: a chunked
// stream that silent fails the liveness check instead). Latencies are compared with
// the connection's fastest, so an offset between the publisher's clock and ours does not matter.

export class BurstRecord {
  constructor(openedAt) {
    this.openedAt = openedAt;
    this.floor = null; // the smallest latency seen on the connection
    this.lastMessage = null; // when the previous message arrived
    this.releases = 0; // held releases in a row
    this.lastRelease = null; // when the last held release began
  }

  /**
   * Records one message's `latency`, arrived at `now`; returns the held releases in a row.
   * With `judge` false (a replay still catching up: history, not held) it only learns the
   * floor and the arrival.
   */
  record(latency, now, hold, within, judge) {
    this.floor = this.floor === null ? latency : Math.min(this.floor, latency);
    const silence = now - (this.lastMessage === null ? this.openedAt : this.lastMessage);
    this.lastMessage = now;
    if (!judge) return this.releases;
    const held = latency - this.floor;
    if (held >= hold && silence >= hold) {
      if (silence > within) this.releases = 0;
      this.releases += 1;
      this.lastRelease = now;
    } else if (held < hold && this.lastRelease !== null && now - this.lastRelease >= hold) {
      this.releases = 0;
    }
    return this.releases;
  }
}
