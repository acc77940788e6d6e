// The resume cursor and the delivery position. A cursor is `EPOCH:OFFSET` on the wire (the
// WebSocket `cursor=`, the SSE event id, Custom Sync's `since=`), or `TOPIC@EPOCH:OFFSET,…` for
// a connection that carries several topics. The position is the last delivered cursor: every
// open resumes after it, and it decides what is delivered exactly once, in order, and what is
// reported as an incomplete recovery; `TopicPositions` keeps one per topic.

/** `"E:O"` → {epoch, offset}; null for anything else. */
export function parseCursor(text) {
  const match = /^(\d+):(\d+)$/.exec(String(text == null ? "" : text).trim());
  return match ? { epoch: Number(match[1]), offset: Number(match[2]) } : null;
}

/**
 * {epoch, offset} → `"E:O"`; a multi-topic cursor `{topics: {T: {epoch, offset} | null, …}}` →
 * `"T@E:O,…"` (topics without a position left out: they start live); null for no cursor.
 */
export function formatCursor(cursor) {
  if (!cursor) return null;
  if (!cursor.topics) return `${cursor.epoch}:${cursor.offset}`;
  const parts = [];
  for (const [topic, position] of Object.entries(cursor.topics)) {
    if (position) parts.push(`${topic}@${position.epoch}:${position.offset}`);
  }
  return parts.length ? parts.join(",") : null;
}

/** `"T@E:O,…"` → `{topics: {T: {epoch, offset}, …}}`; null for anything malformed or a topic twice. */
export function parseTopicCursors(text) {
  const topics = {};
  for (const part of String(text == null ? "" : text).split(",")) {
    const match = /^([A-Za-z0-9._-]+)@(\d+):(\d+)$/.exec(part.trim());
    if (!match || Object.prototype.hasOwnProperty.call(topics, match[1])) return null;
    topics[match[1]] = { epoch: Number(match[2]), offset: Number(match[3]) };
  }
  return { topics };
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

/**
 * One `DeliveryPosition` per topic of a multi-topic connection, with the same duties: the
 * combined welcome `{topics: [{topic, epoch, next, recovered}, …]}` aligns each topic, and a
 * message moves its own topic's position only.
 */
export class TopicPositions {
  constructor(topics) {
    this.positions = new Map(topics.map((topic) => [topic, new DeliveryPosition()]));
  }

  /** `{topics: {T: {epoch, offset} | null}}`, null before the first welcome. */
  get cursor() {
    const topics = {};
    let any = false;
    for (const [topic, position] of this.positions) {
      topics[topic] = position.cursor;
      any = any || topics[topic] !== null;
    }
    return any ? { topics } : null;
  }

  /** The same as `cursor` (a multi-topic position has no single epoch). */
  get last() {
    return this.cursor;
  }

  /** The position of `topic`, undefined for a topic not followed. */
  of(topic) {
    return this.positions.get(topic);
  }

  /** Aligns every topic with its welcome; the reports of incomplete resumes, each naming its topic. */
  welcome(combined) {
    const reports = [];
    for (const entry of combined.topics) {
      const report = this.positions.get(entry.topic).welcome(entry);
      if (report) reports.push(Object.assign({ topic: entry.topic }, report));
    }
    return reports;
  }

  /** As `DeliveryPosition.admit`, on the message's topic; `{unknown: true}` for a topic not followed. */
  admit(message) {
    const position = this.positions.get(message.topic);
    if (!position) return { unknown: true };
    const verdict = position.admit(message);
    if (verdict.incomplete) verdict.incomplete = Object.assign({ topic: message.topic }, verdict.incomplete);
    return verdict;
  }
}
