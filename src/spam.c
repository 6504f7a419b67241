/*
 * The spam limit (spam.h): a token bucket per object uid, in a hash table
 * whose full buckets are dropped once they would be full anyway, so that
 * objects that come and go do not grow it.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "spam.h"

#define BUCKETS 4096

struct bucket {
    struct bucket *next;
    double tokens, at;
    char uid[];
};

struct spam {
    int burst;
    double interval;
    struct bucket *table[BUCKETS];
};

/* Creates a limiter. */
struct spam *
spam_new(int burst, int interval_s)
{
    struct spam *s = calloc(1, sizeof(*s));

    if (s) {
        s->burst = burst;
        s->interval = interval_s > 0 ? interval_s : 1;
    }
    return s;
}

/* Frees a limiter; NULL is allowed. */
void
spam_free(struct spam *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (s->table[i]) {
            struct bucket *b = s->table[i];

            s->table[i] = b->next;
            free(b);
        }
    }
    free(s);
}

/* The tokens of b at now, refilled at one per interval. */
static double
refill(const struct spam *s, const struct bucket *b, double now)
{
    double tokens = b->tokens + (now - b->at) / s->interval;

    return tokens > s->burst ? s->burst : tokens;
}

/* Takes a token of uid's bucket if there is one; see spam.h. */
bool
spam_allow(struct spam *s, const char *uid, double now)
{
    struct bucket **p = &s->table[hash_text(uid) % BUCKETS], *b = NULL;

    while (*p) {
        if (strcmp((*p)->uid, uid) == 0) {
            b = *p;
            break;
        }
        /* A full bucket is as good as none. */
        if (refill(s, *p, now) >= s->burst) {
            struct bucket *gone = *p;

            *p = gone->next;
            free(gone);
            continue;
        }
        p = &(*p)->next;
    }
    if (!b) {
        b = malloc(sizeof(*b) + strlen(uid) + 1);
        if (!b)
            return true;
        strcpy(b->uid, uid);
        b->tokens = s->burst;
        b->at = now;
        b->next = s->table[hash_text(uid) % BUCKETS];
        s->table[hash_text(uid) % BUCKETS] = b;
    }
    b->tokens = refill(s, b, now);
    b->at = now;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}
