"""Scale-out on a Ray cluster (the optional `ray` extra): `encode_corpus_ray` writes the same Parquet
shards as `lsr.indexing.encode_corpus`, encoded by a pool of model actors; `lsr.distributed.shards` writes
an impact index as several shard indexes (Ray tasks, or here), and `lsr.distributed.search` searches them
(one Ray actor per shard, or here) with the run of one index.

Nothing here is imported by the rest of lsr, and Ray only inside the functions that run on it, so without
`--ray` Ray is never imported.
"""

from lsr.distributed.encode import RANGES_MANIFEST, encode_corpus_ray
from lsr.distributed.ranges import ShardRange, plan_ranges, read_range
from lsr.distributed.search import RayShardedSearcher, ShardedSearcher
from lsr.distributed.shards import (ShardedIndexInfo, build_sharded_index, build_sharded_index_from_corpus,
                                    shard_index)
from lsr.indexing.index_info import SHARDED_INFO_FILE, is_sharded_index

__all__ = ["RANGES_MANIFEST", "SHARDED_INFO_FILE", "RayShardedSearcher", "ShardRange", "ShardedIndexInfo",
           "ShardedSearcher", "build_sharded_index", "build_sharded_index_from_corpus", "encode_corpus_ray",
           "is_sharded_index", "plan_ranges", "read_range", "shard_index"]
