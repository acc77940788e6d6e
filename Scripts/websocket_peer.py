"""What the Python WebSocket peers of the tests do on an open `websockets` connection to
`crosswind serve`'s /ws: read the welcome and some published messages, send one client
message and wait for its acknowledgement.

    welcome, offsets, ack = await read_then_send(ws, messages=10)
"""
import asyncio
import json


async def next_frame(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def read_then_send(ws, messages):
    """Returns the welcome frame, the offsets of the next `messages` message frames, and the
    sequence number the server acknowledged for a client message sent after them."""
    welcome = await next_frame(ws)
    offsets = []
    while len(offsets) < messages:
        frame = await next_frame(ws)
        if frame["type"] == "message":
            offsets.append(frame["offset"])
    await ws.send(json.dumps({"type": "send", "seq": 1, "data": {"hello": "from python"}}))
    while True:
        frame = await next_frame(ws)
        if frame["type"] == "ack":
            return welcome, offsets, frame["seq"]
