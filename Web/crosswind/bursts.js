// The held-burst test of one open stream, as BurstRecord.swift: does it arrive in releases of
// held messages? A proxy that holds response bodies until it has N bytes lets an open event
// stream through in chunks: nothing for a while, then everything published meanwhile at once,
// the oldest late by the whole wait, the newest on time. A message is held when its latency
// exceeds the connection's fastest by at least `hold` and nothing arrived for `hold` before
// it. Held releases count in a row; the count starts again when the stream flows (twice,
// since the last message not on time — within a sixth of `hold` of the fastest — an on-time
// message arriving at least half as long after an on-time one as it was published after it;
// messages published or arriving together count neither way: a buffer lets the on-time
// end of a release through all at once, a path that stalled and healed lets the stream go on
// at its own pace), or when the silence before a release is longer than `within` (a heartbeat
// timeout: a chunked stream that silent fails the liveness check instead). Latencies are
// compared with the connection's fastest, so an offset between the publisher's clock and ours
// does not matter; publication gaps are arrival gaps corrected by the change in latency.

export class BurstRecord {
  constructor(openedAt) {
    this.openedAt = openedAt;
    this.floor = null; // the smallest latency seen on the connection
    this.lastMessage = null; // when the previous message arrived
    this.lastLatency = null; // the previous message's latency
    this.paced = 0; // on-time messages at their own pace since the last one not on time
    this.releases = 0; // held releases in a row
  }

  /**
   * Records one message's `latency`, arrived at `now`; returns the held releases in a row.
   * With `judge` false (a replay still catching up: history, not held) it only learns the
   * floor and the arrival.
   */
  record(latency, now, hold, within, judge) {
    this.floor = this.floor === null ? latency : Math.min(this.floor, latency);
    const silence = now - (this.lastMessage === null ? this.openedAt : this.lastMessage);
    const previousLatency = this.lastLatency;
    this.lastMessage = now;
    this.lastLatency = latency;
    if (!judge) return this.releases;
    if (latency - this.floor >= hold && silence >= hold) {
      if (silence > within) this.releases = 0;
      this.releases += 1;
      this.paced = 0;
      return this.releases;
    }
    const onTime = hold / 6;
    if (previousLatency === null || latency - this.floor >= onTime || previousLatency - this.floor >= onTime) {
      this.paced = 0;
      return this.releases;
    }
    // Messages published together (several topics, a burst of publications) or arriving
    // together (a release draining, or what queued behind a lost segment) say nothing of the
    // pace; only a message late by more than the tolerance breaks it.
    const publicationGap = silence + previousLatency - latency;
    if (publicationGap > 0 && 2 * silence >= publicationGap) {
      this.paced += 1;
      if (this.paced >= 2) this.releases = 0;
    }
    return this.releases;
  }
}
