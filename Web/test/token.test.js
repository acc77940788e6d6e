// Access tokens for a server started with a token secret: sent as `?token=` by WebSocket, SSE
// and Custom Sync, as `Authorization: Bearer` by POST /send, asked for again at every
// connection attempt when given as a function. `node --test Web/test/`.

import test from "node:test";
import assert from "node:assert/strict";

import { makeEnv } from "../crosswind/env.js";
import { HttpSender } from "../crosswind/http-sender.js";
import { FakeClock, fakeResponse, fallBackToSSE, flush, start } from "../testing/fakes.js";

test("a fixed token rides on the WebSocket URL", async () => {
  const h = await start({ token: "t.o.k" });
  assert.equal(h.net.lastSocket().url, "ws://dash.test/ws?topic=metrics&client=client-1&token=t.o.k");
  h.manager.close();
});

test("a token function is asked at every attempt, and the fresh token is sent", async () => {
  let issued = 0;
  const h = await start({ token: () => `token-${++issued}`, fallbackMethods: ["sse"] });
  assert.equal(h.net.lastSocket().url, "ws://dash.test/ws?topic=metrics&client=client-1&token=token-1");
  // WebSocket refused twice: the SSE stream is opened with the next token.
  await fallBackToSSE(h);
  assert.match(h.net.lastSource().url, /^http:\/\/dash\.test\/events\?topic=metrics&client=client-1&token=token-3$/);
  h.manager.close();
});

test("without a token nothing is added; a bad one is refused at construction", async () => {
  const h = await start();
  assert.equal(h.net.lastSocket().url, "ws://dash.test/ws?topic=metrics&client=client-1");
  h.manager.close();
  await assert.rejects(async () => start({ token: 42 }), /token must be a string or a function/);
});

test("POST /send carries the token as a bearer header", async () => {
  const clock = new FakeClock();
  const posts = [];
  const env = makeEnv({
    fetch: (url, init) => {
      posts.push({ url, headers: init.headers });
      return Promise.resolve(fakeResponse(200, { type: "ack", seq: 1 }));
    },
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, AbortController: null,
  });
  const entries = [{ seq: 1, data: "a" }];
  const ctx = {
    env,
    options: { backoff: { base: 500, cap: 20000 }, token: () => "fresh" },
    endpoints: { send: "/send" },
    outbox: () => entries.slice(),
    httpUrl: (path, params) => `http://dash.test${path}?${params.map(([name, value]) => `${name}=${value}`).join("&")}`,
  };
  const sender = new HttpSender(ctx, { ack: () => entries.splice(0), error: () => {} }, () => {});
  sender.setSession("42-5");
  await flush();
  assert.deepEqual(posts, [{ url: "http://dash.test/send?session=42-5", headers: { "Content-Type": "application/json", Authorization: "Bearer fresh" } }]);
  sender.close();
});
