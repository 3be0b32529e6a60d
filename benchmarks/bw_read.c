/* bw_read.c - streaming read bandwidth with 1..N threads (one JSON line).
 *
 *   cc -O2 -march=native -pthread benchmarks/bw_read.c -o bw_read
 *   bw_read [--threads 1,2] [--streams 1,2,4,8] [--prefetch 0,2048,8192] [--mb 256] [--reps 7]
 *
 * Each thread sums its own contiguous slice of one buffer (--mb MiB, far beyond the last-level
 * cache), cut into S equal parts read in lockstep (S concurrent streams: one core's bandwidth is
 * bounded by the misses it keeps in flight, and one sequential stream leaves it well short, e.g.
 * ~14 GB/s with 1 stream and ~26 GB/s with 4 on a Zen core; a GEMV over several weight rows or
 * packed panels is several streams). Each stream may also issue a software prefetch P bytes ahead
 * of its loads (--prefetch; 0: none): bmc's GEMV kernels prefetch their weight stream, and a
 * probe without prefetch read ~10-15% slower than they stream on a Zen 5 core, so the roofline
 * would have been above 100%. Pages are first touched by the thread that later reads them.
 * Per thread count and (S, P), the median of --reps passes; reported per thread count: the best
 * median ("read_gb_s_Nthread", the roofline figure), its S and P, and the best single pass.
 * GB = 1e9 B.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static float *buf;
static size_t nfloats;

typedef struct {
  pthread_barrier_t *start, *done;
  int id, nthreads, reps, streams, prefetch; /* prefetch: floats ahead, 0 = none */
  double *t0, *t1; /* per pass: this thread's start and end (its own clock reads) */
  volatile float sink;
} worker_t;

static double now(void);

static void slice(int id, int n, size_t *b, size_t *e) {
  size_t per = (nfloats / (size_t)n) & ~(size_t)255;
  *b = per * (size_t)id;
  *e = *b + per;
}

/* Sums [b, e) as `streams` equal parts read in lockstep, 16 floats (one 64-byte line) per part per step,
 * each part prefetching `prefetch` floats ahead when that is not 0 (a prefetch past the part's end
 * reads the next part or stays inside the buffer's slack: harmless, prefetches never fault). */
static float sum_range(size_t b, size_t e, int streams, int prefetch) {
  size_t part = ((e - b) / (size_t)streams) & ~(size_t)15;
  __m256 acc[16];
  for (int s = 0; s < streams; ++s) acc[s] = _mm256_setzero_ps();
  if (prefetch == 0) {
    for (size_t i = 0; i < part; i += 16)
      for (int s = 0; s < streams; ++s) {
        const float *p = buf + b + (size_t)s * part + i;
        acc[s] = _mm256_add_ps(acc[s], _mm256_add_ps(_mm256_load_ps(p), _mm256_load_ps(p + 8)));
      }
  } else {
    for (size_t i = 0; i < part; i += 16)
      for (int s = 0; s < streams; ++s) {
        const float *p = buf + b + (size_t)s * part + i;
        _mm_prefetch((const char *)(p + prefetch), _MM_HINT_T0);
        acc[s] = _mm256_add_ps(acc[s], _mm256_add_ps(_mm256_load_ps(p), _mm256_load_ps(p + 8)));
      }
  }
  float out[8], total = 0;
  for (int s = 0; s < streams; ++s) {
    _mm256_storeu_ps(out, acc[s]);
    total += out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
  }
  return total;
}

static void *run(void *p) {
  worker_t *w = (worker_t *)p;
  size_t b, e;
  slice(w->id, w->nthreads, &b, &e);
  for (int r = 0; r < w->reps; ++r) {
    pthread_barrier_wait(w->start);
    w->t0[r] = now();
    w->sink += sum_range(b, e, w->streams, w->prefetch);
    w->t1[r] = now();
    pthread_barrier_wait(w->done);
  }
  return NULL;
}

static void *touch(void *p) {
  worker_t *w = (worker_t *)p;
  size_t b, e;
  slice(w->id, w->nthreads, &b, &e);
  for (size_t i = b; i < e; ++i) buf[i] = 1.0f;
  return NULL;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *threads = "1,2", *streamList = "1,2,4,8", *prefetchList = "0,2048,8192";
  size_t mb = 256;
  int reps = 7;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = argv[++i];
    else if (!strcmp(argv[i], "--streams") && i + 1 < argc) streamList = argv[++i];
    else if (!strcmp(argv[i], "--prefetch") && i + 1 < argc) prefetchList = argv[++i];
    else if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bw_read [--threads 1,2] [--streams 1,2,4,8] [--prefetch 0,2048,8192] [--mb 256] [--reps 7]\n");
      return 2;
    }
  }
  if (mb < 64 || reps < 1 || reps > 1000) {
    fprintf(stderr, "bw_read: need --mb >= 64 (beyond the last-level cache) and 1 <= --reps <= 1000\n");
    return 2;
  }
  nfloats = mb << 20 >> 2;
  if (posix_memalign((void **)&buf, 64, nfloats * sizeof(float))) {
    fprintf(stderr, "bw_read: cannot allocate %zu MiB\n", mb);
    return 1;
  }
  int maxThreads = 0;
  for (const char *s = threads; *s;) {
    int t = atoi(s);
    if (t < 1 || t > 256) { fprintf(stderr, "bw_read: bad --threads '%s'\n", threads); return 2; }
    if (t > maxThreads) maxThreads = t;
    s = strchr(s, ',');
    if (!s) break;
    ++s;
  }
  { /* first touch, spread like the widest run */
    pthread_t th[256];
    worker_t w[256];
    for (int i = 0; i < maxThreads; ++i) {
      w[i].id = i; w[i].nthreads = maxThreads;
      pthread_create(&th[i], NULL, touch, &w[i]);
    }
    for (int i = 0; i < maxThreads; ++i) pthread_join(th[i], NULL);
  }
  for (const char *s = streamList; *s;) {
    int k = atoi(s);
    if (k < 1 || k > 16) { fprintf(stderr, "bw_read: --streams values must be 1..16, found '%s'\n", streamList); return 2; }
    s = strchr(s, ',');
    if (!s) break;
    ++s;
  }
  for (const char *s = prefetchList; *s;) {
    long k = atol(s);
    if (k < 0 || k > 65536 || k % 64) {
      fprintf(stderr, "bw_read: --prefetch values must be multiples of 64 bytes in 0..65536, found '%s'\n", prefetchList);
      return 2;
    }
    s = strchr(s, ',');
    if (!s) break;
    ++s;
  }
  printf("{\"buffer_mib\": %zu, \"reps\": %d", mb, reps);
  double *sec = malloc(sizeof(double) * (size_t)reps);
  for (const char *s = threads; *s;) {
    int n = atoi(s);
    size_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      size_t b, e;
      slice(i, n, &b, &e);
      bytes += (e - b) * sizeof(float);
    }
    double bestMedian = 0, bestPass = 0;
    int bestStreams = 0, bestPrefetch = 0;
    printf(", \"per_streams_%dthread\": {", n);
    int first = 1;
    for (const char *q = streamList; *q;) {
      int streams = atoi(q);
      for (const char *f = prefetchList; *f;) {
        int prefetchBytes = atoi(f);
        pthread_barrier_t start, done;
        pthread_barrier_init(&start, NULL, (unsigned)n + 1);
        pthread_barrier_init(&done, NULL, (unsigned)n + 1);
        pthread_t th[256];
        worker_t w[256];
        for (int i = 0; i < n; ++i) {
          w[i].start = &start; w[i].done = &done; w[i].id = i; w[i].nthreads = n; w[i].reps = reps + 1;
          w[i].streams = streams; w[i].prefetch = prefetchBytes / (int)sizeof(float); w[i].sink = 0;
          w[i].t0 = malloc(sizeof(double) * (size_t)(reps + 1));
          w[i].t1 = malloc(sizeof(double) * (size_t)(reps + 1));
          pthread_create(&th[i], NULL, run, &w[i]);
        }
        for (int r = 0; r < reps + 1; ++r) {
          pthread_barrier_wait(&start);
          pthread_barrier_wait(&done);
        }
        for (int i = 0; i < n; ++i) pthread_join(th[i], NULL);
        /* A pass lasts from the first thread's start to the last thread's end; pass 0 warms up. */
        for (int r = 1; r < reps + 1; ++r) {
          double a = w[0].t0[r], z = w[0].t1[r];
          for (int i = 1; i < n; ++i) {
            if (w[i].t0[r] < a) a = w[i].t0[r];
            if (w[i].t1[r] > z) z = w[i].t1[r];
          }
          sec[r - 1] = z - a;
        }
        for (int i = 0; i < n; ++i) { free(w[i].t0); free(w[i].t1); }
        pthread_barrier_destroy(&start);
        pthread_barrier_destroy(&done);
        qsort(sec, (size_t)reps, sizeof(double), cmp);
        double median = (double)bytes / sec[reps / 2] / 1e9, best = (double)bytes / sec[0] / 1e9;
        /* key "S" without prefetch (as before), "S+P" with a prefetch of P bytes */
        if (prefetchBytes) printf("%s\"%d+%d\": %.3f", first ? "" : ", ", streams, prefetchBytes, median);
        else printf("%s\"%d\": %.3f", first ? "" : ", ", streams, median);
        first = 0;
        if (median > bestMedian) { bestMedian = median; bestStreams = streams; bestPrefetch = prefetchBytes; }
        if (best > bestPass) bestPass = best;
        f = strchr(f, ',');
        if (!f) break;
        ++f;
      }
      q = strchr(q, ',');
      if (!q) break;
      ++q;
    }
    printf("}, \"read_gb_s_%dthread\": %.3f, \"streams_%dthread\": %d, \"prefetch_bytes_%dthread\": %d, "
           "\"read_gb_s_%dthread_best\": %.3f", n, bestMedian, n, bestStreams, n, bestPrefetch, n, bestPass);
    s = strchr(s, ',');
    if (!s) break;
    ++s;
  }
  free(sec);
  printf("}\n");
  free(buf);
  return 0;
}
