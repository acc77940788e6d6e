// The SSE transport under the manager: the confirm timeout from the request, EventSource's own
// reconnects, the idle check, client messages by POST beside the stream.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import { EPOCH, fakeResponse, flush, messageFrame, start } from "../testing/fakes.js";

test("an SSE stream whose welcome never arrives falls back to Custom Sync", async () => {
  const h = await start({ defaultMethod: "sse", fallbackMethods: ["sync"] });
  const source = h.net.lastSource();
  source.open(); // the response head came, the welcome is held (a buffering proxy)
  await h.clock.advance(2500);
  assert.equal(h.manager.method, "sync");
  assert.deepEqual(h.seen.changes, [
    { method: "sse", from: null, reason: "initial" },
    { method: "sync", from: "sse", reason: "fallbackConfirmTimeout" },
  ]);
  assert.equal(source.closedByClient, true);
  assert.equal(h.net.syncRequests().length, 1);
  h.manager.close();
});

test("a proxy that holds the SSE response head back: the confirm timeout runs from the request", async () => {
  const h = await start({ defaultMethod: "sse", fallbackMethods: ["sync"] });
  const source = h.net.lastSource(); // never opens: no head, no welcome
  await h.clock.advance(2499);
  assert.equal(h.manager.method, "sse");
  await h.clock.advance(1);
  assert.equal(h.manager.method, "sync");
  assert.deepEqual(h.seen.changes[1], { method: "sync", from: "sse", reason: "fallbackConfirmTimeout" });
  assert.equal(source.closedByClient, true);
  h.manager.close();
});

test("SSE on an idle topic: a sync check at our cursor tells idle from dead", async () => {
  const h = await start({ defaultMethod: "sse", fallbackMethods: ["sync"] });
  h.net.sync = (request) => fakeResponse(304, null, { ETag: request.headers["If-None-Match"] });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 8);
  await h.clock.advance(25000);
  const check = h.net.syncRequests()[0];
  assert.equal(check.url, "http://dash.test/sync?topic=metrics&since=42:7&limit=1&client=client-1");
  assert.equal(check.headers["If-None-Match"], '"42:7"');
  // 304: idle, not dead. Two more minutes of idleness keep it open.
  await h.clock.advance(120000);
  assert.equal(h.manager.method, "sse");
  assert.equal(h.net.sources.length, 1);
  // Now the check finds messages the stream did not bring: the stream is dead.
  h.net.sync = () => fakeResponse(200, { type: "batch", topic: "metrics", epoch: EPOCH, recovered: true, cursor: "42:8", messages: [messageFrame(EPOCH, 8)] });
  await h.clock.advance(35000);
  assert.equal(h.net.sources.length, 2, "heartbeat lost: reconnect");
  assert.equal(h.manager.stats().transports.sse.heartbeatLosses, 1);
  h.manager.close();
});

test("EventSource's own reconnect (stream recycling) is normal: same transport, no duplicates", async () => {
  const h = await start({ defaultMethod: "sse" });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1, true, "42-1");
  source.message(EPOCH, 1);
  source.message(EPOCH, 2);
  // The stream ended after its byte budget; EventSource reconnects with Last-Event-ID 42:2.
  source.error(0);
  assert.equal(source.closedByClient, false);
  source.open();
  source.welcome(EPOCH, 2, true, "42-2");
  source.message(EPOCH, 2);
  source.message(EPOCH, 3);
  assert.deepEqual(h.offsets(), [1, 2, 3]);
  assert.equal(h.seen.changes.length, 1);
  assert.equal(h.manager.stats().transports.sse.reconnects, 1);
  assert.equal(h.manager.stats().counters.duplicates, 1);
  // EventSource gives up (readyState CLOSED): a lost connection, reconnected by the manager with cursor=.
  source.error(2);
  await h.clock.advance(250);
  assert.equal(h.net.lastSource().url, "http://dash.test/events?topic=metrics&cursor=42:3&client=client-1");
  h.manager.close();
});

test("an EventSource that dies before any event id is replaced with one that passes cursor=", async () => {
  const h = await start({ defaultMethod: "sse" });
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 20);
  source.error(0); // it would reconnect from the live end
  assert.equal(source.closedByClient, true);
  assert.equal(h.net.sources.length, 2);
  assert.equal(h.net.lastSource().url, "http://dash.test/events?topic=metrics&cursor=42:19&client=client-1");
  assert.equal(h.manager.method, "sse");
  h.manager.close();
});

test("send() beside SSE: POST /send?session=S, resent under the new session after a 404", async () => {
  const h = await start({ defaultMethod: "sse" });
  const posts = [];
  let answer = (request) => fakeResponse(404, { type: "error", reason: "unknown session" });
  h.net.send = (request) => { posts.push(request); return answer(request); };
  const source = h.net.lastSource();
  source.open();
  source.welcome(EPOCH, 1, true, "42-5");
  source.message(EPOCH, 1);
  h.manager.send({ x: 1 });
  await flush();
  assert.equal(posts.length, 1);
  assert.equal(posts[0].url, "http://dash.test/send?session=42-5");
  assert.equal(posts[0].init.method, "POST");
  assert.deepEqual(posts[0].body, { type: "send", messages: [{ seq: 1, data: { x: 1 } }] });
  // 404: the session ended with its stream; EventSource reconnects and the new welcome names a new one.
  answer = (request) => fakeResponse(200, { type: "ack", seq: 1 });
  source.error(0);
  source.open();
  source.welcome(EPOCH, 2, true, "42-6");
  await flush();
  assert.equal(posts.length, 2);
  assert.equal(posts[1].url, "http://dash.test/send?session=42-6");
  assert.deepEqual(posts[1].body.messages.map((m) => m.seq), [1]);
  assert.equal(h.manager.stats().unacknowledged, 0);
  h.manager.close();
});
