"""The README lists every error type the function returns, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from claude_proxy.errors import ErrorType

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_names_every_error_type():
    text = README.read_text(encoding="utf-8")
    section = text[text.index('Failures: `{"ok": false') :]
    section = section[: section.index("\n\n")]
    listed = set(re.findall(r"`([a-z_]+)`", section)) - {"ok"}
    assert listed == {e.value for e in ErrorType}
