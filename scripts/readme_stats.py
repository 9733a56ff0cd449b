"""A page's length and the median length of its sentences, in words.

    python scripts/readme_stats.py [README.md ...]

Sentences are the prose's: paragraphs and list items, split after `.`, `!`
or `?`. Fenced code blocks, headings, HTML comments, tables and the generated
benchmark headline are left out; the longest table cell is reported apart.
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

BENCHMARK = re.compile(r"<!-- benchmark headline.*?<!-- end of the benchmark headline -->", re.S)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"*\[])")


def texts(markdown: str) -> list[str]:
    """The page's prose, one string per paragraph or list item."""
    body = FENCE.sub("", BENCHMARK.sub("", markdown))
    found: list[str] = []
    current: list[str] = []
    for line in [*body.splitlines(), ""]:
        stripped = line.strip()
        starts_item = bool(re.match(r"([-*]|\d+\.)\s", stripped))
        if not stripped or stripped.startswith(("#", "<!--", "|", "![")) or starts_item:
            if current:
                found.append(" ".join(current))
            current = []
        if starts_item:
            current = [re.sub(r"^([-*]|\d+\.)\s+", "", stripped)]
        elif stripped and not stripped.startswith(("#", "<!--", "|", "![")):
            current.append(stripped)
    return found


def table_cells(markdown: str) -> list[str]:
    body = FENCE.sub("", BENCHMARK.sub("", markdown))
    rows = [line.strip() for line in body.splitlines() if line.strip().startswith("|")]
    return [cell.strip() for row in rows for cell in re.split(r"(?<!\\)\|", row.strip("|"))]


def sentence_lengths(markdown: str) -> list[int]:
    return [len(sentence.split()) for text in texts(markdown) for sentence in SENTENCE_END.split(text)
            if sentence.split()]


def main(paths: list[str]) -> None:
    for path in paths or ["README.md"]:
        text = Path(path).read_text(encoding="utf-8")
        lengths = sentence_lengths(text)
        cells = [len(cell.split()) for cell in table_cells(text)]
        sys.stdout.write(f"{path}: {len(text.splitlines())} lines, {len(lengths)} sentences, "
                         f"median {statistics.median(lengths):g} words, longest {max(lengths)}; "
                         f"longest table cell {max(cells, default=0)} words\n")


if __name__ == "__main__":
    main(sys.argv[1:])
