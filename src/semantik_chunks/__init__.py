"""semantik-chunks: the partitioned ``chunks`` table of Semantik and everything to run it well.

Routing needs no database: ``partition_for(collection_id)`` is a collection's partition number,
``partition_name_for(collection_id)`` the table that holds its chunks, ``partition_table_name(num)``
the table of a partition number (docs/library.md).
"""

from importlib.metadata import PackageNotFoundError, version

from semantik_chunks.domain.hashing import hashtext, partition_for, partition_name_for, partition_table_name

try:
    __version__ = version("semantik-chunks")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "hashtext", "partition_for", "partition_name_for", "partition_table_name"]


def __getattr__(name: str) -> object:
    if name == "partition_name":
        # It took a partition number where PartitionManager.get_partition_name takes a collection: one name,
        # two meanings. Each meaning has its own name now.
        raise AttributeError(
            "semantik_chunks.partition_name is gone: use partition_name_for(collection_id) for a collection's "
            "partition table, or partition_table_name(partition_num) for a partition number's"
        )
    raise AttributeError(f"module 'semantik_chunks' has no attribute {name!r}")
