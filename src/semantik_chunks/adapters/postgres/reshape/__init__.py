"""Changing the shape of ``chunks`` online: a new partition count (``partitions.py``), or one partition
rebuilt as sub-partitions (``isolate.py``). The procedure pg_partman and Citus users rely on:

1. **build** the new layout beside the old one (``rs_chunks`` with M partitions, or
   ``rs_chunks_part_07`` sub-partitioned), empty, with the table's columns, CHECKs, foreign keys and
   every index (per-partition index names follow the old partitions' names);
2. **capture**: a row trigger on the old table (``ENABLE ALWAYS``, so a replica-role session is
   captured too) writes the key ``(id, collection_id)`` of every row inserted, updated or deleted
   from now on into ``semantik_chunks_reshape_log``;
3. **copy** the old rows in id ranges, one source partition at a time, each batch one
   transaction together with its cursor: a killed run resumes after its last committed batch;
4. **catch up**: replay the log (delete the logged keys from the new table, copy their current
   version from the old one) until it is short;
5. **swap**, one short transaction under ``lock_timeout`` (retried): lock the old table, replay
   the rest of the log, move the host's triggers, grants and the id sequence over, drop the old
   table, rename the new one and its partitions and indexes, rewrite the routing functions, the
   CHECK and the monitoring views. Writers wait for this transaction only.

Progress lives in ``semantik_chunks_reshape_runs`` / ``_cursors``; a rerun of the same change
resumes, a run with nothing to do returns ``noop``. Only one change runs at a time (an advisory lock).

The modules, each using only those before it (an import-linter contract in ``pyproject.toml`` checks
it): ``state.py`` (the state tables, a run's bookkeeping, names and quoting), ``session.py`` (session
settings, the run lock, ``lock_timeout`` and retry), ``catalog.py`` (what the table has), ``capture.py``
(steps 2 to 4), ``swap.py`` (the index phase, the swap's frame, the clean-up after it), ``partitions.py``
and ``isolate.py`` (steps 1 and 5 of each change), ``reshaper.py`` (``PostgresTableReshaper``, the port).
This module re-exports what code outside the package uses.
"""

from semantik_chunks.adapters.postgres.reshape.reshaper import DEFAULT_BATCH_SIZE, PostgresTableReshaper
from semantik_chunks.adapters.postgres.reshape.state import RUNS, Hooks

__all__ = ["DEFAULT_BATCH_SIZE", "RUNS", "Hooks", "PostgresTableReshaper"]
