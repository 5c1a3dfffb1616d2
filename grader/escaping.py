"""Team text as each report's medium can carry it: one rule per medium.

A team controls its name (the coach copies it into the teams file) and, through its workspace,
repository and endpoint, the message and evidence of every check. Before that text reaches the coach:
  - `terminal` (`wth-grader check|scoreboard|watch`, the students' `wth check`): every control character
    but tab shown as an escape, newlines too, so no ESC sequence (a cleared screen, a window title, an OSC 52
    clipboard write) reaches the terminal and no message forges a line of the report;
  - `markup` (JUnit XML, the HTML page): the same, newline kept too, so the file holds only what
    XML 1.0 allows; ElementTree and jinja2 escape `<`, `&` and quotes beside;
  - `csv_cell` (the CSV): `markup`, and a cell a spreadsheet would read as a formula (`= + - @`, tab or CR
    first) starts with `'`.
The JSON report keeps the text as it was: JSON escapes what it must, and it is data, not a display.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, lone surrogates, the non-characters U+FFFE/U+FFFF, and the bidirectional
# marks and overrides that make a line show other than it reads
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
KEPT_ON_A_LINE = "\t"
KEPT_IN_MARKUP = "\t\n"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(text: object, kept: str) -> str:
    def escape(found: re.Match) -> str:
        char = found.group()
        return char if char in kept else f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return UNSAFE.sub(escape, str(text))


def terminal(text: object) -> str:
    """`text` for one terminal line: every control character but tab, newline included, as a `\\xNN` escape."""
    return _escaped(text, KEPT_ON_A_LINE)


def markup(text: object) -> str:
    """`text` for XML 1.0 and HTML: tab and newline kept, every other control character as an escape."""
    return _escaped(text, KEPT_IN_MARKUP)


def csv_cell(value: object) -> str:
    """`value` for a CSV cell that a spreadsheet shows as text, never evaluates."""
    text = str(value)
    return ("'" if text.startswith(FORMULA_START) else "") + markup(text)
