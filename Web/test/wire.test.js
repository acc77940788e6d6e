// The wire protocol alone: query strings, client frames, decoding, Custom Sync batches.
// `node --test Web/test/`.

import test from "node:test";
import assert from "node:assert/strict";

import { KEEPALIVE_FRAME, acknowledged, batchCursor, batchWelcome, decode, query, sendBody, sendFrame } from "../crosswind/wire.js";

test("query strings keep ':' literal, escape the rest, and leave empty values out", () => {
  assert.equal(query([["topic", "metrics"], ["cursor", "42:7"], ["client", "a b&c"]]), "?topic=metrics&cursor=42:7&client=a%20b%26c");
  assert.equal(query([["cursor", null], ["since", undefined], ["wait", ""], ["limit", 0]]), "?limit=0");
  assert.equal(query([]), "");
});

test("client messages as frames and POST bodies; the keepalive asks with seq 0", () => {
  assert.deepEqual(JSON.parse(sendFrame({ seq: 3, data: { x: 1 } })), { type: "send", seq: 3, data: { x: 1 } });
  assert.deepEqual(JSON.parse(sendBody([{ seq: 1, data: "a" }, { seq: 2, data: null }])),
    { type: "send", messages: [{ seq: 1, data: "a" }, { seq: 2, data: null }] });
  assert.deepEqual(JSON.parse(KEEPALIVE_FRAME), { type: "send", seq: 0, data: null });
});

test("decoding: JSON or undefined; acknowledgements need a count", () => {
  assert.deepEqual(decode('{"type":"ack","seq":4}'), { type: "ack", seq: 4 });
  assert.equal(decode("null"), null);
  assert.equal(decode("{not json"), undefined);
  assert.equal(acknowledged({ type: "ack", seq: 4 }), 4);
  assert.equal(acknowledged({ type: "ack", seq: 0 }), 0);
  for (const bad of [null, {}, { type: "ack" }, { type: "ack", seq: -1 }, { type: "ack", seq: "4" }, { type: "welcome", seq: 4 }]) {
    assert.equal(acknowledged(bad), null, JSON.stringify(bad));
  }
});

test("a Custom Sync batch has a cursor and stands for a welcome at its first message", () => {
  const batch = { type: "batch", topic: "metrics", epoch: 42, recovered: true, cursor: "42:19", session: "42-3",
    messages: [{ epoch: 42, offset: 18 }, { epoch: 42, offset: 19 }] };
  const cursor = batchCursor(batch);
  assert.deepEqual(cursor, { epoch: 42, offset: 19 });
  assert.deepEqual(batchWelcome(batch, cursor), { type: "welcome", topic: "metrics", epoch: 42, next: 18, recovered: true, session: "42-3" });
  // Empty: the stream continues after the cursor; `recovered` is true unless it says false.
  const empty = { type: "batch", topic: "metrics", epoch: 42, cursor: "42:17", messages: [] };
  assert.deepEqual(batchWelcome(empty, batchCursor(empty)), { type: "welcome", topic: "metrics", epoch: 42, next: 18, recovered: true, session: undefined });
  assert.equal(batchWelcome({ ...empty, recovered: false }, batchCursor(empty)).recovered, false);
  // The live end, when the server names it: a batch cut short by its limit has more to come.
  assert.equal(batchWelcome({ ...batch, live: 70 }, cursor).live, 70);
  assert.equal(batchWelcome({ ...batch, live: "70" }, cursor).live, undefined);
  // Not a batch.
  for (const bad of [null, {}, { ...batch, type: "message" }, { ...batch, cursor: "19" }, { ...batch, messages: null }, { ...batch, epoch: "42" }]) {
    assert.equal(batchCursor(bad), null, JSON.stringify(bad));
  }
});
