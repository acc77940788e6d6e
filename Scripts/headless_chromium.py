"""Headless Chromium (Debian's /usr/bin/chromium) with its DevTools port on loopback.

    with headless_chromium() as port:
        ...  # http://127.0.0.1:PORT/json/new?URL, then the DevTools WebSocket

The browser gets a fresh profile, which is removed with it when the block ends.
"""
import contextlib
import os
import shutil
import subprocess
import tempfile
import time


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
