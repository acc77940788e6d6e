"""The dashboard's JS client in headless Chromium behind a middlebox: which transport it ends
on, every switch with its time, and whether every published message arrived exactly once.

usage: middlebox_browser.py URL SECONDS [--server http://127.0.0.1:PORT] [--drain SECONDS] [--shot FILE.png]

Opens URL (the dashboard, usually through a proxy), lets it run SECONDS, then asks the origin
server (--server, directly, not through the proxy) for its newest offset, waits --drain seconds
(default 3) for messages still in flight, and prints one JSON line:

  final     the transport open at the end, the manager's state and the last switch's reason
  switches  [{atMs, from, to, reason}]: every onMethodChange, atMs counted from the moment the
            page published the manager, just before it connects (the first entry is the initial
            choice, one /negotiate round trip later)
  counters  the manager's own counters (delivered, duplicates dropped, missing, …)
  messages  what the application saw, recorded by a hook independent of the manager's
            bookkeeping: delivered, first/last offset, cutoff (the server's newest offset at
            the end of the window), missing (offsets from the first one up to the cutoff never
            delivered), repeated (delivered more than once), outOfOrder
  latencyMs avg/p50/max of receive time minus the publish stamp (`data.ts`)

The hook is installed before the page's scripts run (Page.addScriptToEvaluateOnNewDocument). The
page's module creates the manager without connecting and sets `window.crosswindManager` before
it connects (Web/index.html); the hook catches that assignment and wraps the manager's
onMethodChange and onMessage options, which the manager reads at every call (Web/crosswind/
manager.js), so the page's own callbacks are observed, not replaced, from the first event on.
Chromium is driven over the DevTools protocol as in Scripts/browser_check.py.
"""
import asyncio
import base64
import json
import sys
import urllib.request

from headless_chromium import devtools_page, headless_chromium

HOOK = r"""
(() => {
  const record = { started: null, switches: [], offsets: [], latencies: [], epoch: null, repeated: 0, outOfOrder: 0 };
  const seen = new Set();
  let last = -1;
  globalThis.__middlebox = record;
  let manager;
  Object.defineProperty(globalThis, "crosswindManager", {
    configurable: true,
    get() { return manager; },
    set(value) {
      manager = value;
      record.started = performance.now();
      const options = value.options;
      const onMethodChange = options.onMethodChange;
      const onMessage = options.onMessage;
      options.onMethodChange = function (method, info) {
        record.switches.push({ atMs: performance.now() - record.started, from: info.from || null, to: method, reason: info.reason });
        if (onMethodChange) return onMethodChange.apply(this, arguments);
      };
      options.onMessage = function (message) {
        if (record.epoch === null) record.epoch = message.epoch;
        if (message.epoch === record.epoch) {
          if (seen.has(message.offset)) record.repeated += 1;
          else if (message.offset < last) record.outOfOrder += 1;
          seen.add(message.offset);
          record.offsets.push(message.offset);
          last = Math.max(last, message.offset);
        }
        const data = message.data;
        if (data && typeof data.ts === "number") record.latencies.push(Date.now() - data.ts);
        if (onMessage) return onMessage.apply(this, arguments);
      };
    },
  });
})();
"""

READ = """JSON.stringify((() => {
  const m = window.crosswindManager, r = globalThis.__middlebox;
  const s = m ? m.stats() : null;
  return { stats: s ? { method: s.method, state: s.state, lastReason: s.lastReason, counters: s.counters } : null,
           record: r ? { switches: r.switches, offsets: r.offsets, latencies: r.latencies, epoch: r.epoch, repeated: r.repeated, outOfOrder: r.outOfOrder } : null };
})())"""


def arguments(argv):
    url, seconds = argv[0], float(argv[1])
    options = dict(zip(argv[2::2], argv[3::2]))
    return url, seconds, options.get("--server"), float(options.get("--drain", "3")), options.get("--shot")


def server_cutoff(server):
    """The origin's newest offset and epoch (a Custom Sync request without `since` answers at the live end)."""
    with urllib.request.urlopen(f"{server}/sync?topic=metrics&limit=1", timeout=5) as response:
        batch = json.loads(response.read())
    epoch, offset = batch["cursor"].split(":")
    return int(epoch), int(offset)


def summarize(state, cutoff):
    record = state["record"] or {}
    stats = state["stats"] or {}
    offsets = record.get("offsets", [])
    messages = {"delivered": len(offsets), "repeated": record.get("repeated", 0), "outOfOrder": record.get("outOfOrder", 0)}
    if offsets:
        messages.update(first=min(offsets), last=max(offsets))
    if cutoff is not None and offsets:
        epoch, newest = cutoff
        messages["cutoff"] = newest
        messages["sameEpoch"] = epoch == record.get("epoch")
        wanted = set(range(min(offsets), newest + 1))
        messages["missing"] = len(wanted - set(offsets))
    latencies = sorted(record.get("latencies", []))
    latency = {}
    if latencies:
        latency = {"avg": sum(latencies) / len(latencies), "p50": latencies[len(latencies) // 2], "max": latencies[-1]}
    return {
        "final": {"transport": stats.get("method"), "state": stats.get("state"), "reason": stats.get("lastReason")},
        "switches": record.get("switches", []),
        "counters": stats.get("counters", {}),
        "messages": messages,
        "latencyMs": latency,
    }


async def drive(port, url, seconds, server, drain, shot):
    async with devtools_page(port) as call:
        async def read():
            result = await call("Runtime.evaluate", expression=READ, returnByValue=True)
            return json.loads(result.get("result", {}).get("value", "{}"))

        await call("Page.enable")
        await call("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
        await call("Page.navigate", url=url)
        await asyncio.sleep(seconds)
        cutoff = server_cutoff(server) if server else None
        await asyncio.sleep(drain)
        state = await read()
        if shot:
            image = await call("Page.captureScreenshot", format="png")
            with open(shot, "wb") as f:
                f.write(base64.b64decode(image["data"]))
        return summarize(state, cutoff)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    url, seconds, server, drain, shot = arguments(argv)
    with headless_chromium() as port:
        result = asyncio.run(drive(port, url, seconds, server, drain, shot))
        result["url"] = url
        print(json.dumps(result, sort_keys=True))

if __name__ == "__main__":
    main(sys.argv[1:])
