"""Independent Python peers against a running `crosswind serve` (used by the test suite).

usage: live_peers.py PORT

Checks, printing one JSON line of results:
- websockets: the welcome, then published messages in order (offsets increasing by one);
- sseclient-py: the welcome event, messages, then a reconnect with Last-Event-ID that
  receives exactly the messages published while it was away (no gap, no duplicate);
- plain HTTP polling: a second request with If-None-Match gets 304 on a quiet topic.
"""
import asyncio
import json
import sys
import time
import urllib.request

import sseclient
import websockets

from websocket_peer import read_then_send

PORT = int(sys.argv[1])
BASE = f"http://127.0.0.1:{PORT}"
results = {}


async def websocket_peer():
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws?topic=metrics&client=py-ws", open_timeout=5) as ws:
        # Ten messages, then a client message, acknowledged.
        welcome, offsets, ack = await read_then_send(ws, 10)
    results["websocket"] = {
        "welcome": welcome["type"] == "welcome" and welcome["topic"] == "metrics",
        "inOrder": offsets == list(range(offsets[0], offsets[0] + 10)),
        "ack": ack,
    }


def sse_events(url, headers=None):
    request = urllib.request.Request(url, headers={"Accept": "text/event-stream", **(headers or {})})
    response = urllib.request.urlopen(request, timeout=5)

    def chunks():
        while True:
            line = response.readline()
            if not line:
                return
            yield line

    return response, sseclient.SSEClient(chunks()).events()


def sse_peer():
    response, events = sse_events(f"{BASE}/events?topic=metrics")
    welcome = next(events)
    first = []
    last_id = None
    for event in events:
        if event.event == "message":
            first.append(json.loads(event.data)["offset"])
            last_id = event.id
            if len(first) == 5:
                break
    response.close()
    time.sleep(1.0)  # messages keep being published meanwhile
    response, events = sse_events(f"{BASE}/events?topic=metrics", {"Last-Event-ID": last_id})
    rewelcome = json.loads(next(events).data)
    second = []
    for event in events:
        if event.event == "message":
            second.append(json.loads(event.data)["offset"])
            if len(second) == 5:
                break
    response.close()
    results["sse"] = {
        "welcome": welcome.event == "welcome",
        "firstInOrder": first == list(range(first[0], first[0] + 5)),
        "resumedRight": second[0] == first[-1] + 1 and second == list(range(second[0], second[0] + 5)),
        "recovered": rewelcome["recovered"],
    }


def polling_peer():
    first = urllib.request.urlopen(f"{BASE}/sync?topic=quiet", timeout=5)
    etag = first.headers["ETag"]
    batch = json.loads(first.read())
    request = urllib.request.Request(f"{BASE}/sync?topic=quiet&since={batch['cursor']}", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request, timeout=5)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    results["polling"] = {"firstStatus": first.status, "etag": etag, "secondStatus": status}


def unknown_topic_peer():
    """A topic the server does not serve: 404 on every transport, not a silent stream."""
    statuses = {}
    for name, path, headers in [
        ("websocket", "/ws?topic=nosuch", {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}),
        ("sse", "/events?topic=nosuch", {}),
        ("sync", "/sync?topic=nosuch", {}),
    ]:
        try:
            urllib.request.urlopen(urllib.request.Request(BASE + path, headers=headers), timeout=5)
            statuses[name] = 200
        except urllib.error.HTTPError as error:
            statuses[name] = error.code
    results["unknownTopic"] = statuses


asyncio.run(websocket_peer())
sse_peer()
polling_peer()
unknown_topic_peer()
print(json.dumps(results, sort_keys=True))
