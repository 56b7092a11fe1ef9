package lsr.lucene;

import io.anserini.analysis.DefaultEnglishAnalyzer;
import io.anserini.search.SearchCollection;
import io.anserini.search.query.BagOfWordsQueryGenerator;
import io.anserini.search.similarity.ImpactSimilarity;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TermStates;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.Collector;
import org.apache.lucene.search.CollectionStatistics;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.LeafCollector;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.Scorable;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.SmallFloat;

/**
 * Searches a batch of queries on one open Lucene index and hands the hits back as primitive arrays.
 *
 * <p>Made for lsr's Python side (through pyjnius), which calls it once per batch: the index, the
 * searcher and the thread pool are opened once and reused, queries come in as arrays (text for BM25,
 * term ids and integer impacts for impact indexes), and the hits go back as one little-endian
 * {@code byte[]} instead of one Java object per hit.
 *
 * <p>The results are those of Anserini's {@code SearchCollection} (what lsr ran before) to the bit:
 * the same query construction ({@code BagOfWordsQueryGenerator}; for impacts the clauses in the order
 * it would give the whitespace-separated, repeated-term text), the same similarity, the same top k
 * (by score, ties by external doc id, the order of {@code SearchCollection.BREAK_SCORE_TIES_BY_DOCID},
 * here from a precomputed rank of the ids: {@link TopByScoreThenId}), the same scores (those Lucene
 * recomputes for the hits, as Anserini asks, where they are not provably the floats the hits were
 * ranked by: {@link #exactSums}), the same score tie adjustment ({@code ScoreTiesAdjusterReranker}:
 * round to 4 decimals, then subtract 1e-6 per tied predecessor), and the score as the TREC run file
 * prints it ({@code %f} of the float) read back as a double.
 *
 * <p>Built by scripts/build_java.sh against the Anserini fatjar (Anserini 1.7, Lucene 9.9), whose
 * classes it runs with.
 */
public final class BulkSearcher implements Closeable {
  /** Anserini's field names (io.anserini.index.Constants). */
  private static final String ID = "id";
  private static final String CONTENTS = "contents";

  private final FSDirectory directory;
  private final DirectoryReader reader;
  private final IndexSearcher searcher;
  private final int threads;
  private final ThreadPoolExecutor pool;  // threads - 1 helpers (the caller's thread works too); null for 1
  private final Analyzer analyzer;  // BM25 only
  private final BagOfWordsQueryGenerator generator;  // BM25 only
  private final float k1;  // BM25 only
  private final float b;  // BM25 only
  private final long docCount;  // BM25 only: documents with the field
  private final float avgLength;  // BM25 only: mean document length, as Lucene computes it
  private final int maxLength;  // BM25 only: the longest document's length, as its norm encodes it
  private final String[] vocab;  // impact only
  private final AtomicReferenceArray<TermQuery> termQueries;  // impact only: per term id, built on first use
  private final int[] idRank;  // each document's place in the tie-break order (see idRanks)
  /** Search every query as Anserini does (sorted search, scores recomputed): for tests of that path. */
  private final boolean alwaysRecompute = Boolean.getBoolean("lsr.bulk.alwaysRecompute");

  private BulkSearcher(String indexDir, int threads, String k1, String b, String[] vocab) throws IOException {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.directory = FSDirectory.open(Paths.get(indexDir));
    this.reader = DirectoryReader.open(directory);
    this.searcher = new IndexSearcher(reader);
    this.threads = threads;
    if (vocab == null) {
      // The same similarity and analyzer SearchCollection builds from "-bm25 -bm25.k1 K1 -bm25.b B".
      this.k1 = Float.parseFloat(k1);
      this.b = Float.parseFloat(b);
      searcher.setSimilarity(new BM25Similarity(this.k1, this.b));
      this.analyzer = DefaultEnglishAnalyzer.fromArguments("porter", false, null);
      this.generator = new BagOfWordsQueryGenerator();
      CollectionStatistics stats = searcher.collectionStatistics(CONTENTS);
      this.docCount = stats == null ? 0 : stats.docCount();
      this.avgLength = stats == null ? 0 : (float) (stats.sumTotalTermFreq() / (double) stats.docCount());
      this.maxLength = longestDocument();
      this.vocab = null;
      this.termQueries = null;
    } else {
      searcher.setSimilarity(new ImpactSimilarity());
      this.analyzer = null;
      this.generator = null;
      this.k1 = this.b = this.avgLength = 0;
      this.docCount = 0;
      this.maxLength = 0;
      this.vocab = vocab;
      this.termQueries = new AtomicReferenceArray<>(vocab.length);
    }
    this.idRank = idRanks();
    if (threads > 1) {
      this.pool = new ThreadPoolExecutor(threads - 1, threads - 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          runnable -> {
            Thread thread = new Thread(runnable, "lsr-bulk-search");
            thread.setDaemon(true);  // never keeps the JVM (or Python's exit) waiting
            return thread;
          });
      // Idle helpers end after 30 s: a searcher dropped without close() leaves no threads behind.
      pool.allowCoreThreadTimeOut(true);
    } else {
      this.pool = null;
    }
  }

  // Strings come in as UTF-8 bytes with int32 offsets (see strings()): pyjnius passes a Python str to
  // Java in a way that mangles characters beyond U+FFFF (an emoji, say).

  /**
   * A BM25 searcher on the index in the folder whose UTF-8 path is given; k1 and b as decimal strings,
   * parsed as Anserini parses its arguments.
   */
  public static BulkSearcher bm25(byte[] indexDir, int threads, String k1, String b) throws IOException {
    return new BulkSearcher(new String(indexDir, StandardCharsets.UTF_8), threads, k1, b, null);
  }

  /** An impact searcher; term id i of a query is the index term vocab[i] (strings(): UTF-8 and offsets). */
  public static BulkSearcher impact(byte[] indexDir, int threads, byte[] vocab, byte[] vocabOffsets)
      throws IOException {
    return new BulkSearcher(new String(indexDir, StandardCharsets.UTF_8), threads, null, null,
        strings(vocab, vocabOffsets));
  }

  public int maxDoc() {
    return reader.maxDoc();
  }

  /**
   * Every document's external id (the stored "id" field), in Lucene doc id order, as UTF-8 text with
   * a newline after each id: the table that turns the doc numbers of the hits into ids.
   */
  public byte[] docIds() throws IOException {
    StoredFields stored = reader.storedFields();
    Set<String> fields = Set.of(ID);
    StringBuilder text = new StringBuilder();
    for (int doc = 0; doc < reader.maxDoc(); doc++) {
      String id = stored.document(doc, fields).get(ID);
      if (id == null || id.indexOf('\n') >= 0) {
        throw new IllegalStateException("Lucene document " + doc + " has " + (id == null
            ? "no stored \"id\" field" : "a newline in its id " + id));
      }
      text.append(id).append('\n');
    }
    return text.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Top-k hits of BM25 queries, one text each (strings(): UTF-8 and offsets; trimmed as Anserini's topic
   * reader trims them); see {@link #pack} for the answer's layout. With printed, each score as a run file
   * prints it (asPrinted), else the float Anserini's SimpleSearcher returns (ties adjusted, not printed).
   */
  public byte[] searchTexts(byte[] textBytes, byte[] textOffsets, int k, boolean printed) throws IOException {
    if (generator == null) {
      throw new IllegalStateException("this is an impact searcher: give term ids and impacts");
    }
    String[] texts = strings(textBytes, textOffsets);
    return run(texts.length, k, printed, i -> generator.buildQuery(CONTENTS, analyzer, texts[i].trim()));
  }

  /**
   * Top-k hits of impact queries given as CSR arrays of little-endian int32: query i has the term
   * ids terms[indptr[i]..indptr[i+1]) with the integer impacts weights[same range]; printed as in
   * searchTexts.
   */
  public byte[] searchImpacts(byte[] indptrBytes, byte[] termBytes, byte[] weightBytes, int k, boolean printed)
      throws IOException {
    if (vocab == null) {
      throw new IllegalStateException("this is a BM25 searcher: give query texts");
    }
    int[] indptr = ints(indptrBytes);
    int[] terms = ints(termBytes);
    int[] weights = ints(weightBytes);
    if (indptr.length == 0 || terms.length != weights.length || indptr[indptr.length - 1] != terms.length) {
      throw new IllegalArgumentException("inconsistent query arrays");
    }
    return run(indptr.length - 1, k, printed, i -> impactQuery(terms, weights, indptr[i], indptr[i + 1]));
  }

  @Override
  public void close() throws IOException {
    if (pool != null) {
      pool.shutdownNow();
    }
    try {
      reader.close();
    } finally {
      directory.close();
    }
  }

  /**
   * The BooleanQuery BagOfWordsQueryGenerator builds from the whitespace analysis of "t1 t1 t1 t2 ...":
   * its terms counted into a HashMap the way Collectors.groupingBy does (computeIfAbsent in order of
   * first appearance), one SHOULD clause per key in the map's order, boosted by the count.
   */
  private Query impactQuery(int[] terms, int[] weights, int start, int end) throws IOException {
    HashMap<String, long[]> counts = new HashMap<>();  // term -> {summed weight, term id}
    for (int j = start; j < end; j++) {
      if (weights[j] > 0) {
        int id = terms[j];
        counts.computeIfAbsent(vocab[id], term -> new long[] {0, id})[0] += weights[j];
      }
    }
    BooleanQuery.Builder builder = new BooleanQuery.Builder();
    for (long[] count : counts.values()) {
      builder.add(new BoostQuery(termQuery((int) count[1]), (float) count[0]), BooleanClause.Occur.SHOULD);
    }
    return builder.build();
  }

  /**
   * The TermQuery of a vocabulary term with its postings' places in the index looked up once (the
   * TermStates Lucene would otherwise build per query, one terms-dictionary seek per term and
   * segment): the same query, a little faster on every later use. Immutable, shared by all threads.
   */
  private TermQuery termQuery(int id) throws IOException {
    TermQuery query = termQueries.get(id);
    if (query == null) {
      Term term = new Term(CONTENTS, vocab[id]);
      query = new TermQuery(term, TermStates.build(searcher, term, true));
      termQueries.set(id, query);
    }
    return query;
  }

  private interface QueryMaker {
    Query make(int i) throws IOException;
  }

  /** Searches queries 0..n-1 on all threads (this one included) and packs the hits. */
  private byte[] run(int n, int k, boolean printed, QueryMaker queries) throws IOException {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    int[][] docs = new int[n][];
    double[][] scores = new double[n][];
    String[] errors = new String[n];
    AtomicInteger next = new AtomicInteger();
    Runnable work = () -> {
      for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
        try {
          searchOne(queries.make(i), k, printed, docs, scores, i);
        } catch (Exception e) {
          // As in SearchCollection, a query Lucene refuses (more than 1024 terms, say) gets no hits and
          // the others go on; the answer names it. Errors (a class that does not link) end the batch.
          docs[i] = new int[0];
          scores[i] = new double[0];
          errors[i] = e.toString();
        }
      }
    };
    List<Future<?>> helpers = new ArrayList<>();
    if (pool != null) {
      for (int t = 1; t < Math.min(threads, n); t++) {
        helpers.add(pool.submit(work));
      }
    }
    try {
      work.run();
    } finally {
      next.set(n);  // after an Error here the helpers stop early; either way they are waited for
      for (Future<?> helper : helpers) {
        try {
          helper.get();
        } catch (ExecutionException e) {
          if (e.getCause() instanceof Error) {
            throw (Error) e.getCause();
          }
          throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted", e);
        }
      }
    }
    return pack(docs, scores, errors);
  }

  private void searchOne(Query query, int k, boolean printed, int[][] docs, double[][] scores, int i)
      throws IOException {
    // Anserini's hits: the top k by score, ties by external doc id, which its sort reads per candidate
    // hit (and it must keep scoring the candidates that tie with the k-th, however many BM25's long tails
    // of equal scores hold). TopByScoreThenId ranks the same way with a precomputed rank of the ids.
    TopByScoreThenId top = new TopByScoreThenId(Math.min(k, Math.max(1, reader.maxDoc())));
    searcher.search(query, top);
    top.finish();
    int[] hitDocs = top.hitDocs;
    float[] hitScores = top.hitScores;
    // Anserini also asks Lucene to recompute the hits' scores (doDocScores), which costs about as much
    // again as the search. The recomputed score sums the same float term scores as the one the hits were
    // ranked by, in double, in another order; when every such sum is exact, the two are the same float
    // (see exactSums). When not, Anserini's own search decides (and so the hits too).
    if (hitScores.length > 0 && (alwaysRecompute || !exactSums(query, hitScores[0]))) {
      ScoreDoc[] hits = searcher.search(query, k, SearchCollection.BREAK_SCORE_TIES_BY_DOCID, true).scoreDocs;
      hitDocs = new int[hits.length];
      hitScores = new float[hits.length];
      for (int j = 0; j < hits.length; j++) {
        hitDocs[j] = hits[j].doc;
        hitScores[j] = hits[j].score;
      }
    }
    adjustTies(hitScores);
    double[] values = printed ? asPrinted(hitScores) : widen(hitScores);
    keepRunFileOrder(hitDocs, values);
    docs[i] = hitDocs;
    scores[i] = values;
  }

  /**
   * Each document's place in the order BREAK_SCORE_TIES_BY_DOCID breaks ties by: the "id" doc value
   * (STRING_VAL: its bytes compared unsigned, as Lucene's TermValComparator reads them with
   * DocValues.getBinary; no value first), then the doc number.
   */
  private int[] idRanks() throws IOException {
    int maxDoc = reader.maxDoc();
    byte[][] keys = new byte[maxDoc][];
    for (LeafReaderContext leaf : reader.leaves()) {
      BinaryDocValues values = DocValues.getBinary(leaf.reader(), ID);
      for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
        BytesRef value = values.binaryValue();
        keys[leaf.docBase + doc] = Arrays.copyOfRange(value.bytes, value.offset, value.offset + value.length);
      }
    }
    Integer[] order = new Integer[maxDoc];
    for (int doc = 0; doc < maxDoc; doc++) {
      order[doc] = doc;
    }
    Arrays.sort(order, (x, y) -> {
      if (keys[x] == null || keys[y] == null) {
        return keys[x] != null ? 1 : keys[y] != null ? -1 : Integer.compare(x, y);
      }
      int byKey = Arrays.compareUnsigned(keys[x], keys[y]);
      return byKey != 0 ? byKey : Integer.compare(x, y);
    });
    int[] rank = new int[maxDoc];
    for (int place = 0; place < maxDoc; place++) {
      rank[order[place]] = place;
    }
    return rank;
  }

  /**
   * Whether every document's score, up to topScore (the best hit's), is an exact sum of its term scores
   * in double, whatever the order of the terms. Lucene (9.9) sums the float term scores of a disjunction
   * in double (MaxScoreBulkScorer, WANDScorer, DisjunctionSumScorer, BooleanScorer) and rounds the total
   * to float. Term scores that are all multiples of 2^(e-23), e the exponent of the smallest, add up
   * exactly in double below 2^(e+30); then every order gives the same total, and the same float.
   *
   * <p>Impact: term scores are integers (query weight x document impact), exact below 2^24. BM25: the
   * smallest term score any document can have is bounded from below by the term statistics and the
   * longest document (smallestTermScore); the check asks topScore to be 2^29 times below it, with room
   * for rounding.
   */
  private boolean exactSums(Query query, float topScore) throws IOException {
    if (vocab != null) {
      return topScore >= 0 && topScore < 0x1p24f;
    }
    double smallest = smallestTermScore(query);
    return topScore >= 0 && topScore * (1 + 0x1p-20) < 0.99 * smallest * 0x1p29;
  }

  /**
   * A lower bound of the BM25 score of any query term in any document that has it: freq 1 in the
   * longest document, weight boost x idf as in BM25Similarity. 0 (no bound) when the query is not the
   * disjunction of (boosted) terms BagOfWordsQueryGenerator makes.
   */
  private double smallestTermScore(Query query) throws IOException {
    if (!(query instanceof BooleanQuery) || docCount == 0) {
      return 0;
    }
    // normInverse of the longest document: BM25's term score is weight * (1 - 1 / (1 + freq * normInverse)).
    double normInverse = 1.0 / (k1 * ((1 - b) + b * maxLength / avgLength));
    double smallest = Double.POSITIVE_INFINITY;
    for (BooleanClause clause : ((BooleanQuery) query).clauses()) {
      if (clause.getOccur() != BooleanClause.Occur.SHOULD) {
        return 0;
      }
      Query term = clause.getQuery();
      double boost = 1;
      if (term instanceof BoostQuery) {
        boost = ((BoostQuery) term).getBoost();
        term = ((BoostQuery) term).getQuery();
      }
      if (!(term instanceof TermQuery) || !(boost > 0)) {
        return 0;
      }
      long docFreq = reader.docFreq(((TermQuery) term).getTerm());
      if (docFreq > 0) {
        double idf = Math.log(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5));
        smallest = Math.min(smallest, boost * idf * (1 - 1 / (1 + normInverse)));
      }
    }
    return smallest;
  }

  /** The longest document's length in the field, as its norm encodes it (what BM25 scores with). */
  private int longestDocument() throws IOException {
    int longest = 0;
    for (LeafReaderContext leaf : reader.leaves()) {
      NumericDocValues norms = leaf.reader().getNormValues(CONTENTS);
      if (norms != null) {
        for (int doc = norms.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = norms.nextDoc()) {
          longest = Math.max(longest, SmallFloat.byte4ToInt((byte) norms.longValue()));
        }
      }
    }
    return longest;
  }

  /**
   * The top k documents by score, ties by id rank (idRank: the order of BREAK_SCORE_TIES_BY_DOCID), in
   * one pass: a heap of the k best so far whose worst score goes to the scorer as the minimum
   * competitive score (documents below it may be skipped; those level with it may still win on id).
   */
  private final class TopByScoreThenId implements Collector {
    private final int k;
    private final float[] heapScore;  // heap[0] is the worst hit kept: lowest score, then highest rank
    private final int[] heapRank;
    private final int[] heapDoc;
    private int size;

    TopByScoreThenId(int k) {
      this.k = k;
      heapScore = new float[k];
      heapRank = new int[k];
      heapDoc = new int[k];
    }

    @Override
    public ScoreMode scoreMode() {
      return ScoreMode.TOP_SCORES;
    }

    @Override
    public LeafCollector getLeafCollector(LeafReaderContext context) {
      int docBase = context.docBase;
      return new LeafCollector() {
        private Scorable scorer;

        @Override
        public void setScorer(Scorable scorer) throws IOException {
          this.scorer = scorer;
          if (size == k) {
            scorer.setMinCompetitiveScore(heapScore[0]);
          }
        }

        @Override
        public void collect(int doc) throws IOException {
          float score = scorer.score();
          int global = docBase + doc;
          int rank = idRank[global];
          if (size < k) {
            heapScore[size] = score;
            heapRank[size] = rank;
            heapDoc[size] = global;
            up(size++);
            if (size == k) {
              scorer.setMinCompetitiveScore(heapScore[0]);
            }
          } else if (worse(heapScore[0], heapRank[0], score, rank)) {
            float bottom = heapScore[0];
            heapScore[0] = score;
            heapRank[0] = rank;
            heapDoc[0] = global;
            down(0, size);
            if (heapScore[0] > bottom) {
              scorer.setMinCompetitiveScore(heapScore[0]);
            }
          }
        }
      };
    }

    /** The hits (doc numbers) and their scores, best first, once finish() has emptied the heap. */
    int[] hitDocs;
    float[] hitScores;

    void finish() {
      hitDocs = new int[size];
      hitScores = new float[size];
      for (int n = size; n > 0; n--) {  // take the worst off the heap until it is empty
        hitDocs[n - 1] = heapDoc[0];
        hitScores[n - 1] = heapScore[0];
        swap(0, n - 1);
        down(0, n - 1);
      }
      size = 0;
    }

    /** Whether hit (s1, r1) ranks below hit (s2, r2). */
    private boolean worse(float s1, int r1, float s2, int r2) {
      return s1 < s2 || (s1 == s2 && r1 > r2);
    }

    private boolean worse(int a, int b) {
      return worse(heapScore[a], heapRank[a], heapScore[b], heapRank[b]);
    }

    private void up(int j) {
      while (j > 0 && worse(j, (j - 1) / 2)) {
        swap(j, (j - 1) / 2);
        j = (j - 1) / 2;
      }
    }

    private void down(int j, int n) {
      while (true) {
        int worst = j;
        int left = 2 * j + 1;
        if (left < n && worse(left, worst)) {
          worst = left;
        }
        if (left + 1 < n && worse(left + 1, worst)) {
          worst = left + 1;
        }
        if (worst == j) {
          return;
        }
        swap(j, worst);
        j = worst;
      }
    }

    private void swap(int a, int b) {
      float score = heapScore[a];
      heapScore[a] = heapScore[b];
      heapScore[b] = score;
      int rank = heapRank[a];
      heapRank[a] = heapRank[b];
      heapRank[b] = rank;
      int doc = heapDoc[a];
      heapDoc[a] = heapDoc[b];
      heapDoc[b] = doc;
    }
  }

  /**
   * Anserini's ScoreTiesAdjusterReranker, operation for operation in float: round each score to 4
   * decimals, then lower each score within 1e-4 of its (adjusted) predecessor by 1e-6 per tied
   * predecessor, so that ties keep their order in a run file sorted by score.
   */
  static void adjustTies(float[] scores) {
    int dup = 0;
    for (int i = 0; i < scores.length; i++) {
      scores[i] = (float) (Math.round((double) scores[i] * 10000.0) / 10000.0);
      if (i == 0 || scores[i - 1] - scores[i] > 1.0e-4f) {
        dup = 0;
      } else {
        dup++;
        scores[i] -= 1.0e-6f * dup;
      }
    }
  }

  /**
   * Each score as the run file has it: Anserini writes String.format(Locale.US, "%f", score), six
   * decimals of the float's decimal digits rounded half up; this is that text read back as a double.
   * Away from a rounding tie that is the nearest integer of score * 1e6 divided by 1e6 (both exact to
   * well under 1e-3 of a unit there); near one (and for huge scores) the text itself is made.
   */
  public static double[] asPrinted(float[] scores) {
    double[] printed = new double[scores.length];
    for (int i = 0; i < scores.length; i++) {
      double scaled = (double) scores[i] * 1e6;
      double fraction = scaled - Math.floor(scaled);
      if (Math.abs(scaled) < 1e12 && Math.abs(fraction - 0.5) > 1e-3) {
        printed[i] = Math.rint(scaled) / 1e6;
      } else {
        printed[i] = Double.parseDouble(String.format(Locale.US, "%f", scores[i]));
      }
    }
    return printed;
  }

  private static double[] widen(float[] scores) {
    double[] wide = new double[scores.length];
    for (int i = 0; i < scores.length; i++) {
      wide[i] = scores[i];
    }
    return wide;
  }

  /**
   * lsr reads a run file sorted by score, ties in file order. The adjusted scores already fall (or
   * stay level) with the rank, so this only checks; should one ever rise it sorts the same way.
   */
  private static void keepRunFileOrder(int[] docs, double[] scores) {
    boolean sorted = true;
    for (int j = 1; j < scores.length && sorted; j++) {
      sorted = scores[j] <= scores[j - 1];
    }
    if (sorted) {
      return;
    }
    Integer[] order = new Integer[scores.length];
    for (int j = 0; j < order.length; j++) {
      order[j] = j;
    }
    Arrays.sort(order, (x, y) -> Double.compare(scores[y], scores[x]));  // stable: ties keep rank
    int[] sortedDocs = new int[docs.length];
    double[] sortedScores = new double[scores.length];
    for (int j = 0; j < order.length; j++) {
      sortedDocs[j] = docs[order[j]];
      sortedScores[j] = scores[order[j]];
    }
    System.arraycopy(sortedDocs, 0, docs, 0, docs.length);
    System.arraycopy(sortedScores, 0, scores, 0, scores.length);
  }

  /**
   * The answer, little-endian: int32 total (hits), int32 failed (queries); float64 scores[total], int32
   * docs[total], int32 counts[n] (hits per query, in query order); then per failed query int32 query
   * number, int32 length, that many bytes of UTF-8 error message. Doc numbers index {@link #docIds}.
   */
  private static byte[] pack(int[][] docs, double[][] scores, String[] errors) {
    int total = 0;
    for (int[] d : docs) {
      total += d.length;
    }
    int failed = 0;
    int errorBytes = 0;
    byte[][] messages = new byte[errors.length][];
    for (int i = 0; i < errors.length; i++) {
      if (errors[i] != null) {
        messages[i] = errors[i].getBytes(StandardCharsets.UTF_8);
        failed++;
        errorBytes += 8 + messages[i].length;
      }
    }
    ByteBuffer out = ByteBuffer.allocate(8 + 12 * total + 4 * docs.length + errorBytes).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(total).putInt(failed);
    for (double[] s : scores) {
      out.asDoubleBuffer().put(s);
      out.position(out.position() + 8 * s.length);
    }
    for (int[] d : docs) {
      out.asIntBuffer().put(d);
      out.position(out.position() + 4 * d.length);
    }
    for (int[] d : docs) {
      out.putInt(d.length);
    }
    for (int i = 0; i < messages.length; i++) {
      if (messages[i] != null) {
        out.putInt(i).putInt(messages[i].length).put(messages[i]);
      }
    }
    return out.array();
  }

  /** Strings i = 0..n-1 of UTF-8 text: bytes[offsets[i]..offsets[i+1]), offsets as little-endian int32. */
  static String[] strings(byte[] bytes, byte[] offsetBytes) {
    int[] offsets = ints(offsetBytes);
    if (offsets.length == 0 || offsets[offsets.length - 1] != bytes.length) {
      throw new IllegalArgumentException("inconsistent string offsets");
    }
    String[] strings = new String[offsets.length - 1];
    for (int i = 0; i < strings.length; i++) {
      strings[i] = new String(bytes, offsets[i], offsets[i + 1] - offsets[i], StandardCharsets.UTF_8);
    }
    return strings;
  }

  static int[] ints(byte[] bytes) {
    if (bytes.length % 4 != 0) {
      throw new IllegalArgumentException("int32 array of " + bytes.length + " bytes");
    }
    int[] values = new int[bytes.length / 4];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(values);
    return values;
  }
}
