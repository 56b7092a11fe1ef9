// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.index;

public final class LeafReaderContext {
  public int docBase;  // final in Lucene; not here, where a constant would be inlined

  public LeafReader reader() {
    throw new UnsupportedOperationException("stub");
  }
}
