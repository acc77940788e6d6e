// Client messages: the outbox alone (numbering, acknowledgement, the limit), then through the
// manager over WebSocket. `node --test Web/test/`; the fakes are in Web/testing/fakes.js.

import test from "node:test";
import assert from "node:assert/strict";

import { Outbox } from "../crosswind/outbox.js";
import { EPOCH, openWebSocket, start } from "../testing/fakes.js";

test("the outbox numbers messages from 1 and keeps them until acknowledged", () => {
  const outbox = new Outbox(10);
  const a = outbox.add({ text: "a" });
  const b = outbox.add(undefined);
  const c = outbox.add("c");
  assert.deepEqual([a.entry, b.entry, c.entry], [{ seq: 1, data: { text: "a" } }, { seq: 2, data: null }, { seq: 3, data: "c" }]);
  assert.deepEqual([a.dropped, b.dropped, c.dropped], [0, 0, 0]);
  assert.equal(outbox.size, 3);
  // An acknowledgement covers every message up to its number.
  assert.equal(outbox.acknowledge(2), 2);
  assert.deepEqual(outbox.pending(), [{ seq: 3, data: "c" }]);
  assert.equal(outbox.holds(a.entry), false);
  assert.equal(outbox.holds(c.entry), true);
  // An old or repeated acknowledgement changes nothing.
  assert.equal(outbox.acknowledge(1), 0);
  assert.equal(outbox.acknowledge(0), 0);
  assert.equal(outbox.size, 1);
  // Numbers keep counting after acknowledgements: a number is never reused.
  assert.equal(outbox.add("d").entry.seq, 4);
  assert.equal(outbox.acknowledge(4), 2);
  assert.equal(outbox.size, 0);
});

test("pending() is a copy: a transport sending it cannot change the outbox", () => {
  const outbox = new Outbox(10);
  outbox.add("a");
  const batch = outbox.pending();
  batch.pop();
  assert.equal(outbox.size, 1);
  assert.deepEqual(outbox.pending(), [{ seq: 1, data: "a" }]);
});

test("past its limit the outbox drops the oldest messages and says how many", () => {
  const outbox = new Outbox(2);
  outbox.add("a");
  outbox.add("b");
  const third = outbox.add("c");
  assert.equal(third.dropped, 1);
  assert.deepEqual(outbox.pending().map((entry) => entry.seq), [2, 3]);
  // A limit of 0 keeps nothing, not even the new message.
  const none = new Outbox(0);
  const only = none.add("x");
  assert.equal(only.dropped, 1);
  assert.equal(none.holds(only.entry), false);
  assert.equal(none.size, 0);
});

test("send() past sendQueueLimit drops the oldest unacknowledged messages and counts them", async () => {
  const h = await start({ sendQueueLimit: 2 });
  // Offline (the WebSocket is not open yet): three messages, room for two.
  assert.equal(h.manager.send("a"), 1);
  assert.equal(h.manager.send("b"), 2);
  assert.equal(h.manager.send("c"), 3);
  assert.equal(h.manager.stats().counters.sendsDropped, 1);
  assert.equal(h.manager.stats().unacknowledged, 2);
  // The open sends what is left, oldest first.
  const socket = await openWebSocket(h, 1);
  assert.deepEqual(socket.sends.map((f) => [f.seq, f.data]), [[2, "b"], [3, "c"]]);
  h.manager.close();
});

test("send(): numbered, resent after a reopen, cleared by the ack", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  assert.equal(h.manager.send({ text: "a" }), 1);
  assert.equal(h.manager.send({ text: "b" }), 2);
  assert.deepEqual(first.sends, [{ type: "send", seq: 1, data: { text: "a" } }, { type: "send", seq: 2, data: { text: "b" } }]);
  // The server acknowledges 1; 2 is lost with the connection.
  first.frame({ type: "ack", seq: 1 });
  assert.equal(h.manager.stats().unacknowledged, 1);
  first.drop(1006);
  // Offline: queued.
  assert.equal(h.manager.send({ text: "c" }), 3);
  await h.clock.advance(250);
  const second = h.net.lastSocket();
  second.accept();
  assert.deepEqual(second.sends, [], "nothing is sent before the welcome");
  second.welcome(EPOCH, 1);
  assert.deepEqual(second.sends.map((f) => f.seq), [2, 3]);
  second.frame({ type: "ack", seq: 3 });
  const stats = h.manager.stats();
  assert.equal(stats.unacknowledged, 0);
  assert.equal(stats.counters.sendsAcknowledged, 3);
  h.manager.close();
});
