"""An HTTP agent: serves the catalog on loopback, with /health for its healthcheck."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(os.environ.get("PORT", "8765"))
data_dir = os.environ.get("DEMO_DATA_DIR", ".mesh-compose/demo")
with open(os.path.join(data_dir, "catalog.json")) as f:
    catalog = json.load(f)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = {"status": "ok"}
        elif self.path == "/agents":
            body = catalog
        else:
            self.send_error(404)
            return
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, fmt, *args):
        if self.path != "/health":
            print("GET", self.path, "->", args[1] if len(args) > 1 else "")


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"serving {len(catalog)} agents on http://127.0.0.1:{port}")
try:
    server.serve_forever()
finally:
    print("catalog api shutting down")
