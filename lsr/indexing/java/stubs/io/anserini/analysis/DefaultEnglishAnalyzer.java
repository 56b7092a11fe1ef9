// Compile-time stub: only the signatures lsr.lucene.BulkSearcher calls (matching Lucene 9.9 / Anserini 1.7).
// Never shipped: at run time the real class comes from the Anserini fatjar. See scripts/build_java.sh.
package io.anserini.analysis;

public class DefaultEnglishAnalyzer extends org.apache.lucene.analysis.Analyzer {
  public static DefaultEnglishAnalyzer fromArguments(String stemmer, boolean keepStopwords, String stopwordsFile)
      throws java.io.IOException {
    throw new UnsupportedOperationException("stub");
  }
}
