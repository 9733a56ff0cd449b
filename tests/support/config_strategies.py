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
import os
import random
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

EXISTING_FILES = ("a.py", "b.py", "agents/api.py", "probe.py", "reg.py", "debug.py", ".venv/bin/python")
ENV_FILES = {"api.env": "API_KEY=secret\n", "worker.env": "BATCH=10\n", "ok.env": "A=1\n"}
ENVIRON = {"X": "5"}


def examples(count: int) -> int:
    """How many examples a fuzz test runs: `count`, or the share of it that
    MESH_COMPOSE_FUZZ_SHARE names (at least 10). scripts/test-pythons.sh asks
    for a tenth on the Pythons other than the suite's own, which runs them all:
    there the fuzz checks that each Python's parsers behave alike, and a
    smaller derandomized run of the same strategies does that."""
    share = float(os.environ.get("MESH_COMPOSE_FUZZ_SHARE") or 1)
    return max(10, round(count * share)) if share < 1 else count


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


# -- the classes a fresh fuzzer found: each with the files a document names ------------------------
#
# A `Case` is a project: the text of mesh-compose.yaml, other files by name (a .env, env files),
# and variables of the caller's environment. Each generator takes a Random, so the same ones serve
# hypothesis (st.randoms), the real-CLI tests and scripts/fuzz_config.py.

FIELDS_OF_EVERY_KIND = [  # (key, how a string value sits in it), one per kind of field an agent has
    ("script", "{}"), ("module", "{}"), ("command", "[{}]"), ("args", "[a, {}]"), ("working_dir", "{}"),
    ("interpreter", "{}"), ("environment", "{{K: {}}}"), ("env_file", "[{}]"), ("healthcheck", "{{cmd: [{}]}}"),
    ("healthcheck", "{{log: {}}}"), ("healthcheck", "{{http: {}}}"), ("healthcheck", "{{tcp: {}}}"),
    ("develop", "{{watch: [{{path: {}}}]}}"), ("develop", "{{watch: [{{path: a.py, ignore: [{}]}}]}}"),
    ("metadata", "{{description: {}}}"), ("profiles", "[{}]"), ("x-note", "{}"), ("stop_signal", "{}"),
    ("depends_on", "[{}]"), ("python", "{{packages: [{}]}}"),
]
CONTROL_CHARACTERS = ["\0", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\r", "\n", "\t", "\ud800", "\ufffe"]
SPECIAL_FILES = ["/dev/zero", "/dev/urandom", "/dev/null", "/dev/tty", "/proc/self/mem", "/proc/self/fd/0", ".",
                 "fifo", "/", "/etc/shadow", "x" * 300, ("x" * 200 + "/") * 25, "~nosuchuser/a", "a.py/x"]


class Case(tuple):  # (document, files, environ): a tuple, so hypothesis can show it
    __slots__ = ()

    def __new__(cls, document: str, files: dict[str, bytes] | None = None,
                environ: dict[str, str] | None = None) -> Case:
        return super().__new__(cls, (document, files or {}, environ or {}))

    @property
    def document(self) -> str:
        return str(self[0])

    @property
    def files(self) -> dict[str, bytes]:
        return dict(self[1])

    @property
    def environ(self) -> dict[str, str]:
        return dict(self[2])


def write_case(directory: Path, case: Case) -> Path:
    """The case's files in `directory` (prepared as `prepare` does, plus a FIFO), and its document's path."""
    prepare(directory)
    fifo = directory / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    for name in (".env", "gen.env"):
        (directory / name).unlink(missing_ok=True)
    for name, content in case.files.items():
        (directory / name).write_bytes(content)
    path = directory / "mesh-compose.yaml"
    path.write_text(case.document, encoding="utf-8", errors="surrogatepass")
    return path


def _agent(field: str, form: str, value: str) -> str:
    run = "" if field in ("script", "module", "command") else "script: a.py, "
    return f"agents: {{a: {{{run}{field}: {form.format(value)}}}}}\n"


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar holding `text`: what is not printable ASCII written as an escape."""
    def escaped(char: str) -> str:
        if char in '"\\':
            return "\\" + char
        if " " <= char <= "~":
            return char
        return f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}"

    return '"' + "".join(escaped(char) for char in text) + '"'


def _nested_interpolation(rng: random.Random) -> Case:
    """`${V:-${V:-…}}` at every depth around the bound, in a field, the .env or an env_file."""
    depth = rng.choice([99, 100, 101, 240, 250, 1000, 40_000]) if rng.random() < 0.5 else rng.randint(1, 3000)
    operator = rng.choice([":-", "-", ":+", "+", ":?", "?"])
    inner = rng.choice(["x", "$V", "${V}", "$$", "${", "}", ""])
    template = f"${{V{operator}" * depth + inner + "}" * rng.choice([depth, depth - 1, depth + 1])
    environ = {"V": "set"} if rng.random() < 0.3 else {}
    where = rng.choice(["field", ".env", "env_file"])
    if where == "field":
        field, form = rng.choice(FIELDS_OF_EVERY_KIND)
        return Case(_agent(field, form, json.dumps(template)), environ=environ)
    env = f"A=1\nB={template}\n".encode()
    if where == ".env":
        return Case(_agent("args", "[{}]", "$B"), {".env": env}, environ)
    return Case(_agent("env_file", "[{}]", "gen.env"), {"gen.env": env}, environ)


def _control_characters(rng: random.Random) -> Case:
    """Control characters (NUL first of all) in every kind of field, written as YAML escapes."""
    field, form = rng.choice(FIELDS_OF_EVERY_KIND)
    base = rng.choice(["a.py", "sub", "x", "127.0.0.1:80", "http://127.0.0.1:1/", "ok.env", "SIGTERM", "b"])
    at = rng.randint(0, len(base))
    value = base[:at] + "".join(rng.choice(CONTROL_CHARACTERS) for _ in range(rng.randint(1, 3))) + base[at:]
    if rng.random() < 0.3:  # through interpolation instead, from the caller's environment
        return Case(_agent(field, form, '"$V"'), environ={"V": value})
    if rng.random() < 0.2:  # in a key
        return Case(f"agents: {{a: {{script: a.py, environment: {{{_quoted(value)}: v}}}}}}\n")
    return Case(_agent(field, form, _quoted(value)))


def _huge_number(rng: random.Random) -> Case:
    """Integers past what Python prints (4,300 digits), in hex, binary and decimal, anywhere."""
    digits = rng.choice([4000, 4300, 4301, 5000, 20_000])
    number = rng.choice(["0x" + "f" * (digits * 5 // 6), "0b" + "1" * (digits * 10 // 3), "9" * digits,
                         "-" + "9" * digits, "0x" + "f" * 3600, "!!int " + "9" * digits, "!!float " + "9" * digits])
    places = ["x-a: NUMBER\nagents: {a: {script: a.py}}\n", "agents: {a: {script: a.py, max_restarts: NUMBER}}\n",
              "agents: {a: {script: a.py, healthcheck: {log: x, retries: NUMBER}}}\n",
              "agents: {a: {script: a.py, x-n: [NUMBER]}}\n", "registry: {port: NUMBER}\nagents: {a: {script: a.py}}\n",
              "agents: {a: {script: a.py, stop_grace_period: NUMBER}}\n", "agents: {a: {script: a.py, args: [NUMBER]}}\n"]
    return Case(rng.choice(places).replace("NUMBER", number))


def _special_file(rng: random.Random) -> Case:
    """Special files, long paths and NUL paths where a file or directory is named."""
    target = rng.choice(SPECIAL_FILES)
    field, form = rng.choice([("env_file", "[{}]"), ("script", "{}"), ("working_dir", "{}"), ("interpreter", "{}"),
                              ("develop", "{{watch: [{{path: {}}}]}}")])
    if field == "interpreter" and not target.startswith(("/", ".", "~")):
        target = "./" + target
    return Case(_agent(field, form, json.dumps(target)))


def _pathological_env(rng: random.Random) -> Case:
    """`.env` and env files: unterminated quotes, huge lines, values doubling line after line,
    a variable repeated thousands of times, NUL bytes, every escape."""
    kind = rng.choice(["unterminated", "long", "doubling", "repeated", "nul", "escapes", "many"])
    if kind == "unterminated":
        quote = rng.choice(["'", '"'])
        text = f"A={quote}start\n" + "B=value\n" * rng.randint(1, 20_000)
    elif kind == "long":
        text = "A=" + rng.choice(["x", "$", "{", "\\", "'", '"', " #"]) * rng.randint(1, 2_000_000) + "\n"
    elif kind == "doubling":
        text = "V0=" + "x" * 64 + "\n" + "".join(f"V{i}=$V{i - 1}$V{i - 1}\n" for i in range(1, rng.randint(2, 40)))
    elif kind == "repeated":
        text = "A=" + "y" * 1000 + "\nB=" + "$A" * rng.randint(1, 500_000) + "\n"
    elif kind == "nul":
        text = "A=1\nB=x\0y\nC='\0'\n"
    elif kind == "escapes":
        text = 'A="' + "".join(rng.choice(["\\n", "\\t", "\\$", "\\\\", '\\"', "\\x", "$$", "${A}"])
                               for _ in range(rng.randint(1, 1000))) + '"\n'
    else:
        text = "".join(f"K{i}=v{i}\n" for i in range(rng.randint(1, 100_000)))
    name = rng.choice([".env", "gen.env"])
    document = _agent("env_file", "[{}]", "gen.env") if name == "gen.env" else _agent("args", "[{}]", "$B")
    return Case(document, {name: text.encode("utf-8", "surrogatepass")})


def _huge_document(rng: random.Random) -> Case:
    """Documents large in one direction: a one-line flow list, many agents with unknown
    dependencies, a long string, a regular expression nested deep."""
    kind = rng.choice(["flow", "agents", "string", "regex", "keys"])
    if kind == "flow":
        return Case("x-big: [" + "1," * rng.choice([10_000, 199_999, 200_001, 1_000_000, 4_000_000]) + "1]\n"
                    + _agent("args", "[a]", ""))
    if kind == "agents":
        count = rng.choice([100, 1000, 5000])
        return Case("agents:\n" + "".join(f"  a{i}: {{script: a.py, depends_on: [m{i}]}}\n" for i in range(count)))
    if kind == "string":
        return Case(_agent("args", "[{}]", json.dumps("x" * rng.randint(1, 8_000_000))))
    if kind == "regex":
        depth = rng.choice([50, 100, 101, 500, 5000])
        regex = rng.choice(["(" * depth + "x" + ")" * depth, "(?:" * depth + "x" + ")" * depth,
                            "[(]" * depth, "(" * depth, "\\(" * depth])
        return Case(_agent("healthcheck", "{{log: {}}}", json.dumps(regex)))
    return Case("x-k: {" + ", ".join(f"k{i}: {i}" for i in range(rng.choice([1000, 100_000, 250_000]))) + "}\n"
                + _agent("args", "[a]", ""))


CASE_GENERATORS = {
    "nested-interpolation": _nested_interpolation, "control-characters": _control_characters,
    "huge-numbers": _huge_number, "special-files": _special_file, "pathological-env": _pathological_env,
    "huge-documents": _huge_document,
}


def any_case(rng: random.Random) -> Case:
    """A case of any class: the new ones, or a document of the older strategies."""
    older = [_flow_document, _with_odd_characters, _deep_text, _overflow_text, _interpolation_text]
    generators = [*CASE_GENERATORS.values(), *older]
    made = rng.choice(generators)(rng)
    return made if isinstance(made, Case) else Case(made)


def hostile_cases() -> st.SearchStrategy[Case]:
    return st.randoms(use_true_random=True).map(any_case)
