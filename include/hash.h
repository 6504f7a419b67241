/*
 * FNV-1a over a string: uids are random already and texts short, so its
 * spread is enough for the tables here, and it needs no seed or state.
 */
#ifndef EC_HASH_H
#define EC_HASH_H

#include <stdint.h>

static inline uint32_t
hash_text(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

#endif
