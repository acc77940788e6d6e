// Timers: the manager's table of named deadlines, a transport's single pending timer, and the
// exponential backoff ceiling they share. Time comes from `env` (see env.js).

/**
 * Named deadlines (`confirm:ID`, `retry`, `giveUp`, `heartbeat:ID`, `probe`), as in the Swift
 * manager's timer table: arming a name replaces its deadline; a timer fires at most once and
 * only while it is still the one armed under its name.
 */
export class NamedTimers {
  constructor(env) {
    this.env = env;
    this.entries = new Map();
  }

  /** Runs `fn` at `at` (ms on `env.now()`'s clock) unless the name is re-armed or disarmed first. */
  arm(name, at, fn) {
    this.disarm(name);
    const entry = { at, handle: null };
    entry.handle = this.env.setTimeout(() => {
      if (this.entries.get(name) !== entry) return; // replaced or cancelled meanwhile
      this.entries.delete(name);
      fn();
    }, Math.max(0, at - this.env.now()));
    this.entries.set(name, entry);
  }

  /** Cancels the timer of that name; returns whether one was armed. */
  disarm(name) {
    const entry = this.entries.get(name);
    if (!entry) return false;
    this.entries.delete(name);
    this.env.clearTimeout(entry.handle);
    return true;
  }

  disarmAll() {
    for (const name of Array.from(this.entries.keys())) this.disarm(name);
  }

  has(name) {
    return this.entries.has(name);
  }

  /** When the timer of that name fires, or null if none is armed. */
  deadline(name) {
    const entry = this.entries.get(name);
    return entry ? entry.at : null;
  }
}

/** One pending timer at most: the next poll of Custom Sync, the next POST retry. */
export class OneShotTimer {
  constructor(env) {
    this.env = env;
    this.handle = null;
  }

  get pending() {
    return this.handle !== null;
  }

  /** Runs `fn` after `delayMs`, replacing a pending run. */
  start(delayMs, fn) {
    this.cancel();
    this.handle = this.env.setTimeout(() => {
      this.handle = null;
      fn();
    }, delayMs);
  }

  cancel() {
    if (this.handle !== null) this.env.clearTimeout(this.handle);
    this.handle = null;
  }
}

/** `min(cap, base × 2^attempt)`: the ceiling of the `attempt`-th backoff (counted from 0). */
export function backoffCeiling(base, cap, attempt) {
  return Math.min(cap, base * Math.pow(2, Math.min(attempt, 40)));
}
