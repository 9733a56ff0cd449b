"""Hypothesis strategies for hostile project files, shared by the in-process and the CLI fuzz.

Each strategy produces the text (or bytes) of a `mesh-compose.yaml`, aimed at
one class of input that once crashed the loader with a traceback:

- `raw_texts` / `raw_bytes`: anything at all, mostly YAML punctuation;
- `flow_documents`: duplicate keys, `.inf`/`.nan`, bad `<<` merges, odd tags,
  undefined aliases, all mixed with values of the wrong type;
- `control_char_texts`: a valid file with control and other odd characters
  put anywhere (comments, keys, quoted strings);
- `deep_texts`: nesting from 1 to 1,500 levels, in flow and block style and
  through chains of aliases;
- `overflow_texts`: durations, sizes, CPU counts and integers too large for a
  float, or for JSON;
- `interpolation_texts`: `$`, `{` and `}` soup in values.

All but the raw ones are plain Python driven by a Random that hypothesis
seeds (`st.randoms`): generating structure draw by draw cost more than
loading it, and these inputs need breadth more than shrinking.

`prepare(directory)` creates the files the documents refer to (a.py, b.py,
the env files), so that a document that is otherwise valid gets a model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

EXISTING_FILES = ("a.py", "b.py", "agents/api.py", "probe.py", "reg.py", "debug.py", ".venv/bin/python")
ENV_FILES = {"api.env": "API_KEY=secret\n", "worker.env": "BATCH=10\n", "ok.env": "A=1\n"}
ENVIRON = {"X": "5"}


def prepare(directory: Path) -> None:
    for name in EXISTING_FILES:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    for name, text in ENV_FILES.items():
        (directory / name).write_text(text)


# -- anything ---------------------------------------------------------------------

raw_texts = st.text(alphabet=st.sampled_from(list("agents:{}[]-,'\"&*!<>|#$%@`? \n\tscript.py0x")), max_size=80)
raw_bytes = st.binary(max_size=60) | st.sampled_from([
    b"\xff\xfeagents", b"\xfe\xff\x00a", b"\xef\xbb\xbfagents: {a: {script: a.py}}\n", b"agents: \x00",
])

# -- YAML-level problems mixed with wrong types ---------------------------------------

AGENT_KEYS = ["script", "module", "command", "args", "working_dir", "interpreter", "environment", "env_file",
              "depends_on", "healthcheck", "restart", "max_restarts", "backoff", "stop_signal", "stop_grace_period",
              "resources", "metadata", "profiles", "python", "<<", "x-note"]
INNER_KEYS = ["http", "tcp", "cmd", "log", "registry", "interval", "timeout", "retries", "start_period", "initial",
              "maximum", "memory_limit", "cpu_limit", "condition", "required", "requires", "packages", "A", "a", "<<"]
SCALARS = [
    ".inf", "-.inf", ".nan", ".NaN", "+.INF", "1.0e+999", "-1.0e+999", "1e999", "0x10", "0o7", "1_000", "~", "null",
    "yes", "no", "on", "true", "false", "2024-01-02", "12:30:00", "!!binary aGk=", "!!float 1", "!!int x", "!!str 5",
    "!!timestamp x", "!!python/object:os.system x", "!!bool maybe", "!!null x", "!!set {a, b}", "!!omap [a: 1]",
    "&anchor a.py", "*anchor", "*undefined", "a.py", "b.py", "missing.py", "5", "-1", "0", "2.5", "'quoted'",
    '"dq\\u00e9"', "''", "[]", "{}", "${X}", "$X", "a $ b", "'${'", "$$", "1m30s", "500ms", "512MB", "SIGTERM",
    "healthy", "started", "a", "b", "[a]", "[a, a]", "{a: {condition: healthy}}", "<<", "*", "&",
]
MERGES = ["", "<<: *base, ", "<<: 5, ", "<<: [*base, 5], ", "<<: [*base, *base], ", "<<: *nope, ",
          "<<: {script: 5}, ", "<<: [[a]], "]
TOP_LEVEL = ["name: x", "name: 'my project'", "name: 5", "python: {packages: [httpx]}", "python: {requires: .inf}",
             "registry: {port: .nan}", "agents: {}", "x-other: &other [1]", "<<: {agents: 5}"]


def _node(rng: random.Random, depth: int = 0) -> str:
    """A flow node: mostly scalars, sometimes a small list or map of them (maps may repeat keys)."""
    roll = rng.random()
    if depth >= 2 or roll < 0.6:
        return rng.choice(SCALARS)
    if roll < 0.8:
        return "[" + ", ".join(_node(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    pairs = (f"{rng.choice(INNER_KEYS)}: {_node(rng, depth + 1)}" for _ in range(rng.randint(0, 3)))
    return "{" + ", ".join(pairs) + "}"


def _flow_document(rng: random.Random) -> str:
    """Flow-style text: duplicate agents and keys are likely, since names come from a small set."""
    agents = []
    for _ in range(rng.randint(1, 4)):
        name = rng.choice(["a", "b", "a", "'bad name'", "-x", "c.d"])
        body = ", ".join(f"{rng.choice(AGENT_KEYS)}: {_node(rng)}" for _ in range(rng.randint(0, 5)))
        agents.append(f"{name}: {{{rng.choice(MERGES)}{body}}}")
    top = rng.sample(TOP_LEVEL, rng.randint(0, 2))
    return "\n".join(["x-base: &base {script: a.py}", *top, "agents: {" + ", ".join(agents) + "}", ""])


def flow_documents() -> st.SearchStrategy[str]:
    return st.randoms(use_true_random=True).map(_flow_document)


# -- characters YAML does not allow -----------------------------------------------------

BASES = [
    "# a comment\nagents:\n  a:\n    script: a.py  # trailing comment\n    args: ['one', \"two\"]\n",
    "agents: {a: {script: a.py, environment: {K: \"v\"}}}\n",
    "name: demo\nagents:\n  a:\n    script: a.py\n    healthcheck:\n      log: |\n        ready\n",
]
ODD_CHARACTERS = [chr(c) for c in range(32) if c not in (9, 10, 13)] + [
    "\t", "\r", "\x7f", "\x80", "\x85", "\x9f", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\U0001f600",
]


def _with_odd_characters(rng: random.Random) -> str:
    text = rng.choice(BASES)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(ODD_CHARACTERS) + text[at:]
    return text


def control_char_texts() -> st.SearchStrategy[str]:
    return st.randoms(use_true_random=True).map(_with_odd_characters)


# -- nesting ----------------------------------------------------------------------------

PLACES = {
    "x-deep": "x-deep: {}\nagents: {{a: {{script: a.py}}}}\n",
    "args": "agents: {{a: {{script: a.py, args: {}}}}}\n",
    "environment": "agents: {{a: {{script: a.py, environment: {{K: {}}}}}}}\n",
    "agent": "agents: {{a: {}}}\n",
    "healthcheck": "agents: {{a: {{script: a.py, healthcheck: {{cmd: {}}}}}}}\n",
    "extension": "agents: {{a: {{script: a.py, x-note: {}}}}}\n",
}


def _nested(style: str, depth: int) -> str:
    if style == "flow-list":
        return "[" * depth + "1" + "]" * depth
    if style == "flow-map":
        return "{k: " * depth + "1" + "}" * depth
    return "[" * (depth // 2) + "{k: " * (depth - depth // 2) + "1" + "}" * (depth - depth // 2) + "]" * (depth // 2)


def _deep_text(rng: random.Random) -> str:
    depth = rng.choice([63, 64, 65, 99, 100, 101, 489, 490, 491, 500, 1000]) if rng.random() < 0.3 else rng.randint(1, 1500)
    style = rng.choice(["flow-list", "flow-map", "mixed", "block-list", "block-map", "alias-chain"])
    place = rng.choice(sorted(PLACES))
    if style == "block-list":  # compact block sequences: `- - - 1`
        return f"x-deep:\n  {'- ' * depth}1\nagents: {{a: {{script: a.py}}}}\n"
    if style == "block-map":  # indentation grows with depth: keep the text small
        depth = min(depth, 300)
        lines = [" " * (2 * level) + "k:" for level in range(depth)] + [" " * (2 * depth) + "1"]
        return "x-deep:\n" + "\n".join("  " + line for line in lines) + "\nagents: {a: {script: a.py}}\n"
    if style == "alias-chain":  # each anchor nests the previous one: deep only once aliases are expanded
        links, per_link = max(1, depth // 50), min(depth, 50)
        chain = ["x-0: &l0 " + _nested("flow-list", per_link)]
        chain += [f"x-{i}: &l{i} " + "[" * per_link + f"*l{i - 1}" + "]" * per_link for i in range(1, links)]
        return "\n".join(chain) + "\n" + PLACES[place].format(f"*l{links - 1}")
    return PLACES[place].format(_nested(style, depth))


def deep_texts() -> st.SearchStrategy[str]:
    return st.randoms(use_true_random=True).map(_deep_text)


# -- numbers too large ----------------------------------------------------------------------

NUMBER_FIELDS = [
    "stop_grace_period: {}", "healthcheck: {{tcp: '127.0.0.1:1', interval: {}}}", "healthcheck: {{log: x, timeout: {}}}",
    "healthcheck: {{log: x, start_period: {}}}", "healthcheck: {{log: x, retries: {}}}", "backoff: {}",
    "backoff: {{initial: 1s, maximum: {}}}", "resources: {{timeout: {}}}", "resources: {{memory_limit: {}}}",
    "resources: {{cpu_limit: {}}}", "max_restarts: {}",
]


def _huge(rng: random.Random) -> str:
    digits = "9" * rng.randint(300, 420)
    kind = rng.choice(["int", "unit", "float", "tiny", "exp", "word"])
    if kind == "int":
        return digits
    if kind == "unit":
        return "'" + digits + rng.choice(["h", "m", "s", "ms", "us", "1h", "TB", "TiB", "GB", "B", ""]) + "'"
    if kind == "float":
        return "'" + digits + ".5" + rng.choice(["", "h", "MB"]) + "'"
    if kind == "tiny":
        return "'0." + "0" * 400 + "1" + rng.choice(["", "s", "ms", "MB"]) + "'"
    if kind == "exp":
        return rng.choice(["1.0e+308", "1.7976931348623157e+308", "'1e999'", "'1e308'", "'-1e999'"])
    return rng.choice(["'inf'", "'nan'", "'Infinity'", "'-0'", "'1e3'", "-0.0", "'1h' ", "'1h1h1h'"])


def _overflow_text(rng: random.Random) -> str:
    fields = rng.sample(NUMBER_FIELDS, rng.randint(1, 3))
    body = ", ".join(field.format(_huge(rng)) for field in fields)
    port = rng.choice(["", "registry: {host: h, port: " + "9" * 400 + "}\n"])
    return f"{port}agents: {{a: {{script: a.py, {body}}}}}\n"


def overflow_texts() -> st.SearchStrategy[str]:
    return st.randoms(use_true_random=True).map(_overflow_text)


# -- interpolation --------------------------------------------------------------------------

TEMPLATE_CHARACTERS = "$${}:-?+_XYB1 ~"


def _interpolation_text(rng: random.Random) -> str:
    values = ["".join(rng.choice(TEMPLATE_CHARACTERS) for _ in range(rng.randint(0, 14))) for _ in range(rng.randint(1, 3))]
    where = rng.choice(["args: [{}]", "healthcheck: {{log: {}}}", "environment: {{K: {}}}"])
    inner = ", ".join(json.dumps(value) for value in values) if where.startswith("args") else json.dumps(values[0])
    return "agents: {a: {script: a.py, " + where.format(inner) + "}}\n"


def interpolation_texts() -> st.SearchStrategy[str]:
    return st.randoms(use_true_random=True).map(_interpolation_text)


# -- documents from the format's own vocabulary, and mutations of a valid one -----------------

WORDS = ["no", "auto", "1m30s", "500ms", "512MB", "${X:-1}", "$X", "${X:?gone}", "$$", "a.py", "x.y", "healthy",
         "registered", "on-failure", "SIGTERM", "http://127.0.0.1:1/h", "127.0.0.1:80", "(", ">=3.9", "A=1", "-1",
         "b.py", "agents", ".venv", "ok.env", "missing.env", "a $ b", "debug"]


def _text(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(WORDS)
    return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0xA0, 0x2FF)])) for _ in range(rng.randint(0, 8)))


def random_value(rng: random.Random, keys: list[str], depth: int = 0) -> Any:
    """A JSON-like value: scalars of every type, lists and maps whose keys come from `keys`."""
    roll = rng.random()
    if depth >= 3 or roll < 0.55:
        kind = rng.randrange(6)
        return [None, rng.random() < 0.5, rng.randint(-5, 70000), rng.uniform(-1e6, 1e6), _text(rng), _text(rng)][kind]
    if roll < 0.75:
        return [random_value(rng, keys, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(keys) if rng.random() < 0.85 else _text(rng): random_value(rng, keys, depth + 1)
            for _ in range(rng.randint(0, 5))}


def mutate(document: Any, rng: random.Random, keys: list[str]) -> Any:
    """Pick a random place in the document and delete, replace or add something there."""
    node = document
    while True:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        containers = [(k, v) for k, v in children if isinstance(v, (dict, list)) and v]
        if not containers or rng.random() < 0.5:
            break
        _, node = rng.choice(containers)
    action = rng.choice(["delete", "replace", "add"])
    if isinstance(node, dict) and node and action != "add":
        key = rng.choice(sorted(node))
        if action == "delete":
            del node[key]
        else:
            node[key] = random_value(rng, keys)
    elif isinstance(node, dict):
        node[rng.choice(keys)] = random_value(rng, keys)
    elif isinstance(node, list):
        if action == "add" or not node:
            node.append(random_value(rng, keys))
        else:
            node[0] = random_value(rng, keys)
    return document


HOSTILE_TEXTS = st.one_of(raw_texts, flow_documents(), control_char_texts(), deep_texts(), overflow_texts(),
                          interpolation_texts())
