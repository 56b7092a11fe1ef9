// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package io.anserini.search;

public final class SearchCollection {
  public static final org.apache.lucene.search.Sort BREAK_SCORE_TIES_BY_DOCID = stub();

  private static org.apache.lucene.search.Sort stub() {
    throw new UnsupportedOperationException("stub");
  }
}
