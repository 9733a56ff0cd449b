"""Line-aware YAML loading: plain data plus where every key and item came from.

Differences from `yaml.safe_load`, each on purpose:

- Duplicate keys are problems, not "last one wins".
- Booleans follow YAML 1.2 (only true/false): `restart: no` stays the string
  "no", as docker compose users expect, instead of silently becoming False.
- Parser errors become a located problem, never a traceback (see yamlerrors).
- Nesting is limited to MAX_DEPTH levels, so nothing recurses too deep.
- libyaml parses, and composes the nodes, when PyYAML has it (10x faster than
  Python): see `_LibyamlComposer` for how its nodes keep the same limits.
- Alias expansion is bounded, so a "billion laughs" file is an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import yaml

from meshcompose.config.limits import MAX_DEPTH, MAX_NODES, TOO_DEEP
from meshcompose.config.yamlerrors import character_problem, syntax_problem
from meshcompose.errors import Problem

Path_ = tuple[Any, ...]  # key path inside the document: ("agents", "api", "args", 0)
TOO_MANY = f"the document has more than {MAX_NODES:,} values"
# Past this many bits an integer has more digits than Python prints (4,300) and cannot be used.
MAX_INTEGER_BITS = 4096
# Every node but the first comes after one of these: an upper bound on the nodes a text makes,
# counted in C before libyaml composes them all (an 8 MB one-line list would take 1 GB).
_NODE_STARTS = ("\n", ",", ":", "-", "?", "[", "{", "*")


class Mark(NamedTuple):
    """Where a value was written. A tuple, not a dataclass: a 1,000-agent file makes 10,000 of
    them, and a tuple is made in a third of the time (and untracked by the cycle collector)."""

    file: str
    line: int
    column: int
    # Interpolation variables whose values went into this value: it came, in
    # part, from the caller's environment or .env, not from the file.
    variables: tuple[str, ...] = ()


@dataclass
class Loaded:
    data: Any
    marks: dict[Path_, Mark] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Agents already reported as malformed: known by name, but not built.
    broken: set[str] = field(default_factory=set)
    # Values already reported and replaced by None (a non-finite number, a bad
    # tag...): the schema need not say again that they have the wrong type.
    replaced: list[Path_] = field(default_factory=list)


_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_MERGE_MESSAGE = "`<<` merges a map or a list of maps (such as *base) into this map; this is neither"
_DROPPED_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}
_PLAIN_TYPES = (str, int, float, bool, type(None))


class _Limited(yaml.composer.Composer):
    """PyYAML's composer (it recurses once per level), stopped before it recurses too deep."""

    depth = 0
    nodes = 0
    peek_event: Callable[[], yaml.Event]  # the parser's, which comes later in the loader's bases

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH or self.nodes > MAX_NODES:
                mark: Any = self.peek_event().start_mark  # PyYAML's Mark, or libyaml's
                raise yaml.composer.ComposerError(None, None, TOO_DEEP if self.depth > MAX_DEPTH else TOO_MANY, mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _PythonLoader(_Limited, yaml.SafeLoader):
    """All in Python: used where PyYAML was built without libyaml."""

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # The scanner's look-ahead for simple keys costs one step per open
        # bracket on every token: stop early, before that turns quadratic.
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(None, None, TOO_DEEP, self.get_mark())
        super().fetch_flow_collection_start(token_class)


LOADERS: dict[str, Any] = {"python": _PythonLoader}
try:
    from yaml._yaml import CParser, get_version

    class _LibyamlEvents(_Limited, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml's parser (C, no recursion) feeding the limited Python composer: for a libyaml
        older than 0.2.6, whose own composer has no nesting limit (it recurses in C)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    class _LibyamlComposer(CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml parses and composes (C): a 1,000-agent file in 0.05 s instead of 0.15 s with the
        Python composer, and the same nodes and marks. libyaml (since 0.2.6) stops at 1,000
        levels, so its recursion stays shallow; MAX_DEPTH is checked on the nodes it made.

        A text with an error, or nested too deep, is read again by `_LibyamlEvents`, so the
        problem reported is the Python composer's (the first in the order of the text, where
        libyaml might stop later, at its own limit or at a syntax error further down). Only
        such files pay for reading twice."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.text = stream

        def get_single_node(self) -> yaml.Node | None:
            try:
                root: yaml.Node | None = CParser.get_single_node(self)
                if not _too_deep(root):
                    return root
            except yaml.YAMLError:
                pass
            again = _LibyamlEvents(self.text)
            try:
                return again.get_single_node()  # raises the error, as the Python composer words and places it
            finally:
                again.dispose()

    LOADERS["libyaml"] = _LibyamlEvents
    if get_version() >= (0, 2, 6):
        LOADERS["libyaml-composer"] = _LibyamlComposer
except ImportError:  # PyYAML without libyaml: the pure-Python parser
    pass
PARSER = next(name for name in ("libyaml-composer", "libyaml", "python") if name in LOADERS)

for _loader in LOADERS.values():
    # YAML 1.2 booleans; timestamps go too: a date stays the string that was written.
    _loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )


def load_text(text: str, file: str) -> Loaded:
    """Parse one YAML document. Problems are collected in the result."""
    wrong_character = character_problem(text, file)
    if wrong_character is not None:
        return Loaded(None, problems=[wrong_character])
    too_many = _too_many_nodes(text)
    if too_many is not None:
        return Loaded(None, problems=[Problem(file, too_many.line + 1, too_many.column + 1, "", TOO_MANY)])
    loader = LOADERS[PARSER](text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        return Loaded(None, problems=[syntax_problem(error, text, file, TOO_DEEP)])
    except yaml.YAMLError as error:
        return Loaded(None, problems=[Problem(file, 1, 1, "", f"not valid YAML: {error}")])
    finally:
        loader.dispose()
    loaded = Loaded(None, {(): Mark(file, 1, 1)})
    if root is None:
        return loaded
    builder = _Builder(loader, file, loaded)
    try:
        loaded.data = builder.build(root, ())
    except _TooLarge:
        loaded.problems.append(Problem(file, 1, 1, "",
                                       f"document expands to more than {MAX_NODES} values (alias bomb?)"))
        loaded.data = None
    return loaded


def _too_many_nodes(text: str) -> Any:
    """Where a text makes its node past MAX_NODES (before any is composed), or None.

    Most texts cannot have that many (see _NODE_STARTS); the others are counted by libyaml's
    parser, event by event, without keeping any. The Python composer counts as it goes."""
    if PARSER != "libyaml-composer" or sum(text.count(start) for start in _NODE_STARTS) < MAX_NODES:
        return None
    parser = CParser(text)
    nodes = 0
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return None
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent, yaml.AliasEvent)):
                nodes += 1
                if nodes > MAX_NODES:
                    return event.start_mark
    except yaml.YAMLError:
        return None  # the composer reports it, as it words and places it
    finally:
        parser.dispose()


def _too_deep(root: yaml.Node | None) -> bool:
    """Whether a node is nested more than MAX_DEPTH levels deep (keys and aliases count, as in
    `_Limited`). Depth first in the order of the text, without recursion; only collections are
    entered, each once: an alias is a leaf where it is written, and its anchor comes before it."""
    pending: list[tuple[Any, int]] = [(root, 1)] if isinstance(root, yaml.CollectionNode) else []
    entered: set[int] = set()
    while pending:
        node, depth = pending.pop()
        if id(node) in entered:
            continue
        entered.add(id(node))
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
        if children and depth >= MAX_DEPTH:
            return True
        pending.extend((child, depth + 1) for child in reversed(children) if isinstance(child, yaml.CollectionNode))
    return False


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, loader: Any, file: str, loaded: Loaded) -> None:
        self.loader = loader
        self.file = file
        self.loaded = loaded
        self.count = 0
        self.active: set[int] = set()  # node ids on the current branch: recursive aliases

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node, path: Path_, message: str) -> None:
        mark = self.mark(node)
        shown = dotted(path) if len(path) <= 8 else dotted(path[:8]) + "..."
        self.loaded.problems.append(Problem(self.file, mark.line, mark.column, shown, message))

    def replaced(self, node: yaml.Node, path: Path_, message: str) -> None:
        """A problem whose value is dropped: it becomes None and is not checked again."""
        self.problem(node, path, message)
        self.loaded.replaced.append(path)

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge()
        if len(path) >= MAX_DEPTH:  # only aliases get here: the composer stops deeper text
            self.replaced(node, path, f"{TOO_DEEP} (through aliases)")
            return None
        if isinstance(node, yaml.ScalarNode):  # no recursion through a scalar
            return self._scalar(node, path)
        if id(node) in self.active:
            self.replaced(node, path, "recursive YAML alias")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return self._sequence(node, path)  # type: ignore[arg-type]  # the one kind left
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        if node.tag == _STR:  # most values: what SafeConstructor would return, without its machinery
            return node.value
        try:
            value = self.loader.construct_object(node, deep=True)
        except Exception:  # an explicit tag's constructor (!!int, !!bool...) may raise anything on bad text
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            if tag == "!!int" and re.fullmatch(r"[-+]?[0-9_]+", str(node.value)):
                message = f"the integer {_abridged(node.value)} is too large"  # too many digits for Python's int()
            else:
                message = f"invalid value {_abridged(node.value)} for the tag {tag}"
            self.replaced(node, path, message)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.replaced(node, path, f"{_abridged(node.value)} is not a finite number")
            return None
        if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
            self.replaced(node, path, f"the integer {_abridged(node.value)} is too large "
                                      f"(more than {MAX_INTEGER_BITS} bits)")
            return None
        # Explicitly tagged oddities (!!binary, ...) stay the text that was written.
        return value if isinstance(value, _PLAIN_TYPES) else str(node.value)

    def _sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            self.loaded.marks[path + (index,)] = self.mark(child)
            items.append(self.build(child, path + (index,)))
        return items

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        self._check_duplicates(node, path)
        node.value = [(k, v) for k, v in node.value if k.tag != _MERGE or self._mergeable(v, path)]
        try:
            self.loader.flatten_mapping(node)
        except yaml.YAMLError:  # a bad merge inside a merged map: reported where that map is read
            node.value = [(k, v) for k, v in node.value if k.tag != _MERGE]
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            self.loaded.marks[path + (key,)] = self.mark(key_node)
            result[key] = self.build(value_node, path + (key,))
        return result

    def _mergeable(self, value: yaml.Node, path: Path_) -> bool:
        """Whether `<<: value` can merge; a list keeps its maps and loses the rest (reported)."""
        if isinstance(value, yaml.SequenceNode):
            wrong = [item for item in value.value if not isinstance(item, yaml.MappingNode)]
            for item in wrong:
                self.problem(item, path, _MERGE_MESSAGE)
            value.value = [item for item in value.value if isinstance(item, yaml.MappingNode)]
            return bool(value.value)
        if not isinstance(value, yaml.MappingNode):
            self.problem(value, path, _MERGE_MESSAGE)
            return False
        return True

    def _key(self, key_node: yaml.Node, path: Path_) -> Any:
        if not isinstance(key_node, yaml.ScalarNode):
            self.problem(key_node, path, "a key must be a plain value, not a list or map")
            return None
        key = self._scalar(key_node, path)
        return key if isinstance(key, str) else str(key_node.value)

    def _check_duplicates(self, node: yaml.MappingNode, path: Path_) -> None:
        seen: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue
            first = seen.setdefault(key_node.value, key_node)
            if first is not key_node:
                line = first.start_mark.line + 1
                self.problem(key_node, path + (key_node.value,),
                             f"duplicate key '{key_node.value}' (first defined on line {line})")


def _abridged(text: Any) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else f"{shown[:20]}...{shown[-8:]} ({len(str(text)):,} characters)"


def dotted(path: Path_) -> str:
    """`agents.api.args[0]` for ("agents", "api", "args", 0)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
