#!/usr/bin/env python3
"""Parses text/event-stream bytes with sseclient-py, an independent peer for SSEParser.

    sse_reference.py            reads one raw stream from stdin; prints one JSON line per event
    sse_reference.py --batch    reads a JSON list of streams from stdin, each a list of chunks
                                in hex; prints one JSON list with, per stream, {"events": [...]}
                                or {"error": "..."} when sseclient raised (invalid UTF-8 does)

Each event is {"event": type, "data": data, "id": id}. "id" is sseclient's own Event.id:
the value of the event's last `id` field, or null when the event had none. (sseclient keeps
no last-event-ID between events; the caller decides how to compare that.) Run with the
project's .venv Python (Scripts/setup --tests installs sseclient-py there).

sseclient.SSEClient takes any iterable of byte chunks as its "event source", so the chunks
are handed over exactly as split, with no HTTP involved.
"""
import json
import sys

from sseclient import SSEClient


def parse(chunks):
    return [
        {"event": event.event, "data": event.data, "id": event.id}
        for event in SSEClient(iter(chunks)).events()
    ]


def parse_or_error(chunks):
    try:
        return {"events": parse(chunks)}
    except Exception as error:  # one bad stream must not hide the others' results
        return {"error": "%s: %s" % (type(error).__name__, error)}


def main():
    if sys.argv[1:] == ["--batch"]:
        streams = json.load(sys.stdin)
        results = [parse_or_error([bytes.fromhex(chunk) for chunk in stream]) for stream in streams]
        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
    elif not sys.argv[1:]:
        for event in parse([sys.stdin.buffer.read()]):
            print(json.dumps(event))
    else:
        sys.exit("usage: sse_reference.py [--batch]")


if __name__ == "__main__":
    main()
