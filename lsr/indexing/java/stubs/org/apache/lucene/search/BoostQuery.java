// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.search;

public final class BoostQuery extends Query {
  public BoostQuery(Query query, float boost) {
    throw new UnsupportedOperationException("stub");
  }

  public Query getQuery() {
    throw new UnsupportedOperationException("stub");
  }

  public float getBoost() {
    throw new UnsupportedOperationException("stub");
  }
}
