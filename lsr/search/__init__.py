"""Searching indexes: the `Searcher` protocol and its backends (Lucene, Seismic, sharded), dense search,
explanations of scores; `open_searcher` picks the backend's searcher for an index folder."""
