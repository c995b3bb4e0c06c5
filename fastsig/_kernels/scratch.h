/* fastsig: scratch memory for the kernels (packed operands, partial sums).
 *
 * Provides: fastsig_scratch_take(bytes, &size), NULL when memory is short, given back
 *   by fastsig_scratch_give(buffer, size); FASTSIG_SCRATCH_KEPT_MAX.
 * Uses: posix_memalign and madvise on Linux.
 *
 * 1. Buffers of 4 MB and more are aligned to 2 MB and advised to transparent huge pages
 *    on Linux (a hint, ignored where THP is off): a packed B of tens of MB is streamed by
 *    every task, and 4 KB pages would need more TLB entries than the second-level TLB
 *    holds. numpy asks the same for its arrays. Smaller buffers come from plain malloc.
 * 2. One buffer is kept between calls: the largest given back of at most
 *    FASTSIG_SCRATCH_KEPT_MAX bytes. A call that fits in it takes it, so a layer called
 *    over and over does not page-fault (and zero) a fresh buffer every call, as the
 *    kernel does for each page of a new mapping. A process holds at most that much more
 *    memory than it uses.
 * 3. The kept buffer is shared state: take and give are called with the GIL held (the
 *    Cython declarations leave out `nogil`, so the compiler enforces it).
 * 4. take() writes the buffer's size (at least `bytes`) for the caller to give back with
 *    it, not into the buffer: the packed operands start where malloc's memory starts, as
 *    they did before buffers were kept (docs/performance.md). The callers align within
 *    the buffer themselves (to a cache line).
 * 5. Under AddressSanitizer the part of a kept buffer past the `bytes` a call took is
 *    poisoned until it is given back, so that a kernel writing past its scratch is caught
 *    there too, not only in a fresh buffer of the size it asked for. */
#ifndef FASTSIG_SCRATCH_H
#define FASTSIG_SCRATCH_H

#include <stddef.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define FASTSIG_SCRATCH_KEPT_MAX ((size_t)16 << 20)

#if defined(__SANITIZE_ADDRESS__)    /* gcc */
#define FASTSIG_SCRATCH_ASAN 1
#elif defined(__has_feature)        /* clang */
#if __has_feature(address_sanitizer)
#define FASTSIG_SCRATCH_ASAN 1
#endif
#endif
#if defined(FASTSIG_SCRATCH_ASAN)
#include <sanitizer/asan_interface.h>
#define FASTSIG_SCRATCH_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FASTSIG_SCRATCH_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FASTSIG_SCRATCH_POISON(p, n) ((void)(p), (void)(n))
#define FASTSIG_SCRATCH_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static void* fastsig_scratch_kept = NULL;
static size_t fastsig_scratch_kept_size = 0;

static void* fastsig_scratch_alloc(size_t bytes) {
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

static void* fastsig_scratch_take(size_t bytes, size_t* size) {
    void* buffer = fastsig_scratch_kept;
    if (buffer != NULL && fastsig_scratch_kept_size >= bytes) {
        *size = fastsig_scratch_kept_size;
        fastsig_scratch_kept = NULL;
        fastsig_scratch_kept_size = 0;
        FASTSIG_SCRATCH_POISON((char*)buffer + bytes, *size - bytes);
        return buffer;
    }
    *size = bytes;
    return fastsig_scratch_alloc(bytes);
}

static void fastsig_scratch_give(void* buffer, size_t size) {
    if (buffer != NULL)
        FASTSIG_SCRATCH_UNPOISON(buffer, size);
    if (buffer != NULL && size <= FASTSIG_SCRATCH_KEPT_MAX
            && (fastsig_scratch_kept == NULL || fastsig_scratch_kept_size < size)) {
        free(fastsig_scratch_kept);
        fastsig_scratch_kept = buffer;
        fastsig_scratch_kept_size = size;
    } else {
        free(buffer);
    }
}

#endif /* FASTSIG_SCRATCH_H */
