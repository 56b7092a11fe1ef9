// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.search;

public interface Collector {
  LeafCollector getLeafCollector(org.apache.lucene.index.LeafReaderContext context) throws java.io.IOException;

  ScoreMode scoreMode();
}
