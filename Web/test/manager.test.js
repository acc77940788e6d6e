// The manager's options and life cycle: aliases, negotiate, the RTT-derived confirm timeout,
// autoSwitch off, close().
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import * as Crosswind from "../crosswind/index.js";
import { RealtimeCommunicationManager } from "../crosswind/index.js";
import { EPOCH, expectConfirmTimeout, fakeResponse, makeNet, openWebSocket, start } from "../testing/fakes.js";

test("the confirm timeout is max(floor, 4 × RTT), the RTT measured by /negotiate", async () => {
  const net = makeNet();
  // /negotiate answers after 1 s: RTT 1000 ms, confirm timeout 4000 ms.
  const answer = net.negotiate;
  net.negotiate = (request) => new Promise((resolve) => net.clock.setTimeout(() => resolve(answer(request)), 1000));
  const h = await start({}, net);
  assert.equal(net.sockets.length, 0);
  await net.clock.advance(1000);
  assert.equal(h.manager.stats().rttMs, 1000);
  await expectConfirmTimeout(h, 4000);
  h.manager.close();
});

test("'custom-sync' is an alias of 'sync'; unknown transports are rejected", async () => {
  const a = new RealtimeCommunicationManager({ autoConnect: false, fallbackMethods: ["sse", "custom-sync"] });
  assert.deepEqual(a.order, ["websocket", "sse", "sync"]);
  const b = new RealtimeCommunicationManager({ autoConnect: false, defaultMethod: "custom-sync", fallbackMethods: ["sync", "sse"] });
  assert.deepEqual(b.order, ["sync", "sse"]);
  assert.equal(Crosswind.canonicalMethod("Custom-Sync"), "sync");
  assert.throws(() => new RealtimeCommunicationManager({ autoConnect: false, defaultMethod: "socket.io" }), /unknown transport/);
  // It really starts on sync.
  const h = await start({ defaultMethod: "custom-sync", fallbackMethods: ["sse"] });
  assert.equal(h.manager.method, "sync");
  assert.deepEqual(h.seen.changes, [{ method: "sync", from: null, reason: "initial" }]);
  assert.equal(h.net.syncRequests().length, 1);
  h.manager.close();
});

test("negotiate narrows the order to what the server offers and supplies the endpoints", async () => {
  const net = makeNet();
  net.negotiate = () => fakeResponse(200, { transports: ["sse", "sync"], endpoints: { sse: "/stream", sync: "/poll", send: "/up" }, epoch: 9 });
  const h = await start({}, net);
  assert.deepEqual(h.manager.order, ["sse", "sync"]);
  assert.equal(h.manager.method, "sse");
  assert.equal(net.lastSource().url, "http://dash.test/stream?topic=metrics&client=client-1");
  assert.equal(h.manager.stats().serverEpoch, 9);
  h.manager.close();
});

test("without autoSwitch the manager stays on its transport and keeps retrying", async () => {
  const h = await start({ autoSwitch: false });
  for (let i = 0; i < 5; i++) {
    h.net.lastSocket().refuse();
    await h.clock.advance(20000);
  }
  assert.equal(h.manager.method, "websocket");
  assert.equal(h.seen.changes.length, 1);
  assert.ok(h.net.sockets.length >= 6);
  h.manager.close();
});

test("close() stops everything; events of closed transports are ignored", async () => {
  const h = await start();
  const socket = await openWebSocket(h, 1);
  h.manager.close();
  assert.equal(h.manager.stats().state, "idle");
  assert.equal(h.clock.timers.size, 0);
  socket.message(EPOCH, 1);
  assert.deepEqual(h.offsets(), []);
  await h.clock.advance(600000);
  assert.equal(h.net.sockets.length, 1);
});
