"""Scale-out on a Ray cluster (the optional `ray` extra): `encode_corpus_ray` writes the same Parquet
shards as `lsr.indexing.encode_corpus`, encoded by a pool of model actors.

Nothing here is imported by the rest of lsr, so without `--ray` Ray is never imported.
"""

from lsr.distributed.encode import RANGES_MANIFEST, encode_corpus_ray
from lsr.distributed.ranges import ShardRange, plan_ranges, read_range

__all__ = ["RANGES_MANIFEST", "ShardRange", "encode_corpus_ray", "plan_ranges", "read_range"]
