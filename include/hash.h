/*
 * FNV-1a over a string: uids are random already and texts short, so its
 * spread is enough for the tables here, and it needs no seed or state.
 * The 64-bit form is a digest that notices any change to a long text.
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

static inline uint64_t
hash_text64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3u;
    }
    return h;
}

#endif
