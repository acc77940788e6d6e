// The Custom Sync transport under the manager: the first batch is the welcome, since/ETag,
// 304 as a heartbeat, resuming after a failed poll.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import { EPOCH, fakeResponse, flush, messageFrame, start } from "../testing/fakes.js";

test("Custom Sync: the first batch is the welcome; since/ETag advance; 304 is a heartbeat", async () => {
  const h = await start({ defaultMethod: "custom-sync", fallbackMethods: [], syncInterval: 2000 });
  const respond = (status, body, etag) => {
    const pending = h.net.syncQueue.shift();
    pending.respond(fakeResponse(status, body, etag ? { ETag: etag } : {}));
    return pending.request;
  };
  // First poll: no cursor, no entity tag.
  let request = respond(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:17", session: "42-3", messages: [] }, '"42:17"');
  assert.equal(request.url, "http://dash.test/sync?topic=metrics&limit=50&client=client-1");
  assert.equal(request.headers["If-None-Match"], undefined);
  await flush();
  assert.equal(h.manager.isOpen, true);
  assert.equal(h.manager.method, "sync");
  assert.equal(h.manager.cursor, "42:17");
  // Next poll after syncInterval, with since and If-None-Match; 304: nothing new.
  await h.clock.advance(1999);
  assert.equal(h.net.syncQueue.length, 0);
  await h.clock.advance(1);
  request = respond(304, null, '"42:17"');
  assert.equal(request.url, "http://dash.test/sync?topic=metrics&since=42:17&limit=50&client=client-1");
  assert.equal(request.headers["If-None-Match"], '"42:17"');
  await h.clock.advance(2000);
  // Still the same position; this time two messages.
  request = respond(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:19", session: "42-3",
    messages: [messageFrame(EPOCH, 18), messageFrame(EPOCH, 19)] }, '"42:19"');
  assert.equal(request.params.get("since"), "42:17");
  await flush();
  assert.deepEqual(h.offsets(), [18, 19]);
  await h.clock.advance(2000);
  request = respond(304, null, '"42:19"');
  assert.equal(request.params.get("since"), "42:19");
  assert.equal(request.headers["If-None-Match"], '"42:19"');
  await flush();
  // Quiet for a minute of 304s: heartbeats keep it open, nothing is delivered twice.
  for (let i = 0; i < 30; i++) {
    await h.clock.advance(2000);
    respond(304, null, '"42:19"');
  }
  await flush();
  assert.equal(h.manager.isOpen, true);
  assert.deepEqual(h.offsets(), [18, 19]);
  assert.equal(h.manager.stats().transports.sync.heartbeatLosses, 0);
  h.manager.close();
});

test("Custom Sync resumes with since= after a failed poll gives way to a new attempt", async () => {
  const h = await start({ defaultMethod: "sync", fallbackMethods: [], syncMaxConsecutiveErrors: 0 });
  h.net.syncQueue.shift().respond(fakeResponse(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:5", session: "42-1",
    messages: [messageFrame(EPOCH, 4), messageFrame(EPOCH, 5)] }, { ETag: '"42:5"' }));
  await flush();
  assert.deepEqual(h.offsets(), [4, 5]);
  await h.clock.advance(2000);
  // The server answers 503: the open connection is lost (young), backoff, then a new attempt from 42:5.
  h.net.syncQueue.shift().respond(fakeResponse(503, { type: "error", reason: "busy" }));
  await flush();
  assert.equal(h.manager.stats().state, "retrying");
  await h.clock.advance(250);
  const retry = h.net.syncQueue.shift();
  assert.equal(retry.request.params.get("since"), "42:5");
  assert.equal(retry.request.headers["If-None-Match"], undefined, "a new attempt starts without an entity tag");
  h.manager.close();
});

test("Custom Sync: a failed poll asks again after a full-jitter pause, its ceiling doubling", async () => {
  // The fakes' random draws 0.5: half of each ceiling (500 ms, 1 s, 2 s).
  const h = await start({ defaultMethod: "sync", fallbackMethods: [], syncMaxConsecutiveErrors: 5 });
  h.net.syncQueue.shift().respond(fakeResponse(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:5", session: "42-1", messages: [] }));
  await flush();
  await h.clock.advance(2000);
  for (const pause of [250, 500, 1000]) {
    h.net.syncQueue.shift().respond(fakeResponse(503, { type: "error", reason: "busy" }));
    await flush();
    await h.clock.advance(pause - 1);
    assert.equal(h.net.syncQueue.length, 0, `nothing before ${pause} ms`);
    await h.clock.advance(1);
    assert.equal(h.net.syncQueue.length, 1, `asked again after ${pause} ms`);
  }
  assert.equal(h.manager.isOpen, true);
  h.manager.close();
});
