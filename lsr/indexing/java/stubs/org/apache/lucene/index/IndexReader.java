// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.index;

public abstract class IndexReader implements java.io.Closeable {
  public abstract int maxDoc();

  public abstract StoredFields storedFields() throws java.io.IOException;

  public abstract int docFreq(Term term) throws java.io.IOException;

  public final java.util.List<LeafReaderContext> leaves() {
    throw new UnsupportedOperationException("stub");
  }

  public final void close() throws java.io.IOException {
    throw new UnsupportedOperationException("stub");
  }
}
