"""Text from agents and users, made safe to show on a terminal.

An agent's output, and anything a user typed into a project file, is text
to show, never commands for the terminal that shows it. A terminal obeys
what it receives: a window title (OSC 0/2), a clipboard write (OSC 52), a
screen clear, a reset (ESC c), an alternate screen (CSI ?1049h), a carriage
return that overwrites what came before. `terminal_safe` keeps colours
(SGR, `ESC [ ... m`) where colour is on and drops them where it is off;
every other control character becomes visible text:

- ESC is `^[`, and the rest of its sequence follows as the plain text it
  is (`^[]0;title^G`, `^[[2J`, `^[c`);
- the other C0 controls are caret notation (`^@` for NUL, `^M` for a CR
  inside a line, `^G` for BEL), DEL is `^?`;
- the C1 controls U+0080..U+009F, among them the 8-bit CSI U+009B, are
  `<9b>` (a C1 byte that is not UTF-8 was decoded as U+FFFD already);
- a tab stays; a newline stays only where the caller asks (a block of
  lines), and is `^J` otherwise.

Log files keep the bytes as written: this is for showing only. Stdlib only
and quick when there is nothing to change, since every console line of
`up` and `logs` passes here.
"""

from __future__ import annotations

import re

# SGR: the only sequence kept (with colour on); parameters and `:` sub-parameters only.
_SGR = "\x1b\\[[0-9;:]*m"
# Every C0 control but \t and \n, DEL, and the C1 controls.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_TOKENS = re.compile(f"({_SGR})|([{_CONTROLS}])|(\n)")
# The quick test, on the UTF-8 bytes: delete every byte that cannot be part
# of a control character; a C1 control is C2 80..C2 9F, so only a C2 left
# over needs a closer look. bytes.translate runs about ten times faster
# than a regular expression's search.
_NEVER_CONTROL = bytes([*range(0x20, 0x7F), 0x09, *range(0x80, 0xC2), *range(0xC3, 0x100)])
_NEVER_CONTROL_OR_NEWLINE = _NEVER_CONTROL + b"\n"
_C1_UTF8 = re.compile(b"\xc2[\x80-\x9f]")


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<{code:02x}>"


_VISIBLE = {chr(code): _visible(chr(code)) for code in [*range(0x20), *range(0x7F, 0xA0)]}


def _has_controls(text: str, newlines: bool) -> bool:
    encoded = text.encode("utf-8", "surrogatepass")
    left = encoded.translate(None, _NEVER_CONTROL_OR_NEWLINE if newlines else _NEVER_CONTROL)
    if not left:
        return False
    return bool(left.strip(b"\xc2")) or _C1_UTF8.search(encoded) is not None


def terminal_safe(text: str, *, color: bool, newlines: bool = False) -> str:
    """`text` as a terminal may receive it: colours (SGR) kept if `color`,
    else dropped; every other control character visible (`^[`, `^G`, `<9b>`,
    see the module's docstring); tabs kept; newlines kept only if `newlines`.

    For anything shown on a console that came from an agent or a user: agent
    output in `up` and `logs`, names and values in messages, pages."""
    if not _has_controls(text, newlines):
        return text

    def replace(match: re.Match[str]) -> str:
        sgr, control, newline = match.groups()
        if sgr is not None:
            return sgr if color else ""
        if newline is not None:
            return "\n" if newlines else "^J"
        return _VISIBLE[control]

    return _TOKENS.sub(replace, text)
