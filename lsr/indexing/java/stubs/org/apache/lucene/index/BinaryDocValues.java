// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.index;

public abstract class BinaryDocValues extends org.apache.lucene.search.DocIdSetIterator {
  public abstract org.apache.lucene.util.BytesRef binaryValue() throws java.io.IOException;
}
