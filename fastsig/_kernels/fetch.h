/* fastsig: fetch a span of memory ahead of its use, a line at a time.
 *
 * Provides: fastsig_fetch(p, bytes).
 * Uses: __builtin_prefetch (GCC, Clang); nothing elsewhere.
 *
 * A thread that reads lines another core has just written gets each from that core's
 * cache; the hardware prefetchers do not fetch such lines ahead, so a sequential read
 * waits for them one after another (docs/performance.md, "Threads after the caller
 * wrote the input"). Asking for a block of lines at once keeps many of those transfers
 * in flight. A line already in this core's
 * cache costs one instruction. No value is read: the result of any kernel is the same
 * with or without it.
 */
#ifndef FASTSIG_FETCH_H
#define FASTSIG_FETCH_H

#include <stddef.h>

static inline void fastsig_fetch(const void* p, ptrdiff_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
    const char* c = (const char*)p;
    for (ptrdiff_t i = 0; i < bytes; i += 64)
        __builtin_prefetch(c + i, 0, 3);    /* for reading, into L1 */
#else
    (void)p;
    (void)bytes;
#endif
}

#endif
