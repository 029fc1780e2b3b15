#!/usr/bin/env python3
"""A small stand-in for code-server used by the session tests that exercise allocation, recovery
and the gate rather than the IDE: it is started by the real `process` runtime through
SESSION_PROCESS_COMMAND, listens on the port it is given, answers `GET /healthz` like code-server
(`{"status": "alive", "lastHeartbeat": <unix ms>}`) and writes a marker file into its workspace.
The tests of the runtime with the real code-server live in test_sessions_code_server.py.

For the tests through Caddy (test_edge_caddy.py) it also reports what reached it:
`/__echo…` (any method) answers JSON {method, path, headers: [[name, value], …], body} with the
request exactly as received, and `/__ws` is a websocket endpoint echoing text frames back.

    fake_ide.py PORT WORKSPACE [--delay S] [--heartbeat now|zero|AGE_S] [--exit-after S]
"""
import argparse
import base64
import hashlib
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("workspace")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before listening")
    p.add_argument("--heartbeat", default="now", help="now | zero | age in seconds")
    p.add_argument("--exit-after", type=float, default=0.0, help="exit 3 after this many seconds")
    a = p.parse_args()
    started = time.time()
    with open(os.path.join(a.workspace, "fake-ide.json"), "w") as f:
        json.dump({"pid": os.getpid(), "uid": os.getuid(), "port": a.port,
                   "cwd": os.getcwd(), "env": sorted(os.environ)}, f)
    if a.exit_after:
        signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
        signal.setitimer(signal.ITIMER_REAL, a.exit_after)
    if a.delay:
        time.sleep(a.delay)

    class Handler(BaseHTTPRequestHandler):
        def echo(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            out = json.dumps({"method": self.command, "path": self.path,
                              "headers": [[k, v] for k, v in self.headers.items()],
                              "body": body, "workspace": a.workspace}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def websocket(self):
            key = self.headers.get("Sec-WebSocket-Key", "")
            if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
                self.send_error(400)
                return
            accept = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            while True:  # text frames (masked, < 126 bytes) are echoed back unmasked; close ends it
                head = self.rfile.read(2)
                if len(head) < 2:
                    return
                opcode, n = head[0] & 0x0F, head[1] & 0x7F
                mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
                if opcode == 0x8:
                    self.wfile.write(b"\x88\x00")
                    self.wfile.flush()
                    return
                self.wfile.write(bytes([0x81, len(data)]) + data)
                self.wfile.flush()

        def do_POST(self):  # noqa: N802
            if self.path.startswith("/__echo"):
                self.echo()
                return
            self.send_error(405)

        def do_GET(self):  # noqa: N802
            if self.path.startswith("/__echo"):
                self.echo()
                return
            if self.path == "/__ws":
                self.websocket()
                return
            if self.path != "/healthz":
                body = b"fake ide for " + a.workspace.encode() + b"\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if a.heartbeat == "now":
                beat = int(time.time() * 1000)
            elif a.heartbeat == "zero":
                beat = 0
            else:
                beat = int((started - float(a.heartbeat)) * 1000)
            body = json.dumps({"status": "alive", "lastHeartbeat": beat}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
