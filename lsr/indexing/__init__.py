"""Everything that touches Java: the JVM, Lucene index writers, the `Searcher`, index statistics."""
