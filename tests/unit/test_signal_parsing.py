"""units.parse_signal: the one reading of a signal name, for the project file
(config) and for the process layer (a stop signal from a state file)."""

from __future__ import annotations

import pytest

from meshcompose.errors import ProcessError
from meshcompose.proc import platform
from meshcompose.units import parse_signal


@pytest.mark.parametrize("given, name", [
    ("SIGTERM", "SIGTERM"), ("term", "SIGTERM"), (" Int ", "SIGINT"), ("sighup", "SIGHUP"),
    (15, "SIGTERM"), (9, "SIGKILL"), ("SIGBREAK", "SIGBREAK"), ("kill", "SIGKILL"),
])
def test_names_numbers_and_portable_signals(given, name):
    assert parse_signal(given) == name


@pytest.mark.parametrize("given", ["SIGFOO", "", "sig", 999, True, "SIG_DFL"])
def test_unknown_signals_are_a_value_error(given):
    with pytest.raises(ValueError):
        parse_signal(given)


@pytest.mark.parametrize("given", ["SIGTERM", "usr1", "SIGBREAK", "SIGNOPE", "no such", "Kill", "SIG_DFL"])
def test_the_project_file_and_the_process_layer_agree(given, tmp_path):
    """What `config` accepts in `stop_signal` (a name: the schema wants a string)
    is exactly what a stop can send."""
    from meshcompose.config import loader
    from meshcompose.errors import ConfigError

    (tmp_path / "a.py").write_text("")
    (tmp_path / "mesh-compose.yaml").write_text(f"agents:\n  a: {{script: a.py, stop_signal: {given!r}}}\n")
    try:
        configured = loader.load_project([str(tmp_path / "mesh-compose.yaml")]).agents["a"].stop_signal
    except ConfigError:
        configured = None
    try:
        sent = platform.signal_name(given)
    except ProcessError:
        sent = None
    assert configured == sent
