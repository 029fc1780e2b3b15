#!/usr/bin/env python3
"""A small stand-in for code-server used by the session tests that exercise allocation, recovery
and the gate rather than the IDE: it is started by the real `process` runtime through
SESSION_PROCESS_COMMAND, listens on the port it is given, answers `GET /healthz` like code-server
(`{"status": "alive", "lastHeartbeat": <unix ms>}`) and writes a marker file into its workspace.
The tests of the runtime with the real code-server live in test_sessions_code_server.py.

    fake_ide.py PORT WORKSPACE [--delay S] [--heartbeat now|zero|AGE_S] [--exit-after S]
"""
import argparse
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
    if a.delay:
        time.sleep(a.delay)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
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
    if a.exit_after:
        signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
        signal.setitimer(signal.ITIMER_REAL, a.exit_after)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
