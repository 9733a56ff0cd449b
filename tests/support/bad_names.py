"""Project names that must be refused from every source: each would climb out
of the project, hide, reach elsewhere, print control characters, or be too long."""

BAD_NAMES = {"up three": "../../..", "up one": "..", "dot": ".", "slash": "a/b", "absolute": "/abs",
             "NUL": "a\0b", "ESC": "x\x1b]0;pwned\x07\x1b[2J", "300 chars": "n" * 300}
