#!/usr/bin/env python3
"""A TMF630 /hub listener for the chaos runs: answers every POST with 201 and appends the event's eventId to
a file (one per line, duplicates kept: delivery is at least once), so the run can check that every event
reached it even though it was stopped for a while.

    listener.py PORT FILE
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Listener(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event_id = json.loads(body).get("eventId", "")
        except (ValueError, AttributeError):
            event_id = ""
        with open(sys.argv[2], "a", encoding="utf-8") as out:
            out.write(f"{event_id}\n")
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Listener).serve_forever()
