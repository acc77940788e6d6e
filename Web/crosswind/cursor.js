// The resume cursor and the delivery position. A cursor is `EPOCH:OFFSET` on the wire (the
// WebSocket `cursor=`, the SSE event id, Custom Sync's `since=`). The position is the last
// delivered cursor: every open resumes after it, and it decides what is delivered exactly once,
// in order, and what is reported as an incomplete recovery.

/** `"E:O"` → {epoch, offset}; null for anything else. */
export function parseCursor(text) {
  const match = /^(\d+):(\d+)$/.exec(String(text == null ? "" : text).trim());
  return match ? { epoch: Number(match[1]), offset: Number(match[2]) } : null;
}

/** {epoch, offset} → `"E:O"`; null for no cursor. */
export function formatCursor(cursor) {
  return cursor ? `${cursor.epoch}:${cursor.offset}` : null;
}

/**
 * The last delivered (epoch, offset). It decides and moves; the caller counts and tells the
 * application. Reports of an incomplete recovery are
 * `{reason: "outsideReplayWindow" | "newEpoch", lastDelivered, resumesAt, missing}`, with
 * `missing` null when it cannot be known (another epoch).
 */
export class DeliveryPosition {
  constructor() {
    /** {epoch, offset} or null before the first welcome. */
    this.last = null;
  }

  /** A copy of the position, null before the first welcome. */
  get cursor() {
    return this.last ? Object.assign({}, this.last) : null;
  }

  /**
   * Aligns the position with a welcome `{epoch, next, recovered}` of the open transport.
   * Returns the report of an incomplete resume, or null when the stream continues where we are.
   */
  welcome({ epoch, next, recovered }) {
    const last = this.last;
    if (!last) {
      // First welcome ever: start at the live end (or the first replayed message).
      this.last = { epoch, offset: Math.max(0, next - 1) };
      return null;
    }
    if (last.epoch === epoch && recovered) return null;
    // The server cannot replay what followed `last` (outside the replay window) or its history
    // restarted under a new epoch: say so, and continue where the stream resumes. Within one
    // epoch the position never moves back, so nothing is delivered twice.
    const before = Math.max(0, next - 1);
    const sameEpoch = last.epoch === epoch;
    this.last = { epoch, offset: sameEpoch ? Math.max(last.offset, before) : before };
    return {
      reason: sameEpoch ? "outsideReplayWindow" : "newEpoch",
      lastDelivered: Object.assign({}, last),
      resumesAt: { epoch, offset: next },
      missing: sameEpoch ? Math.max(0, before - last.offset) : null,
    };
  }

  /**
   * Admits a message `{epoch, offset}`: exactly once, in order. Returns `{duplicate: true}` for
   * an offset at or below the position (nothing moves), else moves to it and returns
   * `{duplicate: false, missing, incomplete}`: the offsets skipped over, and the report when the
   * message opens another epoch without a welcome saying so.
   */
  admit({ epoch, offset }) {
    const last = this.last;
    if (last && last.epoch === epoch && offset <= last.offset) return { duplicate: true };
    this.last = { epoch, offset };
    if (last && last.epoch !== epoch) {
      // The server's history was reset under us.
      const incomplete = { reason: "newEpoch", lastDelivered: Object.assign({}, last), resumesAt: { epoch, offset }, missing: null };
      return { duplicate: false, missing: 0, incomplete };
    }
    return { duplicate: false, missing: last && offset > last.offset + 1 ? offset - last.offset - 1 : 0, incomplete: null };
  }
}
