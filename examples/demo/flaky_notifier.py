"""Fails on its first start of every `up` (to show restart: on-failure), then runs."""

import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
marker = os.path.join(os.environ.get("DEMO_DATA_DIR", ".mesh-compose/demo"), f"notifier-{os.getppid()}")
if not os.path.exists(marker):
    open(marker, "w").close()
    print("could not reach the notification service (simulated); exiting with 1", file=sys.stderr)
    sys.exit(1)
os.remove(marker)
print("connected; sending a heartbeat every 5 s")
while True:
    time.sleep(5)
    print("heartbeat")
