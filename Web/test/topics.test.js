// Several topics over one connection (`topics: [...]`): the request names them all, each topic
// has its own welcome, position and resume cursor, on WebSocket, SSE and Custom Sync alike.
// `node --test Web/test/`; the fakes are in Web/testing/fakes.js. Each test narrates its scenario.

import test from "node:test";
import assert from "node:assert/strict";

import { RealtimeCommunicationManager } from "../crosswind/index.js";
import { formatCursor, parseTopicCursors } from "../crosswind/cursor.js";
import { EPOCH, fakeResponse, flush, makeNet, start } from "../testing/fakes.js";

const TOPICS = ["prices", "orders"];

const welcome = (topic, next, extra = {}) => Object.assign({ type: "welcome", topic, epoch: EPOCH, next, recovered: true, session: `${EPOCH}-1` }, extra);
const message = (topic, offset, epoch = EPOCH) => ({ type: "message", topic, epoch, offset, data: { n: offset } });
const delivered = (h) => h.seen.messages.map((m) => `${m.topic}:${m.offset}`);

/** The SSE stream of several topics: welcome events, then message events with the every-topic id. */
function streamEvent(source, type, frame, id) {
  if (id) source.lastEventId = id;
  source.emit(type, { data: JSON.stringify(frame), lastEventId: source.lastEventId });
}

test("topics must be 1 to 64 distinct names the server accepts", () => {
  const net = makeNet();
  const make = (topics) => new RealtimeCommunicationManager({ url: "http://dash.test", env: net.env, autoConnect: false, topics });
  assert.throws(() => make([]), /topics must be a list of 1 to 64/);
  assert.throws(() => make("prices"), /topics must be a list/);
  assert.throws(() => make(["prices", "a b"]), /may hold only letters/);
  assert.throws(() => make(["prices", "prices"]), /names a topic twice/);
  assert.throws(() => make(Array.from({ length: 65 }, (_, i) => `t${i}`)), /1 to 64/);
  assert.deepEqual(make(TOPICS).options.topics, TOPICS);
});

test("multi-topic cursors read and write TOPIC@EPOCH:OFFSET lists; malformed ones are refused", () => {
  assert.deepEqual(parseTopicCursors("prices@42:7,orders@42:3"), { topics: { prices: { epoch: 42, offset: 7 }, orders: { epoch: 42, offset: 3 } } });
  for (const bad of ["", "prices@42", "prices@42:7,prices@42:8", "42:7", "pri ces@1:2", "prices@42:7,"]) {
    assert.equal(parseTopicCursors(bad), null, bad);
  }
  assert.equal(formatCursor({ topics: { prices: { epoch: 42, offset: 7 }, orders: null } }), "prices@42:7");
  assert.equal(formatCursor({ topics: { prices: null } }), null);
});

test("WebSocket: one connection for every topic, open once each topic is welcomed, resumed per topic", async () => {
  const h = await start({ topics: TOPICS });
  const socket = h.net.lastSocket();
  assert.equal(socket.url, "ws://dash.test/ws?topics=prices,orders&client=client-1");
  socket.accept();
  socket.frame(welcome("prices", 5));
  await flush();
  assert.equal(h.manager.isOpen, false, "open only when every topic has its welcome");
  socket.frame(welcome("orders", 2));
  await flush();
  assert.equal(h.manager.isOpen, true);
  // Each topic in order on its own: a resent orders:2 is dropped, prices and orders interleave.
  for (const frame of [message("prices", 5), message("orders", 2), message("orders", 2), message("prices", 6), message("orders", 3)]) socket.frame(frame);
  assert.deepEqual(delivered(h), ["prices:5", "orders:2", "prices:6", "orders:3"]);
  assert.equal(h.manager.stats().counters.duplicates, 1);
  assert.equal(h.manager.cursor, "prices@42:6,orders@42:3");
  // A message of a topic not asked for is a protocol error, not a delivery.
  socket.frame(message("alerts", 1));
  assert.equal(h.seen.messages.length, 4);
  assert.match(h.seen.errors.at(-1), /topic "alerts", not subscribed/);
  // The connection drops; the next one resumes every topic from its own position.
  socket.drop(1006);
  await h.clock.advance(250);
  const second = h.net.lastSocket();
  assert.equal(second.url, "ws://dash.test/ws?topics=prices,orders&cursor=prices@42:6,orders@42:3&client=client-1");
  second.accept();
  second.frame(welcome("prices", 7));
  second.frame(welcome("orders", 3)); // orders replays 3 again: suppressed
  second.frame(message("orders", 3));
  second.frame(message("orders", 4));
  second.frame(message("prices", 7));
  assert.deepEqual(delivered(h).slice(4), ["orders:4", "prices:7"]);
  assert.equal(h.seen.incomplete.length, 0);
  h.manager.close();
});

test("SSE: welcome events per topic; a topic outside its window is reported on its own", async () => {
  const h = await start({ topics: TOPICS, defaultMethod: "sse", fallbackMethods: [] });
  const source = h.net.lastSource();
  assert.equal(source.url, "http://dash.test/events?topics=prices,orders&client=client-1");
  source.open();
  streamEvent(source, "welcome", welcome("prices", 1));
  streamEvent(source, "welcome", welcome("orders", 1));
  await flush();
  assert.equal(h.manager.isOpen, true);
  streamEvent(source, "message", message("prices", 1), "prices@42:1,orders@42:0");
  streamEvent(source, "message", message("orders", 1), "prices@42:1,orders@42:1");
  // EventSource reconnects by itself with that Last-Event-ID; the server resumes prices but
  // orders fell out of its replay window: a snapshot from 9, reported for orders only.
  source.error(0);
  streamEvent(source, "welcome", welcome("prices", 2));
  streamEvent(source, "welcome", welcome("orders", 9, { recovered: false }));
  await flush();
  assert.equal(h.seen.incomplete.length, 1);
  assert.equal(h.seen.incomplete[0].topic, "orders");
  assert.equal(h.seen.incomplete[0].reason, "outsideReplayWindow");
  assert.equal(h.seen.incomplete[0].missing, 7);
  streamEvent(source, "message", message("orders", 9), "prices@42:1,orders@42:9");
  streamEvent(source, "message", message("prices", 2), "prices@42:2,orders@42:9");
  assert.deepEqual(delivered(h), ["prices:1", "orders:1", "orders:9", "prices:2"]);
  assert.equal(h.manager.cursor, "prices@42:2,orders@42:9");
  h.manager.close();
});

/** SSE (Custom Sync behind it) opened with a replay of prices 3..4 before its live end 5; orders has none. */
async function openReplayingSSE() {
  const h = await start({ topics: TOPICS, defaultMethod: "sse", fallbackMethods: ["sync"] });
  const source = h.net.lastSource();
  source.open();
  streamEvent(source, "welcome", welcome("prices", 3, { live: 5 }));
  streamEvent(source, "welcome", welcome("orders", 2, { live: 2 }));
  await flush();
  assert.equal(h.manager.isOpen, true);
  return { h, source };
}

test("SSE: an open stream whose replay stops short for one topic has not caught up", async () => {
  const { h, source } = await openReplayingSSE();
  streamEvent(source, "message", message("orders", 2), "prices@42:2,orders@42:2");
  streamEvent(source, "message", message("prices", 3), "prices@42:3,orders@42:2");
  // prices:4 never comes: after a confirm timeout without progress the stream is of no use.
  await h.clock.advance(10000);
  assert.deepEqual(h.seen.changes[1], { method: "sync", from: "sse", reason: "fallbackCatchUpStalled" });
  h.manager.close();
});

test("SSE: the same stream stays once every topic's replay reached its live end", async () => {
  const { h, source } = await openReplayingSSE();
  streamEvent(source, "message", message("prices", 3), "prices@42:3,orders@42:1");
  streamEvent(source, "message", message("prices", 4), "prices@42:4,orders@42:1");
  await h.clock.advance(10000);
  assert.equal(h.manager.method, "sse");
  assert.equal(h.seen.changes.length, 1);
  h.manager.close();
});

test("Custom Sync: one poll for every topic, since per topic, a topic cut short by limit asked again at once", async () => {
  const h = await start({ topics: TOPICS, defaultMethod: "custom-sync", fallbackMethods: [], syncInterval: 2000, syncBatchSize: 2 });
  const respond = (status, body) => {
    const pending = h.net.syncQueue.shift();
    pending.respond(fakeResponse(status, body, body && body.cursor ? { ETag: `"${body.cursor}"` } : {}));
    return pending.request;
  };
  const entry = (topic, offset, live, extra = {}) => Object.assign({ topic, epoch: EPOCH, recovered: true, cursor: `${EPOCH}:${offset}`, live }, extra);
  let request = respond(200, { type: "batch", topics: [entry("prices", 4, 5), entry("orders", 0, 1)], cursor: "prices@42:4,orders@42:0", session: "42-3", messages: [] });
  assert.equal(request.url, "http://dash.test/sync?topics=prices,orders&limit=2&client=client-1");
  await flush();
  assert.equal(h.manager.isOpen, true);
  assert.equal(h.manager.cursor, "prices@42:4,orders@42:0");
  // Nothing is waiting: the next poll after syncInterval; orders publishes 1..3, the batch
  // carries two of them (limit 2), so the poll after it comes at once.
  await h.clock.advance(2000);
  request = respond(200, { type: "batch", topics: [entry("prices", 4, 5), entry("orders", 2, 4)], cursor: "prices@42:4,orders@42:2", session: "42-3",
    messages: [message("orders", 1), message("orders", 2)] });
  assert.equal(request.params.get("since"), "prices@42:4,orders@42:0");
  await h.clock.advance(0);
  assert.equal(h.net.syncQueue.length, 1, "a topic short of its live end is asked again at once");
  request = respond(200, { type: "batch", topics: [entry("prices", 5, 6), entry("orders", 3, 4)], cursor: "prices@42:5,orders@42:3", session: "42-3",
    messages: [message("prices", 5), message("orders", 3)] });
  assert.equal(request.params.get("since"), "prices@42:4,orders@42:2");
  assert.equal(request.headers["If-None-Match"], '"prices@42:4,orders@42:2"');
  await flush();
  assert.deepEqual(delivered(h), ["orders:1", "orders:2", "prices:5", "orders:3"]);
  // A batch whose cursor disagrees with its topics is refused, not delivered.
  await h.clock.advance(2000);
  respond(200, { type: "batch", topics: [entry("prices", 9, 10)], cursor: "prices@42:5", session: "42-3", messages: [message("prices", 9)] });
  await flush();
  assert.equal(h.seen.messages.length, 4);
  assert.match(h.seen.errors.at(-1), /undecodable sync batch/);
  h.manager.close();
});

test("an upgrade probe carrying several topics takes over once every topic caught up", async () => {
  const h = await start({ topics: TOPICS, defaultMethod: "websocket", fallbackMethods: ["sse"], benchmarkInterval: 10000 });
  // WebSocket refused twice: SSE opens, both topics live.
  h.net.lastSocket().refuse();
  await h.clock.advance(250);
  h.net.lastSocket().refuse();
  const source = h.net.lastSource();
  source.open();
  streamEvent(source, "welcome", welcome("prices", 1));
  streamEvent(source, "welcome", welcome("orders", 1));
  await flush();
  assert.equal(h.manager.method, "sse");
  streamEvent(source, "message", message("prices", 1), "prices@42:1,orders@42:0");
  // benchmarkInterval later a WebSocket opens beside SSE from every topic's position; both
  // topics have a replay.
  await h.clock.advance(10000);
  assert.equal(h.manager.stats().probing, "websocket");
  const probe = h.net.lastSocket();
  assert.equal(probe.url, "ws://dash.test/ws?topics=prices,orders&cursor=prices@42:1,orders@42:0&client=client-1");
  probe.accept();
  probe.frame(welcome("prices", 2, { live: 3 }));
  probe.frame(welcome("orders", 1, { live: 2 }));
  await flush();
  assert.equal(h.manager.method, "sse", "not before each topic brought its live end");
  probe.frame(message("prices", 2));
  assert.equal(h.manager.method, "sse");
  probe.frame(message("orders", 1));
  assert.equal(h.manager.method, "websocket");
  assert.deepEqual(delivered(h), ["prices:1", "prices:2", "orders:1"]);
  h.manager.close();
});
