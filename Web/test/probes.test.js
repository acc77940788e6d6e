// Upgrade probes: back to a better transport without a duplicate; a probe that cannot resume;
// no probes of a transport the path stalled.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import { EPOCH, fallBackToSSE, openWebSocket, start } from "../testing/fakes.js";

test("the upgrade probe moves back to WebSocket without a duplicate across the overlap", async () => {
  const h = await start({ benchmarkInterval: 10000 });
  // WebSocket refused twice: on SSE.
  const source = await fallBackToSSE(h);
  source.message(EPOCH, 1);
  source.message(EPOCH, 2);
  source.message(EPOCH, 3);
  // benchmarkInterval later a WebSocket opens beside SSE, resuming from 42:3.
  await h.clock.advance(9999);
  assert.equal(h.net.sockets.length, 2);
  await h.clock.advance(1);
  assert.equal(h.net.sockets.length, 3);
  const probe = h.net.lastSocket();
  assert.equal(probe.url, "ws://dash.test/ws?topic=metrics&cursor=42:3&client=client-1");
  assert.equal(h.manager.stats().probing, "websocket");
  // Meanwhile SSE keeps delivering.
  source.message(EPOCH, 4);
  source.message(EPOCH, 5);
  // The probe is welcomed (recovered, replaying from 4): it has passed the last offset, switch.
  probe.accept();
  probe.welcome(EPOCH, 4);
  assert.equal(h.manager.method, "websocket");
  assert.deepEqual(h.seen.changes[2], { method: "websocket", from: "sse", reason: "upgradeProbeSucceeded" });
  assert.equal(source.closedByClient, true);
  // The replay overlaps what SSE delivered; late SSE events are ignored.
  source.message(EPOCH, 6);
  probe.message(EPOCH, 4);
  probe.message(EPOCH, 5);
  probe.message(EPOCH, 6);
  probe.message(EPOCH, 7);
  assert.deepEqual(h.offsets(), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(h.seen.messages.map((m) => m.transport), ["sse", "sse", "sse", "sse", "sse", "websocket", "websocket"]);
  const stats = h.manager.stats();
  assert.equal(stats.counters.duplicates, 2);
  assert.equal(stats.transports.websocket.probes, 1);
  assert.equal(stats.transports.websocket.probesSucceeded, 1);
  assert.equal(stats.counters.switches, 2);
  // On the best transport: no more probes.
  await h.clock.advance(30000);
  assert.equal(h.net.sockets.length, 3);
  h.manager.close();
});

test("a probe that cannot resume (recovered:false) is dropped; the next round comes one interval later", async () => {
  const h = await start({ defaultMethod: "websocket", fallbackMethods: ["sse"], benchmarkInterval: 10000 });
  const source = await fallBackToSSE(h);
  source.message(EPOCH, 1);
  await h.clock.advance(10000);
  const probe = h.net.lastSocket();
  probe.accept();
  probe.welcome(EPOCH, 9, false);
  assert.equal(h.manager.method, "sse");
  assert.equal(probe.closedByClient, 1000);
  assert.equal(h.manager.stats().probing, null);
  assert.equal(h.seen.incomplete.length, 0, "a failed probe is not the application's business");
  // The probe that never connects is bounded by giveUpAfter; the round after that opens another.
  await h.clock.advance(10000);
  assert.equal(h.net.sockets.length, 4);
  await h.clock.advance(10000);
  assert.equal(h.manager.stats().probing, null);
  assert.equal(h.manager.method, "sse");
  h.manager.close();
});

test("a transport the path silenced twice is not probed for rememberFor", async () => {
  // WebSocket opens, then goes silent twice (a path that lets it open and then holds it): the
  // manager falls back to SSE. A probe of WebSocket would pass its welcome and switch back into
  // the same stall, so probes leave it out for rememberFor (40 s here; 30 min by default).
  const h = await start({ benchmarkInterval: 10000, rememberFor: 40000 });
  await openWebSocket(h, 1);
  // The first silence ends it; the reconnect comes after a jittered first backoff step.
  await h.clock.advance(35000);
  for (let waited = 0; h.net.sockets.length < 2 && waited < 5000; waited += 50) await h.clock.advance(50);
  assert.equal(h.net.sockets.length, 2);
  await openWebSocket(h, 1);
  // The second silence falls back; the SSE stream opens at once.
  for (let waited = 0; h.manager.method !== "sse" && waited < 60000; waited += 100) await h.clock.advance(100);
  assert.deepEqual(h.seen.changes[1], { method: "sse", from: "websocket", reason: "fallbackHeartbeatLost" });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1);
  const sockets = h.net.sockets.length;
  // SSE stays alive (a message every 5 s); probes come every 10 s but leave WebSocket out.
  let offset = 1;
  for (let elapsed = 0; elapsed < 35000; elapsed += 5000) {
    await h.clock.advance(5000);
    source.message(EPOCH, offset++);
  }
  assert.equal(h.net.sockets.length, sockets);
  assert.equal(h.manager.stats().transports.websocket.probes, 0);
  // 40 s after the fallback WebSocket is a probe target again: the fourth round, 40 s after
  // SSE opened, opens one beside SSE.
  await h.clock.advance(5000);
  assert.equal(h.net.sockets.length, sockets + 1);
  assert.equal(h.manager.stats().probing, "websocket");
  assert.equal(h.manager.method, "sse");
  h.manager.close();
});
