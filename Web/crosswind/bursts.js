// The held-burst test of one open stream, as BurstRecord.swift: does it arrive in releases of
// held messages? A proxy that holds response bodies until it has N bytes lets an open event
// stream through in chunks: nothing for a while, then everything published meanwhile at once,
// the oldest late by the whole wait, the newest on time. A message is held when its latency
// exceeds the connection's fastest by at least `hold` and nothing arrived for `hold` before
// it. Held releases count in a row; the count starts again when the stream flows, or when the
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
      this.releases += 1;
      return this.releases;
    }
    if (!late && lastLate !== null && now - lateness > lastLate + hold / 6) this.releases = 0;
    return this.releases;
  }
}
