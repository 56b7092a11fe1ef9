"""Building index folders: the folder layout, vector parts, impact and BM25 indexes, sharded and Seismic indexes."""
