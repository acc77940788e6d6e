"""Drives headless Chromium (Debian's /usr/bin/chromium) over the DevTools protocol.

usage: browser_check.py URL EXPECTED_TRANSPORT TIMEOUT_SECONDS SCREENSHOT.png [API_RESET_URL EXPECTED_AFTER]

Opens the dashboard, waits until `#transport` shows EXPECTED_TRANSPORT and messages arrive,
saves a screenshot, optionally POSTs to API_RESET_URL (a proxy's /reset) and waits for
EXPECTED_AFTER; prints one JSON line with what the page showed.
"""
import asyncio
import base64
import json
import sys
import time
import urllib.request

from headless_chromium import devtools_page, headless_chromium

URL, EXPECTED, TIMEOUT, SHOT = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
RESET, AFTER = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)

with headless_chromium() as port:

    async def drive():
        async with devtools_page(port, URL) as call:
            async def state():
                script = "JSON.stringify({transport: document.getElementById('transport').textContent, reason: document.getElementById('reason').textContent, received: Number(document.getElementById('received').textContent), duplicates: Number(document.getElementById('duplicates').textContent), cursor: document.getElementById('cursor').textContent})"
                result = await call("Runtime.evaluate", expression=script, returnByValue=True)
                return json.loads(result.get("result", {}).get("value", "{}"))

            async def wait_for(transport, deadline):
                seen = {}
                while time.time() < deadline:
                    try:
                        seen = await state()
                    except Exception:
                        seen = {}
                    if seen.get("transport") == transport and seen.get("received", 0) >= 5:
                        return seen, True
                    await asyncio.sleep(0.25)
                return seen, False

            first, ok = await wait_for(EXPECTED, time.time() + TIMEOUT)
            shot = await call("Page.captureScreenshot", format="png")
            with open(SHOT, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            result = {"first": first, "firstOk": ok}
            if RESET:
                urllib.request.urlopen(urllib.request.Request(RESET, method="POST"), timeout=5).read()
                before = first.get("received", 0)
                after, ok_after = await wait_for(AFTER, time.time() + TIMEOUT)
                result.update({"after": after, "afterOk": ok_after and after.get("received", 0) > before})
            return result

    print(json.dumps(asyncio.run(drive()), sort_keys=True))
