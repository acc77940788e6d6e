// Timers alone, on the fake clock: named deadlines replace each other, fire once and only while
// armed; the one-shot timer; the backoff ceiling. `node --test Web/test/`.

import test from "node:test";
import assert from "node:assert/strict";

import { NamedTimers, OneShotTimer, backoffCeiling } from "../crosswind/timers.js";
import { FakeClock } from "../testing/fakes.js";

test("a named timer fires once at its deadline; re-arming the name replaces it", async () => {
  const clock = new FakeClock();
  const timers = new NamedTimers(clock);
  const fired = [];
  const start = clock.now();
  timers.arm("retry", start + 100, () => fired.push(["retry", clock.now() - start]));
  timers.arm("giveUp", start + 300, () => fired.push(["giveUp", clock.now() - start]));
  assert.equal(timers.deadline("retry"), start + 100);
  // Re-armed: the first deadline no longer counts.
  timers.arm("retry", start + 200, () => fired.push(["retry again", clock.now() - start]));
  assert.equal(timers.deadline("retry"), start + 200);
  assert.equal(clock.timers.size, 2, "the replaced timer is cleared on the clock");
  await clock.advance(1000);
  assert.deepEqual(fired, [["retry again", 200], ["giveUp", 300]]);
  assert.equal(timers.has("retry"), false);
  assert.equal(timers.deadline("giveUp"), null);
});

test("disarmed timers never fire; disarmAll leaves nothing on the clock", async () => {
  const clock = new FakeClock();
  const timers = new NamedTimers(clock);
  const fired = [];
  for (const name of ["a", "b", "c"]) timers.arm(name, clock.now() + 10, () => fired.push(name));
  assert.equal(timers.disarm("b"), true);
  assert.equal(timers.disarm("b"), false, "nothing left to disarm");
  await clock.advance(10);
  assert.deepEqual(fired, ["a", "c"]);
  timers.arm("d", clock.now() + 10, () => fired.push("d"));
  timers.arm("e", clock.now() + 10, () => fired.push("e"));
  timers.disarmAll();
  assert.equal(clock.timers.size, 0);
  await clock.advance(100);
  assert.deepEqual(fired, ["a", "c"]);
});

test("a deadline in the past fires on the next turn of the clock", async () => {
  const clock = new FakeClock();
  const timers = new NamedTimers(clock);
  let fired = false;
  timers.arm("late", clock.now() - 500, () => { fired = true; });
  assert.equal(fired, false, "never inside arm()");
  await clock.advance(0);
  assert.equal(fired, true);
});

test("a one-shot timer runs once; starting it again replaces the pending run", async () => {
  const clock = new FakeClock();
  const timer = new OneShotTimer(clock);
  const runs = [];
  assert.equal(timer.pending, false);
  timer.start(100, () => runs.push("first"));
  timer.start(50, () => runs.push("second"));
  assert.equal(timer.pending, true);
  await clock.advance(200);
  assert.deepEqual(runs, ["second"]);
  assert.equal(timer.pending, false);
  timer.start(10, () => runs.push("cancelled"));
  timer.cancel();
  await clock.advance(100);
  assert.deepEqual(runs, ["second"]);
  assert.equal(clock.timers.size, 0);
});

test("the backoff ceiling doubles from its base up to its cap", () => {
  assert.deepEqual([0, 1, 2, 3, 5, 6, 100].map((n) => backoffCeiling(500, 20000, n)), [500, 1000, 2000, 4000, 16000, 20000, 20000]);
  assert.equal(backoffCeiling(0, 20000, 10), 0);
});
