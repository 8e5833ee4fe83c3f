"""The README's library snippet runs as it is, in a fresh interpreter, and prints what the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def library_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("## Use it as a library") : text.index("## Documentation")]


def test_the_readme_library_snippet_runs_and_prints_what_the_readme_says(clean_pg_url: str) -> None:
    section = library_section()
    (code,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    (expected,) = re.findall(r"```text\n(.*?)```", section, re.DOTALL)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DATABASE_URL": clean_pg_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
