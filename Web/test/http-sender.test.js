// POST /send alone: one request in flight, the whole outbox each time, backoff on errors, a
// lost session waits for the next. `node --test Web/test/`; the fakes are in Web/testing/fakes.js.

import test from "node:test";
import assert from "node:assert/strict";

import { makeEnv } from "../crosswind/env.js";
import { HttpSender } from "../crosswind/http-sender.js";
import { FakeClock, fakeResponse, flush } from "../testing/fakes.js";

/** A sender over a fake clock and fetch; `answers` is consumed one POST at a time. */
function makeSender(entries, answers) {
  const clock = new FakeClock();
  const posts = [];
  const seen = { acks: [], errors: [], sessionsLost: 0 };
  const env = makeEnv({
    fetch: (url, init) => {
      const at = clock.now();
      posts.push({ url, body: JSON.parse(init.body), at });
      const answer = answers.shift();
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, AbortController: null,
  });
  const ctx = {
    env,
    options: { backoff: { base: 500, cap: 20000 } },
    endpoints: { send: "/send" },
    outbox: () => entries.slice(),
    httpUrl: (path, params) => `http://dash.test${path}?${params.map(([name, value]) => `${name}=${value}`).join("&")}`,
  };
  const events = {
    ack: (seq) => {
      seen.acks.push(seq);
      entries.splice(0, entries.length, ...entries.filter((entry) => entry.seq > seq));
    },
    error: (detail) => seen.errors.push(detail),
  };
  const sender = new HttpSender(ctx, events, () => { seen.sessionsLost += 1; });
  return { sender, clock, posts, seen, start: clock.now() };
}

test("nothing is posted before a session; then the whole outbox in one request", async () => {
  const entries = [{ seq: 1, data: "a" }, { seq: 2, data: "b" }];
  const s = makeSender(entries, [fakeResponse(200, { type: "ack", seq: 2 })]);
  s.sender.flush();
  await flush();
  assert.equal(s.posts.length, 0);
  s.sender.setSession("42-5");
  await flush();
  assert.deepEqual(s.posts.map((p) => [p.url, p.body]), [["http://dash.test/send?session=42-5", { type: "send", messages: [{ seq: 1, data: "a" }, { seq: 2, data: "b" }] }]]);
  assert.deepEqual(s.seen.acks, [2]);
  assert.deepEqual(entries, []);
});

test("errors back off from the base, doubling; a success resets the backoff", async () => {
  const entries = [{ seq: 1, data: "a" }];
  const s = makeSender(entries, [fakeResponse(503, {}), new Error("network down"), fakeResponse(200, { type: "ack", seq: 1 })]);
  s.sender.setSession("42-5");
  await flush();
  assert.deepEqual(s.seen.errors, ["POST /send answered 503"]);
  // One request in flight at most: a flush meanwhile waits for the retry.
  s.sender.flush();
  await s.clock.advance(499);
  assert.equal(s.posts.length, 1);
  await s.clock.advance(1);
  assert.equal(s.posts.length, 2);
  assert.deepEqual(s.seen.errors, ["POST /send answered 503", "POST /send failed: network down"]);
  await s.clock.advance(999);
  assert.equal(s.posts.length, 2);
  await s.clock.advance(1);
  assert.deepEqual(s.posts.map((p) => p.at - s.start), [0, 500, 1500]);
  assert.deepEqual(s.seen.acks, [1]);
  assert.equal(s.sender.errors, 0);
});

test("a short acknowledgement retries later instead of posting in a loop", async () => {
  const entries = [{ seq: 1, data: "a" }, { seq: 2, data: "b" }];
  const s = makeSender(entries, [fakeResponse(200, { type: "ack", seq: 1 }), fakeResponse(200, { type: "ack", seq: 2 })]);
  s.sender.setSession("42-5");
  await flush();
  assert.equal(s.posts.length, 1);
  await s.clock.advance(500);
  assert.deepEqual(s.posts.map((p) => p.body.messages.map((m) => m.seq)), [[1, 2], [2]]);
  assert.deepEqual(entries, []);
});

test("404: the session is gone; the sender waits for the next one and says so", async () => {
  const entries = [{ seq: 1, data: "a" }];
  const s = makeSender(entries, [fakeResponse(404, { type: "error", reason: "unknown session" }), fakeResponse(200, { type: "ack", seq: 1 })]);
  s.sender.setSession("42-5");
  await flush();
  assert.equal(s.seen.sessionsLost, 1);
  s.sender.flush();
  await s.clock.advance(60000);
  assert.equal(s.posts.length, 1, "no session, no POST");
  s.sender.setSession("42-6");
  await flush();
  assert.deepEqual(s.posts.map((p) => p.url), ["http://dash.test/send?session=42-5", "http://dash.test/send?session=42-6"]);
  assert.deepEqual(entries, []);
});

test("404 after the next session came: the sender posts under it at once", async () => {
  // A recycled SSE stream ends its session while a POST is out; the continued stream's
  // welcome names the next session before the 404 comes back.
  const entries = [{ seq: 1, data: "a" }];
  let answer;
  const s = makeSender(entries, [new Promise((resolve) => { answer = resolve; }), fakeResponse(200, { type: "ack", seq: 1 })]);
  s.sender.setSession("42-5");
  await flush();
  s.sender.setSession("42-6");
  await flush();
  assert.equal(s.posts.length, 1, "one request in flight at most");
  answer(fakeResponse(404, { type: "error", reason: "unknown session" }));
  await flush();
  assert.equal(s.seen.sessionsLost, 0);
  assert.deepEqual(s.posts.map((p) => p.url), ["http://dash.test/send?session=42-5", "http://dash.test/send?session=42-6"]);
  assert.deepEqual(entries, []);
});

test("after close() nothing is posted and a late answer is ignored", async () => {
  const entries = [{ seq: 1, data: "a" }];
  let answer;
  const s = makeSender(entries, [new Promise((resolve) => { answer = resolve; })]);
  s.sender.setSession("42-5");
  await flush();
  s.sender.close();
  answer(fakeResponse(200, { type: "ack", seq: 1 }));
  await flush();
  assert.deepEqual(s.seen.acks, []);
  s.sender.setSession("42-6");
  await s.clock.advance(60000);
  assert.equal(s.posts.length, 1);
});
