// The WebSocket transport under the manager: the welcome opens it; refusals, a missing welcome
// and a hung connect fall back; silence is asked about with a keepalive frame.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import { EPOCH, expectConfirmTimeout, flush, openWebSocket, start } from "../testing/fakes.js";

test("the welcome opens the WebSocket; the 101 alone does not", async () => {
  const h = await start();
  // negotiate answered, the default transport is being tried.
  assert.equal(h.net.requests[0].path, "/negotiate");
  assert.deepEqual(h.seen.changes, [{ method: "websocket", from: null, reason: "initial" }]);
  const socket = h.net.lastSocket();
  assert.equal(socket.url, "ws://dash.test/ws?topic=metrics&client=client-1");
  // Upgrade accepted: connected, not open.
  socket.accept();
  assert.equal(h.manager.isOpen, false);
  assert.equal(h.manager.stats().state, "connecting");
  // The welcome opens it.
  socket.welcome(EPOCH, 5);
  assert.equal(h.manager.isOpen, true);
  assert.equal(h.manager.method, "websocket");
  assert.equal(h.manager.cursor, "42:4");
  assert.equal(await h.manager.connect(), "websocket");
  const stats = h.manager.stats();
  assert.equal(stats.transports.websocket.attempts, 1);
  assert.equal(stats.transports.websocket.opens, 1);
  h.manager.close();
  assert.equal(socket.closedByClient, 1000);
});

test("a WebSocket refused twice in a row falls back to SSE at once (fallbackConnectRefused)", async () => {
  const h = await start();
  h.net.lastSocket().refuse();
  // One refusal: retry the same transport after the backoff.
  assert.equal(h.manager.method, "websocket");
  await h.clock.advance(250);
  assert.equal(h.net.sockets.length, 2);
  // A 101-less close (1006) before the welcome is a refusal too.
  h.net.lastSocket().drop(1006);
  assert.equal(h.manager.method, "sse");
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackConnectRefused" });
  const source = h.net.lastSource();
  assert.equal(source.url, "http://dash.test/events?topic=metrics&client=client-1");
  source.open();
  source.welcome(EPOCH, 1);
  assert.equal(h.manager.isOpen, true);
  const stats = h.manager.stats();
  assert.equal(stats.transports.websocket.refused, 2);
  assert.equal(stats.transports.websocket.failures, 2);
  assert.equal(stats.counters.switches, 1);
  assert.equal(stats.lastReason, "fallbackConnectRefused");
  h.manager.close();
});

test("a WebSocket that is upgraded but never welcomed times out (confirm) and falls back to SSE", async () => {
  const h = await start();
  const socket = h.net.lastSocket();
  await expectConfirmTimeout(h, 2500); // "101 then silence"
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackConfirmTimeout" });
  assert.equal(socket.closedByClient, 1000);
  assert.equal(h.manager.stats().transports.websocket.confirmTimeouts, 1);
  h.manager.close();
});

test("a WebSocket that never connects is given up after giveUpAfter (fallbackConnectFailed)", async () => {
  const h = await start();
  // The attempt hangs (a firewall that drops SYNs): nothing happens for 10 s.
  await h.clock.advance(9999);
  assert.equal(h.manager.method, "websocket");
  await h.clock.advance(1);
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackConnectFailed" });
  h.manager.close();
});

test("silence: a keepalive after 25 s, a reconnect after 35 s, a fallback the second time", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  await h.clock.advance(25000);
  // The browser cannot ping: the manager asks for an ack with seq 0.
  assert.deepEqual(first.sent, [{ type: "send", seq: 0, data: null }]);
  await h.clock.advance(10000);
  // Nothing came: the connection is lost; it had been open 35 s (stable), so reconnect after
  // the first backoff step: full jitter up to 500 ms, 250 ms with the fakes' random 0.5.
  assert.equal(first.closedByClient, 1000);
  assert.equal(h.net.sockets.length, 1);
  await h.clock.advance(249);
  assert.equal(h.net.sockets.length, 1);
  await h.clock.advance(1);
  assert.equal(h.net.sockets.length, 2);
  assert.equal(h.manager.method, "websocket");
  const second = await openWebSocket(h, 1);
  // An ack answers the keepalive: alive.
  await h.clock.advance(25000);
  second.frame({ type: "ack", seq: 0 });
  await h.clock.advance(30000);
  assert.equal(h.net.sockets.length, 2);
  // Then silence again (keepalive at 50 s after the ack, loss at 60 s): the second loss on
  // this transport falls back.
  await h.clock.advance(6000);
  assert.equal(h.manager.method, "sse");
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackHeartbeatLost" });
  assert.equal(h.manager.stats().transports.websocket.heartbeatLosses, 2);
  h.manager.close();
});

test("a loss before a server restart does not count toward the fallback", async () => {
  const h = await start();
  const first = await openWebSocket(h, 1);
  // Each silence: keepalive at 25 s, loss at 35 s, reconnect 250 ms later; then the welcome.
  const loseAndReopen = async (epoch) => {
    await h.clock.advance(35250);
    const socket = h.net.lastSocket();
    socket.accept();
    socket.welcome(epoch, 1);
    await flush();
  };
  // The server dies without a word and comes back under a new epoch: the loss was the server's.
  await loseAndReopen(EPOCH + 1);
  assert.equal(first.closedByClient, 1000);
  // Silent again much later: the first loss of the path's, so WebSocket is tried again.
  await loseAndReopen(EPOCH + 1);
  assert.equal(h.manager.method, "websocket");
  assert.equal(h.net.sockets.length, 3);
  // The second falls back.
  await h.clock.advance(35000);
  assert.equal(h.manager.method, "sse");
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackHeartbeatLost" });
  assert.equal(h.manager.stats().transports.websocket.heartbeatLosses, 3);
  h.manager.close();
});
