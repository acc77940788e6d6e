"""Headless Chromium (Debian's /usr/bin/chromium) with its DevTools port on loopback.

    with headless_chromium() as port:
        async with devtools_page(port, URL) as call:   # (inside a coroutine)
            await call("Page.enable")

The browser gets a fresh profile, which is removed with it when the block ends.
"""
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websockets


@contextlib.contextmanager
def headless_chromium():
    profile = tempfile.mkdtemp(prefix="crosswind-chromium-")
    browser = subprocess.Popen(
        ["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        yield open(port_file).read().split()[0]
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.asynccontextmanager
async def devtools_page(port, url="about:blank"):
    """Opens a page at `url`; yields `call(method, **params)`, which sends one DevTools
    command to it and returns its result (an error reply raises)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?{url}", method="PUT")
    target = json.loads(urllib.request.urlopen(request, timeout=5).read())
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as cdp:
        ids = itertools.count(1)

        async def call(method, **params):
            message_id = next(ids)
            await cdp.send(json.dumps({"id": message_id, "method": method, "params": params}))
            while True:
                reply = json.loads(await cdp.recv())
                if reply.get("id") == message_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})

        yield call
