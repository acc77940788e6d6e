// The wire protocol of `crosswind serve` as the browser speaks it: query strings, the JSON
// frames a client sends, decoding what the server sends, and the welcome a Custom Sync batch
// stands for (DESIGN "Wire endpoints").

import { parseCursor } from "./cursor.js";
import { isCount } from "./options.js";

/** Query string with `:` kept literal, so cursors read `cursor=42:7` on the wire; empty values are left out. */
export function query(params) {
  const parts = [];
  for (const [name, value] of params) {
    if (value === undefined || value === null || value === "") continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value)).replace(/%3A/gi, ":")}`);
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
  const cursor = batch && batch.type === "batch" ? parseCursor(batch.cursor) : null;
  return cursor && Array.isArray(batch.messages) && isCount(batch.epoch) ? cursor : null;
}

/**
 * The welcome the first Custom Sync batch stands for: the stream continues at the batch's
 * first message, or after its cursor when it is empty.
 */
export function batchWelcome(batch, cursor) {
  const first = batch.messages[0];
  const next = first && isCount(first.offset) ? first.offset : cursor.offset + 1;
  const welcome = { type: "welcome", topic: batch.topic, epoch: batch.epoch, next, recovered: batch.recovered !== false, session: batch.session };
  // The live end, from a server that names it: later polls bring the rest of a cut-short replay.
  if (isCount(batch.live)) welcome.live = batch.live;
  return welcome;
}
