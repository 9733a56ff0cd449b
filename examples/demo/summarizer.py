"""A worker agent: needs the catalog API healthy, then reports on it periodically."""

import json
import os
import signal
import sys
import time
import urllib.request

url = os.environ.get("CATALOG_URL", "http://127.0.0.1:8765")
greeting = os.environ.get("GREETING", "hello")
interval = float(os.environ.get("SUMMARY_INTERVAL", "3"))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

print(f"{greeting}! reading the catalog from {url}")
while True:
    with urllib.request.urlopen(url + "/agents", timeout=2) as response:
        agents = json.load(response)
    capabilities = sum(len(a["capabilities"]) for a in agents)
    print(f"{len(agents)} agents offer {capabilities} capabilities")
    time.sleep(interval)
