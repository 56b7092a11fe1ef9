"""Scale-out on a Ray cluster (the optional `ray` extra): Ray actors and tasks only, over the rest of lsr.

`encode_corpus_ray` writes the same vector parts as `lsr.indexing.vectors.encode_corpus`, encoded by a pool
of model actors over corpus ranges; `build_sharded_index_on_ray` writes each index shard as a Ray task; and
`RayShardedSearcher` searches a sharded index with one actor per shard. No other part of lsr imports this
package but the command line and the service, and Ray is imported only inside the functions that run on
it, so without `--ray` Ray is never imported.
"""
