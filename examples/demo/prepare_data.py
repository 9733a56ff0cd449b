"""One-shot setup step: writes the catalog the other agents serve and read."""

import json
import os
import sys
import time

data_dir = os.environ.get("DEMO_DATA_DIR", ".mesh-compose/demo")
os.makedirs(data_dir, exist_ok=True)
catalog = [
    {"id": 1, "name": "weather", "capabilities": ["forecast", "alerts"]},
    {"id": 2, "name": "calendar", "capabilities": ["events"]},
    {"id": 3, "name": "search", "capabilities": ["web", "news", "images"]},
]
print(f"writing {len(catalog)} catalog entries to {data_dir}/catalog.json")
time.sleep(0.3)
with open(os.path.join(data_dir, "catalog.json"), "w") as f:
    json.dump(catalog, f)
print("catalog ready")
sys.exit(0)
