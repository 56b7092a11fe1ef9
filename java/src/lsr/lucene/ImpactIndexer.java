package lsr.lucene;

import io.anserini.search.similarity.ImpactSimilarity;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.TermFrequencyAttribute;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.FieldType;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.ConcurrentMergeScheduler;
import org.apache.lucene.index.IndexOptions;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;

/**
 * Writes a Lucene impact index from arrays of quantized document vectors, for lsr's Python side.
 *
 * <p>The index is the one Anserini's IndexCollection writes from a JsonVectorCollection with {@code
 * -impact -pretokenized -optimize} (what lsr ran before): one segment; per document a stored, indexed
 * "id" string with the id as binary doc values, and a "contents" field indexed with documents and
 * frequencies, with norms, not stored, in which term t has frequency = its impact; the writer uses
 * Anserini's ImpactSimilarity (norms), no compound files. Anserini gets those frequencies by writing
 * each term impact times into a text and tokenizing it on whitespace (some 10,000 tokens for a typical
 * SPLADE document); here each term is one token that carries its frequency (TermFrequencyAttribute),
 * which gives the same postings, document lengths and norms. Documents without terms are left out, as
 * Anserini leaves out empty contents.
 */
public final class ImpactIndexer implements Closeable {
  private static final FieldType CONTENTS = contentsType();

  private final FSDirectory directory;
  private final IndexWriter writer;
  private final String[] vocab;
  private final int threads;
  private final ExecutorService pool;
  private long added;

  private ImpactIndexer(String indexDir, int threads, double ramBufferMb, String[] vocab) throws IOException {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.directory = FSDirectory.open(Paths.get(indexDir));
    IndexWriterConfig config = new IndexWriterConfig(new WhitespaceAnalyzer());
    config.setSimilarity(new ImpactSimilarity());
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
    config.setRAMBufferSizeMB(ramBufferMb);
    config.setUseCompoundFile(false);
    config.setMergeScheduler(new ConcurrentMergeScheduler());
    this.writer = new IndexWriter(directory, config);
    this.vocab = vocab;
    this.threads = threads;
    this.pool = Executors.newFixedThreadPool(threads, runnable -> {
      Thread thread = new Thread(runnable, "lsr-impact-indexer");
      thread.setDaemon(true);
      return thread;
    });
  }

  /**
   * A writer of a new index in the folder whose UTF-8 path is given (replacing any index there); term
   * id i is the index term vocab[i] (UTF-8 strings with int32 offsets, as BulkSearcher takes them).
   */
  public static ImpactIndexer create(byte[] indexDir, int threads, double ramBufferMb, byte[] vocab,
      byte[] vocabOffsets) throws IOException {
    return new ImpactIndexer(new String(indexDir, StandardCharsets.UTF_8), threads, ramBufferMb,
        BulkSearcher.strings(vocab, vocabOffsets));
  }

  /**
   * Adds documents given as CSR arrays of little-endian int32 (document i: term ids
   * terms[indptr[i]..indptr[i+1]) with the positive integer impacts weights[same range]) with their
   * ids (UTF-8 strings and offsets); returns how many had terms and were added.
   */
  public int add(byte[] idBytes, byte[] idOffsets, byte[] indptrBytes, byte[] termBytes, byte[] weightBytes)
      throws IOException {
    String[] ids = BulkSearcher.strings(idBytes, idOffsets);
    int[] indptr = BulkSearcher.ints(indptrBytes);
    int[] terms = BulkSearcher.ints(termBytes);
    int[] weights = BulkSearcher.ints(weightBytes);
    if (indptr.length != ids.length + 1 || terms.length != weights.length || indptr[ids.length] != terms.length) {
      throw new IllegalArgumentException("inconsistent document arrays");
    }
    for (int j = 0; j < terms.length; j++) {
      if (terms[j] < 0 || terms[j] >= vocab.length || weights[j] < 1) {
        throw new IllegalArgumentException("term " + terms[j] + " with impact " + weights[j]
            + ": term ids index the vocabulary, impacts are positive");
      }
    }
    List<Future<Integer>> parts = new ArrayList<>();
    int step = (ids.length + threads - 1) / threads;
    for (int start = 0; start < ids.length; start += step) {
      int from = start;
      int to = Math.min(ids.length, start + step);
      parts.add(pool.submit(() -> addRange(ids, indptr, terms, weights, from, to)));
    }
    int count = 0;
    for (Future<Integer> part : parts) {
      try {
        count += part.get();
      } catch (ExecutionException e) {
        if (e.getCause() instanceof IOException) {
          throw (IOException) e.getCause();
        }
        throw new IllegalStateException(e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
    added += count;
    return count;
  }

  /** Documents added so far. */
  public long added() {
    return added;
  }

  /**
   * Merges the index into one segment (as Anserini's {@code -optimize}: a query then looks up each
   * term once and ranks in one pass, which makes single queries faster), commits it and closes it.
   */
  @Override
  public void close() throws IOException {
    pool.shutdownNow();
    try {
      writer.forceMerge(1);
      writer.commit();
      writer.close();
    } finally {
      directory.close();
    }
  }

  private int addRange(String[] ids, int[] indptr, int[] terms, int[] weights, int from, int to) throws IOException {
    ImpactTokens tokens = new ImpactTokens(vocab, terms, weights);
    int count = 0;
    for (int i = from; i < to; i++) {
      if (indptr[i] == indptr[i + 1]) {
        continue;
      }
      Document doc = new Document();
      doc.add(new StringField("id", ids[i], Field.Store.YES));
      doc.add(new BinaryDocValuesField("id", new BytesRef(ids[i])));
      tokens.range(indptr[i], indptr[i + 1]);
      doc.add(new Field("contents", tokens, CONTENTS));
      writer.addDocument(doc);
      count++;
    }
    return count;
  }

  private static FieldType contentsType() {
    FieldType type = new FieldType();
    type.setStored(false);
    type.setStoreTermVectors(false);
    type.setStoreTermVectorPositions(false);
    type.setIndexOptions(IndexOptions.DOCS_AND_FREQS);
    type.freeze();
    return type;
  }

  /** A document's terms, one token each, with its impact as the token's term frequency. */
  private static final class ImpactTokens extends TokenStream {
    private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
    private final TermFrequencyAttribute frequency = addAttribute(TermFrequencyAttribute.class);
    private final String[] vocab;
    private final int[] terms;
    private final int[] weights;
    private int next;
    private int end;

    ImpactTokens(String[] vocab, int[] terms, int[] weights) {
      this.vocab = vocab;
      this.terms = terms;
      this.weights = weights;
    }

    void range(int start, int stop) {
      next = start;
      end = stop;
    }

    @Override
    public boolean incrementToken() {
      if (next >= end) {
        return false;
      }
      clearAttributes();
      term.setEmpty().append(vocab[terms[next]]);
      frequency.setTermFrequency(weights[next]);
      next++;
      return true;
    }
  }
}
