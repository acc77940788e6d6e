// Delivery through the manager: exactly once and in order across reconnects; incomplete
// recoveries are reported.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import { EPOCH, openWebSocket, start } from "../testing/fakes.js";

test("messages are delivered once, in order; duplicates are dropped and counted", async () => {
  const h = await start();
  const socket = await openWebSocket(h, 5);
  // 5, 6, a resent 6, 7, an old 5, a gap to 9.
  socket.message(EPOCH, 5, { ts: h.clock.now() - 12, cpu: 40 });
  socket.message(EPOCH, 6, { ts: h.clock.now() - 20, cpu: 41 });
  socket.message(EPOCH, 6);
  socket.message(EPOCH, 7);
  socket.message(EPOCH, 5);
  socket.message(EPOCH, 9);
  assert.deepEqual(h.offsets(), [5, 6, 7, 9]);
  assert.deepEqual(h.seen.messages[0], { topic: "metrics", epoch: EPOCH, offset: 5, data: { ts: h.clock.now() - 12, cpu: 40 }, transport: "websocket" });
  const stats = h.manager.stats();
  assert.equal(stats.counters.delivered, 4);
  assert.equal(stats.counters.duplicates, 2);
  assert.equal(stats.counters.missing, 1);
  assert.equal(stats.transports.websocket.messages, 4);
  assert.equal(stats.transports.websocket.duplicates, 2);
  // Latency from data.ts: 12 ms and 20 ms.
  assert.equal(stats.transports.websocket.latency.count, 2);
  assert.equal(stats.transports.websocket.latency.last, 20);
  assert.equal(stats.transports.websocket.latency.average, 16);
  assert.deepEqual(stats.transports.websocket.latency.samples, [12, 20]);
  assert.equal(stats.latency.average, 16);
  assert.equal(stats.cursor, "42:9");
  h.manager.close();
});

test("a lost connection reconnects from the last delivered cursor; the overlap is suppressed", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  first.message(EPOCH, 1);
  first.message(EPOCH, 2);
  first.message(EPOCH, 3);
  // The connection breaks young: backoff (random 0.5 of 500 ms), then a new attempt with the cursor.
  first.drop(1006);
  assert.equal(h.manager.stats().state, "retrying");
  await h.clock.advance(250);
  const second = h.net.lastSocket();
  assert.notEqual(second, first);
  assert.equal(second.url, "ws://dash.test/ws?topic=metrics&cursor=42:3&client=client-1");
  second.accept();
  second.welcome(EPOCH, 2); // the server replays from 2
  second.message(EPOCH, 2);
  second.message(EPOCH, 3);
  second.message(EPOCH, 4);
  assert.deepEqual(h.offsets(), [1, 2, 3, 4]);
  assert.equal(h.manager.stats().counters.duplicates, 2);
  assert.equal(h.seen.changes.length, 1, "a reconnect of the same transport is not a method change");
  assert.equal(h.seen.incomplete.length, 0);
  h.manager.close();
});

test("a resume outside the replay window or into a new epoch is reported, never hidden", async () => {
  const h = await start();
  const first = await openWebSocket(h, 10);
  first.message(EPOCH, 10);
  first.drop(1006);
  await h.clock.advance(250);
  // Same epoch, but the server could not replay after 42:10: it resumes at 50 with a snapshot.
  const second = h.net.lastSocket();
  second.accept();
  second.welcome(EPOCH, 50, false);
  assert.equal(h.seen.incomplete.length, 1);
  assert.deepEqual(h.seen.incomplete[0], { reason: "outsideReplayWindow", lastDelivered: { epoch: 42, offset: 10 }, resumesAt: { epoch: 42, offset: 50 }, missing: 39, transport: "websocket" });
  second.message(EPOCH, 50);
  assert.deepEqual(h.offsets(), [10, 50]);
  // The server restarted: a new epoch, delivered and reported.
  second.drop(1006);
  await h.clock.advance(500);
  const third = h.net.lastSocket();
  assert.match(third.url, /cursor=42:50/);
  third.accept();
  third.welcome(77, 1, false);
  third.message(77, 1);
  assert.equal(h.seen.incomplete.length, 2);
  assert.equal(h.seen.incomplete[1].reason, "newEpoch");
  assert.deepEqual(h.offsets(), [10, 50, 1]);
  assert.equal(h.manager.cursor, "77:1");
  h.manager.close();
});
