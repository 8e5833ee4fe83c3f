"""semantik-chunks: the partitioned ``chunks`` table of Semantik and everything to run it well."""

from semantik_chunks.domain.hashing import hashtext, partition_for, partition_name

__all__ = ["hashtext", "partition_for", "partition_name"]
