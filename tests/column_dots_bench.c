/* column_dots.h without Python: the dot-product kernel for C of one to four columns, timed.
 *
 * For the instruction set the flags name (a kernel variant's: setup.py's ISA_FLAGS), from
 * the repository's root:
 *
 *     cc -O3 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -falign-loops=32 \
 *         -I fastsig/_kernels tests/column_dots_bench.c -o /tmp/column_dots_bench
 *     /tmp/column_dots_bench N K          # float32: C (N x m) = x (N x K) @ w, m = 1..4
 *     /tmp/column_dots_bench N K double   # float64
 *
 * Prints the best of 200 calls for each m, x and w's columns already in place (gemm.pxi
 * copies w's columns first), with several rows a step and with one (one_row: N x K large
 * enough to leave the caches shows the difference): the kernel alone, for comparing how
 * it keeps its vectors in registers and how many rows share a step (docs/performance.md,
 * "A few columns: dot products along each row", "An x from memory: one row a step"). Each
 * result is checked against plain loops in double within the products' bound, and the
 * two forms for the same bits; exit status 1 when one fails, 2 when the flags give no
 * AVX2 and FMA (there is no kernel then). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "column_dots.h"

#if FASTSIG_COLUMN_DOTS

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define BENCH(T, SUFFIX, EPS)                                                              \
static int bench_##SUFFIX(long n, long k) {                                                \
    int m, bad = 0;                                                                        \
    for (m = 1; m <= FASTSIG_COLUMN_DOTS_MAX_COLUMNS; m++) {                               \
        T* x = malloc(sizeof(T) * n * k);                                                  \
        T* wt = malloc(sizeof(T) * m * k);                                                 \
        T* y = malloc(sizeof(T) * n * m);                                                  \
        T* y1 = malloc(sizeof(T) * n * m);                                                 \
        double best = 1e30, best1 = 1e30;                                                  \
        long i, p;                                                                         \
        int j, r;                                                                          \
        for (i = 0; i < n * k; i++)                                                        \
            x[i] = (T)((i * 7919 % 2001) - 1000) / 1000;                                   \
        for (i = 0; i < m * k; i++)                                                        \
            wt[i] = (T)((i * 104729 % 2001) - 1000) / 1000;                                \
        for (r = 0; r < 200; r++) {                                                        \
            double t = now();                                                              \
            fastsig_column_dots_##SUFFIX(n, k, m, x, wt, NULL, y, 0);                      \
            t = now() - t;                                                                 \
            if (t < best)                                                                  \
                best = t;                                                                  \
            t = now();                                                                     \
            fastsig_column_dots_##SUFFIX(n, k, m, x, wt, NULL, y1, 1);                     \
            t = now() - t;                                                                 \
            if (t < best1)                                                                 \
                best1 = t;                                                                 \
        }                                                                                  \
        if (memcmp(y, y1, sizeof(T) * n * m) != 0)  /* one_row: the same sums */           \
            bad = 1;                                                                       \
        for (i = 0; i < n; i++)                                                            \
            for (j = 0; j < m; j++) {                                                      \
                double exact = 0, size = 0;                                                \
                for (p = 0; p < k; p++) {                                                  \
                    exact += (double)x[i * k + p] * wt[j * k + p];                         \
                    size += fabs((double)x[i * k + p] * wt[j * k + p]);                    \
                }                                                                          \
                if (fabs(y[i * m + j] - exact) > 2 * k * (EPS) * size + 1e-300)            \
                    bad = 1;                                                               \
            }                                                                              \
        printf("%s %ldx%ldx%d: %.2f us, %.1f GFLOP/s; one row a step %.2f us\n", #T, n,  \
               k, m, best * 1e6, 2.0 * n * k * m / best * 1e-9, best1 * 1e6);             \
        free(x);                                                                           \
        free(y1);                                                                          \
        free(wt);                                                                          \
        free(y);                                                                           \
    }                                                                                      \
    return bad;                                                                            \
}

BENCH(float, F32, 0x1p-24)
BENCH(double, F64, 0x1p-53)

int main(int argc, char** argv) {
    long n, k;
    int bad;
    if (argc < 3) {
        fprintf(stderr, "usage: %s N K [double]\n", argv[0]);
        return 2;
    }
    n = atol(argv[1]);
    k = atol(argv[2]);
    bad = argc > 3 ? bench_F64(n, k) : bench_F32(n, k);
    if (bad)
        printf("a result outside the products' bound\n");
    return bad;
}

#else

int main(void) {
    fprintf(stderr, "column_dots.h needs AVX2 and FMA: build with a variant's flags\n");
    return 2;
}

#endif
