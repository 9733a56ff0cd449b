"""`mesh` pays only for what it shows: one registry read and the state file.
The model, the rendering of errors and the token generator stay unloaded
(its budget is 0.3 s for 20 agents, most of it the command's start)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

from meshcompose.control import state

NOT_FOR_MESH = ("meshcompose.model", "meshcompose.cli.render", "uuid", "networkx", "jsonschema", "yaml", "anyio")


def test_mesh_imports_neither_the_model_nor_the_renderer(tmp_path: Path) -> None:
    body = json.dumps({"agents": [{"id": "lazy-a", "name": "a", "status": "healthy", "endpoint": "http://127.0.0.1:1",
                                   "capabilities": [], "dependency_resolutions": []}],
                       "timestamp": "2026-01-01T00:00:00Z"}).encode()

    class Registry(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "mesh-compose.yaml").write_text("name: lazy\nagents:\n  a: {command: [sh, -c, 'sleep 1']}\n")
        doc = state.new_document("lazy", tmp_path, [str(tmp_path / "mesh-compose.yaml")])
        doc["registry_url"] = f"http://127.0.0.1:{server.server_address[1]}"
        doc["agents"] = {"a": state.new_agent(status="running")}
        state.StateStore(tmp_path, "lazy").write(doc)
        code = ("import sys, io, contextlib\n"
                "from meshcompose.cli.main import main\n"
                "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
                "    assert main(['mesh']) == 0\n"
                "assert 'lazy-a' in out.getvalue(), out.getvalue()\n"
                f"print(' '.join(m for m in {NOT_FOR_MESH!r} if m in sys.modules))\n")
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
