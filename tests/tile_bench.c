/* fastsig's C tiles without Python: each is checked against plain loops, then timed.
 *
 * One dtype per build (float32, or float64 with -DBENCH_DOUBLE), for the instruction set
 * the flags name (those of a kernel variant: setup.py's ISA_FLAGS), from the repository's
 * root:
 *
 *     cc -O3 -mavx2 -mfma -I fastsig/_kernels tests/tile_bench.c -o /tmp/tile_bench
 *     /tmp/tile_bench           # check, then time each tile for about 0.3 s: GF/s
 *     /tmp/tile_bench --check   # check only (tests/test_c_kernels.py runs this)
 *     /tmp/tile_bench --product N K M KC NC   # the register tile in a product's loops
 *
 * --product times C (N x M) = A (N x K) @ B (K x M) with both operands packed once, the
 * loops of gemm.pxi's register-tile task around the tile (depth blocks of KC; column
 * blocks of NC; each MR-row panel of A against each NR-column panel of B; C added into
 * after the first depth block): the tile with B's block streaming from L2 and C from
 * beyond it, without the packing, for comparing a tile's shape, KC and NC on a CPU
 * (docs/performance.md, "The GEMM core on an Intel Xeon"). N, M are rounded down to
 * whole tiles.
 *
 * Add -DBENCH_DOUBLE for float64. A tile of another shape is tried by editing the table
 * in fastsig/_kernels/isa.h. Exit status 1 when a tile's result is outside the error
 * bound of its products (2·kc·u·Σ|a||b|), 2 when built without vector extensions (there
 * are no C tiles then). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "column_sums.h"
#include "register_tile.h"
#include "vector_tile.h"

#ifdef BENCH_DOUBLE
typedef double T;
#define SUFFIX F64
#define DTYPE "float64"
#define UNIT_ROUNDOFF 0x1p-53
#else
typedef float T;
#define SUFFIX F32
#define DTYPE "float32"
#define UNIT_ROUNDOFF 0x1p-24
#endif

#define KERNEL(name) FASTSIG_CAT(name, SUFFIX)
#define MR FASTSIG_CAT(FASTSIG_MR_, SUFFIX)
#define NR FASTSIG_CAT(FASTSIG_NR_, SUFFIX)
#define LANES FASTSIG_CAT(FASTSIG_LANES_, SUFFIX)
#define MRV1 FASTSIG_CAT(FASTSIG_MRV1_, SUFFIX)
#define KC 256
#define MAX_ROWS 512

static T a[MAX_ROWS * KC], b[KC * 2 * 32 + 64], c[MAX_ROWS * 64], ref[MAX_ROWS * 64];
static double bound[MAX_ROWS * 64];

static T uniform(void) { return (T)(rand() / (double)RAND_MAX * 2.0 - 1.0); }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* ref[i, j] = sum_p A(i, p) B(p, j), in double, and its error bound for T. */
static void reference(int rows, int cols, int kc, ptrdiff_t a_rs, ptrdiff_t a_cs,
                      ptrdiff_t ldb) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double sum = 0, abs_sum = 0;
            for (int p = 0; p < kc; p++) {
                double term = (double)a[i * a_rs + p * a_cs] * b[p * ldb + j];
                sum += term;
                abs_sum += term < 0 ? -term : term;
            }
            ref[i * cols + j] = (T)sum;
            bound[i * cols + j] = 2.0 * (kc + 1) * UNIT_ROUNDOFF * abs_sum;
        }
}

static int compare(const char* tile, int rows, int cols) {
    for (int i = 0; i < rows * cols; i++) {
        double err = (double)c[i] - (double)ref[i];
        if (!(err <= bound[i] && -err <= bound[i])) {
            printf("%s %s: element %d is %.9g, exact %.9g\n", DTYPE, tile, i, (double)c[i],
                   (double)ref[i]);
            return 1;
        }
    }
    return 0;
}

static void report(const char* tile, double flops_per_call, void (*call)(void), double seconds) {
    long calls = 0;
    double start = now(), elapsed;
    do {
        for (int r = 0; r < 100; r++)
            call();
        calls += 100;
        elapsed = now() - start;
    } while (elapsed < seconds);
    printf("%-8s %-40s %7.1f GF/s\n", DTYPE, tile, flops_per_call * calls / elapsed * 1e-9);
}

/* The register tile, A packed (MR x KC), B packed (KC x NR): one whole tile. */
static void register_tile(void) {
    KERNEL(fastsig_register_tile_)(KC, a, b, c, NR, MR, NR, 0, NULL);
}

/* The vector tile one vector wide, A read in place (MRV1 rows of KC). */
static void vector_tile(void) {
    KERNEL(fastsig_vector_tile_one_)(KC, a, KC, 1, b, c, LANES, MRV1, LANES, 0, NULL, 0, NULL, 0);
}

/* db and dw of a layer of 8 inputs and LANES outputs over 512 rows (in cache: no fetch). */
static void column_sums(void) {
    KERNEL(fastsig_column_sums_)(MAX_ROWS, 8, a, 8, b, LANES, c, c + 8 * LANES, 0);
}

/* Memory for `count` values of T, 64-byte aligned (its size a multiple of 64, as
   aligned_alloc wants), or NULL. */
static T* block_of(size_t count) {
    return aligned_alloc(64, (sizeof(T) * count + 127) / 64 * 64);
}

/* --product: the best of the calls made in about a second, as GF/s. NC is rounded down
   to whole panels of NR columns, at most M's. */
static int product(int n, int k, int m, int kc_max, int nc) {
    int panels = m / NR, row_panels = n / MR, calls = 0;
    double best = 1e30, start = now();
    T *ap, *bp, *cp;
    nc = (nc < panels * NR ? nc : panels * NR) / NR * NR;
    if (panels < 1 || row_panels < 1 || k < 1 || kc_max < 1 || nc < NR) {
        printf("--product N K M KC NC: N >= %d (MR), M and NC >= %d (NR), K, KC >= 1\n",
               MR, NR);
        return 1;
    }
    ap = block_of((size_t)n * k);
    bp = block_of((size_t)k * m);
    cp = block_of((size_t)n * m);
    if (!ap || !bp || !cp) {
        printf("--product: no memory for the operands\n");
        free(ap);
        free(bp);
        free(cp);
        return 1;
    }
    for (size_t i = 0; i < (size_t)n * k; i++) ap[i] = uniform();
    for (size_t i = 0; i < (size_t)k * m; i++) bp[i] = uniform();
    do {
        double t = now();
        for (int pc = 0; pc < k; pc += kc_max) {
            int kc = k - pc < kc_max ? k - pc : kc_max;
            const T* a_block = ap + (size_t)pc * row_panels * MR;  /* MR-row panels, kc deep */
            const T* b_block = bp + (size_t)pc * panels * NR;      /* NR-column panels */
            for (int jc = 0; jc < panels * NR; jc += nc)
                for (int ib = 0; ib < row_panels; ib++)
                    for (int jr = jc; jr < jc + nc && jr < panels * NR; jr += NR)
                        KERNEL(fastsig_register_tile_)(
                            kc, a_block + (size_t)ib * MR * kc,
                            b_block + (size_t)(jr / NR) * kc * NR,
                            cp + (size_t)ib * MR * m + jr, m, MR, NR, pc > 0, NULL);
        }
        t = now() - t;
        best = t < best ? t : best;
        calls++;
    } while (now() - start < 1.0 || calls < 3);
    printf("%-8s register tile %dx%d in %dx%dx%d, KC %d, NC %d: %.1f GF/s\n", DTYPE, MR, NR,
           row_panels * MR, k, panels * NR, kc_max, nc,
           2.0 * row_panels * MR * (double)k * panels * NR / best * 1e-9);
    free(ap);
    free(bp);
    free(cp);
    return 0;
}

int main(int argc, char** argv) {
    int check_only = argc > 1 && strcmp(argv[1], "--check") == 0;
    if (argc > 1 && strcmp(argv[1], "--product") == 0) {
        if (argc != 7) {
            printf("usage: %s --product N K M KC NC\n", argv[0]);
            return 1;
        }
        return product(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                       atoi(argv[6]));
    }
    int failed = 0;
    if (!FASTSIG_VECTOR_TILE) {
        printf("built without vector extensions: no C tiles\n");
        return 2;
    }
    srand(1);
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        a[i] = uniform();
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        b[i] = uniform();

    memset(c, 0, sizeof c);
    register_tile();
    reference(MR, NR, KC, 1, MR, NR);
    failed |= compare("register tile", MR, NR);

    memset(c, 0, sizeof c);
    vector_tile();
    reference(MRV1, LANES, KC, KC, 1, LANES);
    failed |= compare("vector tile", MRV1, LANES);

    /* Column sums: dw = xᵀ dy (x: 512 x 8 in a, dy: 512 x LANES in b), then db. */
    memset(c, 0, sizeof c);
    column_sums();
    reference(8, LANES, MAX_ROWS, 1, 8, LANES);
    failed |= compare("column sums (dw)", 8, LANES);
    for (int j = 0; j < LANES; j++) {
        double sum = 0, abs_sum = 0;
        for (int i = 0; i < MAX_ROWS; i++) {
            sum += b[i * LANES + j];
            abs_sum += b[i * LANES + j] < 0 ? -b[i * LANES + j] : b[i * LANES + j];
        }
        if (!(((double)c[8 * LANES + j] - sum) <= 2.0 * MAX_ROWS * UNIT_ROUNDOFF * abs_sum
              && (sum - (double)c[8 * LANES + j]) <= 2.0 * MAX_ROWS * UNIT_ROUNDOFF * abs_sum)) {
            printf("%s column sums (db): column %d is %.9g, exact %.9g\n", DTYPE, j,
                   (double)c[8 * LANES + j], sum);
            failed = 1;
        }
    }
    printf("%s %s: tiles %s\n", FASTSIG_COMPILED_ISA, DTYPE, failed ? "WRONG" : "correct");
    if (failed || check_only)
        return failed;

    char name[64];
    snprintf(name, sizeof name, "register tile %dx%d, depth %d", MR, NR, KC);
    report(name, 2.0 * MR * NR * KC, register_tile, 0.3);
    snprintf(name, sizeof name, "vector tile %dx%d, depth %d", MRV1, LANES, KC);
    report(name, 2.0 * MRV1 * LANES * KC, vector_tile, 0.3);
    snprintf(name, sizeof name, "column sums 512 rows, k 8, m %d", LANES);
    report(name, 2.0 * MAX_ROWS * (8 + 1) * LANES, column_sums, 0.3);
    return 0;
}
