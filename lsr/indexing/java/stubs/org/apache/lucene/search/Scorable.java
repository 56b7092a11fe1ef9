// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.search;

public abstract class Scorable {
  public abstract float score() throws java.io.IOException;

  public void setMinCompetitiveScore(float minScore) throws java.io.IOException {
    throw new UnsupportedOperationException("stub");
  }
}
