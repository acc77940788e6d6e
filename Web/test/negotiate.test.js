// GET /negotiate alone (what is taken from the answer, what makes it fail), and a manager whose
// negotiation fails. `node --test Web/test/`; the fakes are in Web/testing/fakes.js.

import test from "node:test";
import assert from "node:assert/strict";

import { makeEnv } from "../crosswind/env.js";
import { negotiate } from "../crosswind/negotiate.js";
import { FakeClock, expectConfirmTimeout, fakeResponse, flush, makeNet, start } from "../testing/fakes.js";

/** An env on the fake clock whose fetch answers with `answer(url, init)`. */
function envWith(clock, answer) {
  return makeEnv({ fetch: answer, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, AbortController: null });
}

test("the answer gives the RTT, the epoch, absolute endpoint paths and the known transports", async () => {
  const clock = new FakeClock();
  const env = envWith(clock, (url) => {
    assert.equal(url, "http://dash.test/negotiate");
    return new Promise((resolve) => clock.setTimeout(() => resolve(fakeResponse(200, {
      transports: ["socket.io", "custom-sync", "SSE"],
      endpoints: { websocket: "ws-relative", sse: "/stream", sync: 7, send: "/up", negotiate: "/elsewhere" },
      epoch: 9,
    })), 120));
  });
  const pending = negotiate(env, "http://dash.test/negotiate", 10000);
  await clock.advance(120);
  assert.deepEqual(await pending, { rttMs: 120, epoch: 9, endpoints: { sse: "/stream", send: "/up" }, transports: ["sync", "sse"] });
  assert.equal(clock.timers.size, 0, "the timeout is cleared once answered");
});

test("an answer without transports or epoch leaves them unknown", async () => {
  const clock = new FakeClock();
  const env = envWith(clock, () => fakeResponse(200, { epoch: -1 }));
  assert.deepEqual(await negotiate(env, "/negotiate", 10000), { rttMs: 0, epoch: null, endpoints: {}, transports: null });
});

test("a status other than 200, a body that is not JSON, no fetch or no answer in time is an error", async () => {
  const clock = new FakeClock();
  await assert.rejects(negotiate(envWith(clock, () => fakeResponse(503, {})), "/negotiate", 10000), /answered 503/);
  await assert.rejects(negotiate(envWith(clock, () => fakeResponse(200, "{not json")), "/negotiate", 10000), SyntaxError);
  const withoutFetch = Object.assign(envWith(clock, null), { fetch: undefined }); // Node 20 has a global fetch
  await assert.rejects(negotiate(withoutFetch, "/negotiate", 10000), /fetch is not available/);
  // Silence: given up after the timeout, and the request is aborted.
  const aborted = [];
  class FakeAbortController {
    constructor() { this.signal = {}; }
    abort() { aborted.push(true); }
  }
  const env = makeEnv({ fetch: () => new Promise(() => {}), setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, AbortController: FakeAbortController });
  const pending = negotiate(env, "/negotiate", 10000);
  const outcome = assert.rejects(pending, /no answer within 10000 ms/);
  await clock.advance(10000);
  await outcome;
  assert.deepEqual(aborted, [true]);
});

test("a failed negotiate is reported and the manager starts on its defaults", async () => {
  const net = makeNet();
  net.negotiate = () => fakeResponse(500, { type: "error", reason: "down" });
  const h = await start({ confirmTimeoutFloor: 1000 }, net);
  await flush();
  assert.deepEqual(h.seen.errors, ["negotiate: answered 500"]);
  assert.equal(h.manager.method, "websocket");
  assert.deepEqual(h.manager.order, ["websocket", "sse", "sync"]);
  assert.equal(h.manager.stats().rttMs, null);
  // No RTT measured: the confirm timeout assumes initialRtt (500 ms), 4 × 500 = 2000 ms over the 1000 ms floor.
  await expectConfirmTimeout(h, 2000);
  h.manager.close();
});
