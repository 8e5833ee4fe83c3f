"""The example worker migrates when a worker starts (Celery's worker_init), never when its module is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from semantik_chunks.adapters.postgres import migrate

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
import examples.host_app.worker as worker
from semantik_chunks.adapters.postgres import migrate
print("after import:", migrate.current(worker.settings.database_url) or "none")
if sys.argv[1] == "start":
    from celery.signals import worker_init
    worker_init.send(sender=None)
    print("after worker_init:", ",".join(migrate.current(worker.settings.database_url)))
"""


def run(url: str, what: str, tmp_path: Path) -> str:
    env = {**os.environ, "DATABASE_URL": url, "EXAMPLE_CELERY_DIR": str(tmp_path)}
    command = [sys.executable, "-c", SCRIPT, what]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_worker_migrates_nothing_starting_it_does(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    assert run(url, "import", tmp_path) == "after import: none\n"
    assert migrate.current(url) == ()
    head = migrate.revision_order()[-1]
    assert run(url, "start", tmp_path) == f"after import: none\nafter worker_init: {head}\n"
