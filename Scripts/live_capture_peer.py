"""One session against a running `crosswind serve`, for the live capture test.

usage: live_capture_peer.py PORT MESSAGES websocket|sse

websocket: Python's `websockets` client connects to /ws?topic=metrics, reads the welcome and
MESSAGES published messages, sends one client message, waits for its acknowledgement and
closes normally (code 1000).
sse: Python's http.client opens GET /events?topic=metrics, reads the welcome event and
MESSAGES message events, and closes the connection.

The server's capture of the session is then dissected beside a simulated one. Prints one
JSON line: what the client saw.
"""
import asyncio
import http.client
import json
import sys

import websockets

from websocket_peer import read_then_send

PORT = int(sys.argv[1])
MESSAGES = int(sys.argv[2])
MODE = sys.argv[3]


def in_order(offsets):
    return offsets == list(range(offsets[0], offsets[0] + len(offsets)))


async def websocket_session():
    url = f"ws://127.0.0.1:{PORT}/ws?topic=metrics&client=py-capture"
    async with websockets.connect(url, open_timeout=5, close_timeout=5) as ws:
        welcome, offsets, ack = await read_then_send(ws, MESSAGES)
        await ws.close(code=1000)
        return {
            "welcome": welcome["type"],
            "messages": len(offsets),
            "inOrder": in_order(offsets),
            "ack": ack,
            "closeCode": ws.close_code,
        }


def sse_session():
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    connection.request("GET", "/events?topic=metrics", headers={"Accept": "text/event-stream"})
    response = connection.getresponse()
    welcome = None
    offsets = []
    event = None
    while len(offsets) < MESSAGES:
        line = response.readline().decode().rstrip("\n")
        if line.startswith("event:"):
            event = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data = json.loads(line[len("data:"):])
            if event == "welcome":
                welcome = data["type"]
            elif data["type"] == "message":
                offsets.append(data["offset"])
        elif line == "":
            event = None
    # A streaming response has no end: the client leaves by closing the connection.
    response.close()
    connection.close()
    return {
        "status": response.status,
        "contentType": response.getheader("Content-Type"),
        "welcome": welcome,
        "messages": len(offsets),
        "inOrder": in_order(offsets),
    }


result = asyncio.run(websocket_session()) if MODE == "websocket" else sse_session()
print(json.dumps(result))
