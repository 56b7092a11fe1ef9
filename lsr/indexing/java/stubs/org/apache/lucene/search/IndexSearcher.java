// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.search;

public class IndexSearcher {
  public IndexSearcher(org.apache.lucene.index.IndexReader reader) {
    throw new UnsupportedOperationException("stub");
  }

  public void setSimilarity(org.apache.lucene.search.similarities.Similarity similarity) {
    throw new UnsupportedOperationException("stub");
  }

  public CollectionStatistics collectionStatistics(String field) throws java.io.IOException {
    throw new UnsupportedOperationException("stub");
  }

  public void search(Query query, Collector collector) throws java.io.IOException {
    throw new UnsupportedOperationException("stub");
  }

  public TopFieldDocs search(Query query, int n, Sort sort, boolean doDocScores) throws java.io.IOException {
    throw new UnsupportedOperationException("stub");
  }
}
