// The wire protocol of `crosswind serve` as the browser speaks it: query strings, the JSON
// frames a client sends, decoding what the server sends, and the welcome a Custom Sync batch
// stands for (DESIGN "Wire endpoints").

import { parseCursor, parseTopicCursors } from "./cursor.js";
import { isCount } from "./options.js";

/**
 * Query string with `:`, `@` and `,` kept literal (all three are allowed in a query), so cursors
 * read `cursor=42:7` and `cursor=prices@42:7,orders@42:3` on the wire and topic lists
 * `topics=prices,orders`; empty values are left out.
 */
export function query(params) {
  const parts = [];
  for (const [name, value] of params) {
    if (value === undefined || value === null || value === "") continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value)).replace(/%3A/gi, ":").replace(/%40/gi, "@").replace(/%2C/gi, ",")}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

/** The JSON value of `text`, or undefined when it is not JSON. */
export function decode(text) {
  try {
    return JSON.parse(typeof text === "string" ? text : String(text));
  } catch (_) {
    return undefined;
  }
}

/** A client message as a WebSocket text frame: `{"type":"send","seq":N,"data":…}`. */
export function sendFrame(entry) {
  return JSON.stringify({ type: "send", seq: entry.seq, data: entry.data });
}

/** Asks the server for traffic: seq 0 is never a new message, so the server only acknowledges it. */
export const KEEPALIVE_FRAME = '{"type":"send","seq":0,"data":null}';

/** Client messages as the body of `POST /send`. */
export function sendBody(entries) {
  return JSON.stringify({ type: "send", messages: entries.map((entry) => ({ seq: entry.seq, data: entry.data })) });
}

/** The sequence number an `{"type":"ack","seq":N}` answer acknowledges, or null. */
export function acknowledged(answer) {
  return answer && answer.type === "ack" && isCount(answer.seq) ? answer.seq : null;
}

/**
 * A Custom Sync batch's cursor, or null when it is not a well-formed batch
 * (`{"type":"batch", cursor, epoch, messages: […]}`).
 */
export function batchCursor(batch) {
  if (!batch || batch.type !== "batch" || !Array.isArray(batch.messages)) return null;
  if (Array.isArray(batch.topics)) return multiplexedBatchCursor(batch);
  const cursor = parseCursor(batch.cursor);
  return cursor && isCount(batch.epoch) ? cursor : null;
}

/**
 * A multi-topic batch's cursor `{topics: {T: {epoch, offset}}}` (`"cursor":"A@E:O,…"`), or null
 * unless every topic entry is well formed and agrees with it.
 */
function multiplexedBatchCursor(batch) {
  const cursor = parseTopicCursors(batch.cursor);
  if (!cursor) return null;
  for (const entry of batch.topics) {
    const position = entry && cursor.topics[entry.topic];
    const own = entry ? parseCursor(entry.cursor) : null;
    if (!position || !own || !isCount(entry.epoch) || own.epoch !== position.epoch || own.offset !== position.offset) return null;
  }
  return cursor;
}

/**
 * Whether a batch stopped short of a live end (`limit`): more is waiting, ask again at once. A
 * one-topic batch is full when it holds `limit` messages; a multi-topic one when any topic's
 * position is still below its live end.
 */
export function batchIsFull(batch, cursor, limit) {
  if (!cursor.topics) return batch.messages.length >= limit;
  return batch.topics.some((entry) => isCount(entry.live) && cursor.topics[entry.topic].offset + 1 < entry.live);
}

/**
 * The welcome the first Custom Sync batch stands for: the stream continues at the batch's
 * first message, or after its cursor when it is empty.
 */
export function batchWelcome(batch, cursor) {
  if (cursor.topics) {
    // One welcome per topic, as a multi-topic stream sends them, combined as transport.js does.
    const topics = batch.topics.map((entry) => {
      const first = batch.messages.find((message) => message && message.topic === entry.topic);
      const next = first && isCount(first.offset) ? first.offset : cursor.topics[entry.topic].offset + 1;
      const welcome = { type: "welcome", topic: entry.topic, epoch: entry.epoch, next, recovered: entry.recovered !== false, session: batch.session };
      if (isCount(entry.live)) welcome.live = entry.live;
      return welcome;
    });
    return { topics, session: batch.session };
  }
  const first = batch.messages[0];
  const next = first && isCount(first.offset) ? first.offset : cursor.offset + 1;
  const welcome = { type: "welcome", topic: batch.topic, epoch: batch.epoch, next, recovered: batch.recovered !== false, session: batch.session };
  // The live end, from a server that names it: later polls bring the rest of a cut-short replay.
  if (isCount(batch.live)) welcome.live = batch.live;
  return welcome;
}
