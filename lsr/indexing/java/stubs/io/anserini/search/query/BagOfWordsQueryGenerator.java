// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package io.anserini.search.query;

public class BagOfWordsQueryGenerator {
  public BagOfWordsQueryGenerator() {
    throw new UnsupportedOperationException("stub");
  }

  public org.apache.lucene.search.Query buildQuery(String field, org.apache.lucene.analysis.Analyzer analyzer,
                                                   String queryText) {
    throw new UnsupportedOperationException("stub");
  }
}
