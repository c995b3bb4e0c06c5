/* fastsig: scratch memory for the kernels (packed operands, partial sums).
 *
 * Provides: fastsig_malloc(bytes), freed with free(); NULL when memory is short.
 * Uses: posix_memalign and madvise on Linux.
 *
 * Buffers of 4 MB and more are aligned to 2 MB and advised to transparent huge pages
 * on Linux (a hint, ignored where THP is off): a packed B of tens of MB is streamed by
 * every task, and 4 KB pages would need more TLB entries than the second-level TLB
 * holds. numpy asks the same for its arrays. The callers align within the buffer
 * themselves (to a cache line), so small buffers come from plain malloc. */
#ifndef FASTSIG_SCRATCH_H
#define FASTSIG_SCRATCH_H

#include <stddef.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

static void* fastsig_malloc(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= ((size_t)4 << 20)) {
        void* p = NULL;
        if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0)
            return NULL;
        madvise(p, bytes, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(bytes);
}

#endif /* FASTSIG_SCRATCH_H */
