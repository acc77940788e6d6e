// Cursors and the delivery position alone: parsing and formatting `EPOCH:OFFSET`, exactly-once
// and in-order admission, and the reports of incomplete recoveries. `node --test Web/test/`.

import test from "node:test";
import assert from "node:assert/strict";

import { DeliveryPosition, formatCursor, parseCursor } from "../crosswind/cursor.js";

test("cursors read and print as EPOCH:OFFSET; anything else is no cursor", () => {
  assert.deepEqual(parseCursor("42:7"), { epoch: 42, offset: 7 });
  assert.deepEqual(parseCursor(" 0:0 "), { epoch: 0, offset: 0 });
  for (const bad of ["", "42", "42:", ":7", "-1:3", "4.2:7", "42:7:1", "a:b", null, undefined]) {
    assert.equal(parseCursor(bad), null, `'${bad}'`);
  }
  assert.equal(formatCursor({ epoch: 42, offset: 7 }), "42:7");
  assert.equal(formatCursor(null), null);
  assert.deepEqual(parseCursor(formatCursor({ epoch: 9, offset: 123456 })), { epoch: 9, offset: 123456 });
});

test("the first welcome sets the position just before the stream's next message", () => {
  const position = new DeliveryPosition();
  assert.equal(position.cursor, null);
  assert.equal(position.welcome({ epoch: 42, next: 5, recovered: true }), null);
  assert.deepEqual(position.cursor, { epoch: 42, offset: 4 });
  // A stream that starts at 0 does not go below it.
  const empty = new DeliveryPosition();
  empty.welcome({ epoch: 1, next: 0, recovered: true });
  assert.deepEqual(empty.cursor, { epoch: 1, offset: 0 });
});

test("messages are admitted once, in order; gaps are counted", () => {
  const position = new DeliveryPosition();
  position.welcome({ epoch: 42, next: 5, recovered: true });
  assert.deepEqual(position.admit({ epoch: 42, offset: 5 }), { duplicate: false, missing: 0, incomplete: null });
  // At or below the position: a duplicate, nothing moves.
  assert.deepEqual(position.admit({ epoch: 42, offset: 5 }), { duplicate: true });
  assert.deepEqual(position.admit({ epoch: 42, offset: 3 }), { duplicate: true });
  assert.deepEqual(position.cursor, { epoch: 42, offset: 5 });
  // 6 and 7 never came: two missing.
  assert.deepEqual(position.admit({ epoch: 42, offset: 8 }), { duplicate: false, missing: 2, incomplete: null });
  assert.deepEqual(position.cursor, { epoch: 42, offset: 8 });
  // The cursor handed out is a copy.
  position.cursor.offset = 0;
  assert.deepEqual(position.cursor, { epoch: 42, offset: 8 });
});

test("a message of another epoch without a welcome is delivered and reported as a new epoch", () => {
  const position = new DeliveryPosition();
  position.welcome({ epoch: 42, next: 1, recovered: true });
  position.admit({ epoch: 42, offset: 1 });
  assert.deepEqual(position.admit({ epoch: 77, offset: 3 }), {
    duplicate: false,
    missing: 0,
    incomplete: { reason: "newEpoch", lastDelivered: { epoch: 42, offset: 1 }, resumesAt: { epoch: 77, offset: 3 }, missing: null },
  });
  assert.deepEqual(position.cursor, { epoch: 77, offset: 3 });
});

test("a welcome that cannot resume is reported; within an epoch the position never moves back", () => {
  const position = new DeliveryPosition();
  position.welcome({ epoch: 42, next: 1, recovered: true });
  position.admit({ epoch: 42, offset: 10 });
  // A complete resume in the same epoch changes nothing.
  assert.equal(position.welcome({ epoch: 42, next: 8, recovered: true }), null);
  assert.deepEqual(position.cursor, { epoch: 42, offset: 10 });
  // Outside the replay window: the stream resumes at 50, 39 messages are lost.
  assert.deepEqual(position.welcome({ epoch: 42, next: 50, recovered: false }), {
    reason: "outsideReplayWindow", lastDelivered: { epoch: 42, offset: 10 }, resumesAt: { epoch: 42, offset: 50 }, missing: 39,
  });
  assert.deepEqual(position.cursor, { epoch: 42, offset: 49 });
  // An unrecovered welcome behind the position is reported but does not move it back.
  assert.deepEqual(position.welcome({ epoch: 42, next: 20, recovered: false }), {
    reason: "outsideReplayWindow", lastDelivered: { epoch: 42, offset: 49 }, resumesAt: { epoch: 42, offset: 20 }, missing: 0,
  });
  assert.deepEqual(position.cursor, { epoch: 42, offset: 49 });
  // A new epoch starts over, however it was announced; how much was lost is unknown.
  assert.deepEqual(position.welcome({ epoch: 77, next: 1, recovered: true }), {
    reason: "newEpoch", lastDelivered: { epoch: 42, offset: 49 }, resumesAt: { epoch: 77, offset: 1 }, missing: null,
  });
  assert.deepEqual(position.cursor, { epoch: 77, offset: 0 });
});
