// Client messages through the manager over WebSocket.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js.

import test from "node:test";
import assert from "node:assert/strict";

import { EPOCH, openWebSocket, start } from "../testing/fakes.js";

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
