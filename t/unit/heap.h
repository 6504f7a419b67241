/*
 * The heap in use, for the unit tests that measure memory: from ASan's
 * allocator in a sanitizer build, else from glibc's malloc.  Under
 * valgrind neither sees the allocations, so a test asks heap_measurable
 * first and skips its measures where it is false.
 */
#ifndef EC_HEAP_H
#define EC_HEAP_H

#include <stdbool.h>
#include <stdlib.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
size_t __sanitizer_get_current_allocated_bytes(void);

static inline size_t
heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
#include <malloc.h>

static inline size_t
heap_in_use(void)
{
    struct mallinfo2 info = mallinfo2();

    return info.uordblks + info.hblkhd;
}
#endif

/* Whether heap_in_use sees a megabyte being allocated. */
static inline bool
heap_measurable(void)
{
    size_t before = heap_in_use();
    char *volatile p = malloc(1 << 20);
    bool seen;

    if (!p)
        return false;
    p[0] = 1;
    seen = heap_in_use() >= before + (1 << 20);
    free(p);
    return seen;
}

#endif
