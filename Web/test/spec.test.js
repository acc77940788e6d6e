// The manager's shared specification (Tests/ManagerScripts/*.json, run by the Swift tests too)
// against the browser client on the fakes: the same inputs at the same virtual times must make
// the same method changes, opens, deliveries, incomplete recoveries and transmissions.
// `node --test Web/test/`; the format is described in Tests/ManagerScripts/README.md.

import test from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

import { formatCursor } from "../crosswind/index.js";
import { flush, makeNet, start } from "../testing/fakes.js";

const folder = new URL("../../Tests/ManagerScripts/", import.meta.url);
const files = readdirSync(folder).filter((name) => name.endsWith(".json")).sort();

test("the specification has scripts", () => {
  assert.ok(files.length >= 8, `${files.length} scripts in ${folder.pathname}`);
});

/** The script's options as the browser client's. */
function clientOptions(options = {}) {
  const known = ["defaultMethod", "fallbackMethods", "autoSwitch", "giveUpAfter", "refusalsBeforeFallback", "benchmarkInterval", "backoff", "latencyThreshold", "latencyWindow", "behindLatency", "behindFor"];
  for (const key of Object.keys(options)) assert.ok(known.includes(key), `unknown option ${key}`);
  return Object.assign({}, options);
}

/** Plays a script on the fakes, step by step. */
class Driver {
  constructor(options) {
    this.options = clientOptions(options);
    this.net = makeNet();
    this.origin = this.net.clock.t;
    this.h = null;
    this.attempts = []; // {method, fake} in the order they opened
    this.counts = { websocket: 0, sse: 0, sync: 0 };
    this.seen = { changes: 0, messages: 0, incomplete: 0 };
    this.sentSeen = new Map(); // socket → frames already looked at
  }

  target(number) {
    const attempt = number ? this.attempts[number - 1] : this.attempts[this.attempts.length - 1];
    assert.ok(attempt, "no attempt has opened yet");
    return attempt;
  }

  async step(at, input, number) {
    await this.net.clock.advance(this.origin + at - this.net.clock.t);
    const observed = this.observe(); // what the timers did
    const [[name, args = {}]] = Object.entries(input);
    const epoch = args.epoch === undefined ? 42 : args.epoch;
    switch (name) {
      case "start":
        this.h = await start(this.options, this.net);
        break;
      case "wait":
        break;
      case "connect": {
        const { method, fake } = this.target(number);
        if (method === "websocket") fake.accept();
        else if (method === "sse") fake.open();
        break;
      }
      case "welcome": {
        const { method, fake } = this.target(number);
        const recovered = args.recovered === undefined ? true : args.recovered;
        if (method === "sse") fake.welcome(epoch, args.next, recovered, `${epoch}-7`, args.live);
        else fake.welcome(epoch, args.next, recovered, args.live);
        break;
      }
      case "message": {
        // A latency is told the way the browser measures it: the publisher's stamp `data.ts`.
        const data = args.latency === undefined ? { n: args.offset } : { n: args.offset, ts: this.net.clock.now() - args.latency };
        this.target(number).fake.message(epoch, args.offset, data);
        break;
      }
      case "refuse":
        this.target(number).fake.refuse();
        break;
      case "drop": {
        const { method, fake } = this.target(number);
        if (method === "websocket") fake.drop(1006);
        else fake.error(2);
        break;
      }
      case "send":
        this.h.manager.send(args.data);
        break;
      case "ack":
        this.target(number).fake.frame({ type: "ack", seq: args.seq });
        break;
      default:
        assert.fail(`unknown input ${name}`);
    }
    await flush();
    return merge(observed, this.observe());
  }

  /** What happened since the last look, in the script's terms. */
  observe() {
    const out = { methodChanges: [], opens: [], delivered: [], incomplete: [], transmits: [] };
    if (!this.h) return out;
    const { seen } = this.h;
    for (const change of seen.changes.slice(this.seen.changes)) out.methodChanges.push([change.from, change.method, change.reason]);
    this.seen.changes = seen.changes.length;
    for (const message of seen.messages.slice(this.seen.messages)) out.delivered.push(message.offset);
    this.seen.messages = seen.messages.length;
    for (const info of seen.incomplete.slice(this.seen.incomplete)) out.incomplete.push([formatCursor(info.lastDelivered), formatCursor(info.resumesAt)]);
    this.seen.incomplete = seen.incomplete.length;
    const transports = this.h.manager.stats().transports;
    for (const method of ["websocket", "sse", "sync"]) {
      while (this.counts[method] < transports[method].attempts) {
        this.counts[method] += 1;
        let fake = null;
        let cursor = null;
        if (method === "websocket") {
          fake = this.net.lastSocket();
          cursor = new URL(fake.url).searchParams.get("cursor");
        } else if (method === "sse") {
          fake = this.net.lastSource();
          cursor = new URL(fake.url).searchParams.get("cursor");
        } else {
          const request = this.net.syncRequests().at(-1);
          cursor = request ? request.params.get("since") : null;
        }
        this.attempts.push({ method, fake });
        out.opens.push([method, cursor || null]);
      }
    }
    for (const { method, fake } of this.attempts) {
      if (method !== "websocket") continue;
      const looked = this.sentSeen.get(fake) || 0;
      for (const frame of fake.sent.slice(looked)) if (frame.type === "send" && frame.seq > 0) out.transmits.push(frame.seq);
      this.sentSeen.set(fake, fake.sent.length);
    }
    return out;
  }
}

function merge(a, b) {
  const out = {};
  for (const key of Object.keys(a)) out[key] = a[key].concat(b[key]);
  return out;
}

/** The script's expectation with every kind present. */
function expected(expect = {}) {
  const out = { methodChanges: [], opens: [], delivered: [], incomplete: [], transmits: [] };
  for (const [key, value] of Object.entries(expect)) {
    assert.ok(key in out, `unknown kind ${key}`);
    out[key] = value;
  }
  return out;
}

for (const file of files) {
  test(`the browser manager follows ${file}`, async () => {
    const script = JSON.parse(readFileSync(new URL(file, folder), "utf8"));
    const driver = new Driver(script.options);
    try {
      for (const [index, step] of script.steps.entries()) {
        const observed = await driver.step(step.at, step.input, step.attempt);
        assert.deepEqual(observed, expected(step.expect), `${file} step ${index + 1} at ${step.at} ms ${JSON.stringify(step.input)}`);
      }
    } finally {
      if (driver.h) driver.h.manager.close();
    }
  });
}
