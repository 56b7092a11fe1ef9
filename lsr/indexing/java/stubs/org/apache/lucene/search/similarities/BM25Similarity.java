// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.search.similarities;

public class BM25Similarity extends Similarity {
  public BM25Similarity(float k1, float b) {
    throw new UnsupportedOperationException("stub");
  }
}
