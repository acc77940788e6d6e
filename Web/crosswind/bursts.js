// The held-burst test of one open stream, as BurstRecord.swift: does it arrive in releases of
// held messages? A proxy that holds response bodies until it has N bytes lets an open event
// stream through in chunks: nothing for a while, then everything published meanwhile at once,
// the oldest late by the whole wait, the newest on time. A message is held when its latency
// exceeds the connection's fastest by at least `hold` and nothing arrived for `hold` before
// it. A release is another one only if its message was published after the last release
// arrived (less a sixth of `hold`): a buffer lets out all it holds at once, so an older message
// after another silence is the same stall going on (a lost segment resent after a doubled
// timeout). Held releases count in a row; the count starts again when the stream flows, or when the
// silence before a release is longer than `within` (a heartbeat timeout: a chunked stream that
// silent fails the liveness check instead). The stream flows when a message that is not late
// arrives, published more than a sixth of `hold` after the last late message (at least half a
// `hold` late) arrived: a buffer never lets one through, since whatever is published after a
// release waits behind the next release's oldest message, while a path that stalled and healed
// lets what is published afterwards through on its own. A publication is placed on our clock
// as the arrival less the latency beyond the connection's fastest, so an offset between the
// publisher's clock and ours does not matter.

export class BurstRecord {
  constructor(openedAt) {
    this.openedAt = openedAt;
    this.floor = null; // the smallest latency seen on the connection
    this.lastMessage = null; // when the previous message arrived
    this.lastLate = null; // when the last message at least half a hold late arrived
    this.releases = 0; // held releases in a row
    this.lastRelease = null; // when the last release counted arrived
  }

  /**
   * Records one message's `latency`, arrived at `now`; returns the held releases in a row.
   * With `judge` false (a replay still catching up: history, not held) it only learns the
   * floor and the arrivals.
   */
  record(latency, now, hold, within, judge) {
    this.floor = this.floor === null ? latency : Math.min(this.floor, latency);
    const silence = now - (this.lastMessage === null ? this.openedAt : this.lastMessage);
    this.lastMessage = now;
    const lateness = latency - this.floor;
    const lastLate = this.lastLate;
    const late = lateness >= hold / 2;
    if (late) this.lastLate = now;
    if (!judge) return this.releases;
    if (lateness >= hold && silence >= hold) {
      if (silence > within) this.releases = 0;
      // Published before the last release arrived: a buffer would have let it out with that
      // release, so the same stall goes on (a lost segment sent again after a doubled timeout).
      else if (this.lastRelease !== null && now - lateness < this.lastRelease - hold / 6) return this.releases;
      this.releases += 1;
      this.lastRelease = now;
      return this.releases;
    }
    if (!late && lastLate !== null && now - lateness > lastLate + hold / 6) this.releases = 0;
    return this.releases;
  }
}
