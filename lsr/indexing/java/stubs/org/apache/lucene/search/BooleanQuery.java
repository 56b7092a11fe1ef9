// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package org.apache.lucene.search;

public class BooleanQuery extends Query {
  public java.util.List<BooleanClause> clauses() {
    throw new UnsupportedOperationException("stub");
  }

  public static class Builder {
    public Builder() {
      throw new UnsupportedOperationException("stub");
    }

    public Builder add(Query query, BooleanClause.Occur occur) {
      throw new UnsupportedOperationException("stub");
    }

    public BooleanQuery build() {
      throw new UnsupportedOperationException("stub");
    }
  }
}
