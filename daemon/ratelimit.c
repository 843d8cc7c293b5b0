/*
 * ratelimit.c - the per-key token bucket: an open-addressing hash map keyed
 * by the client key's 32 bytes (SipHash with a random key, so the layout
 * cannot be steered), bounded in size; buckets are refilled lazily from the
 * monotonic clock when their key sends, and a bucket that has refilled
 * completely is worth no more than a missing one, so it is forgotten at the
 * next sweep.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/lb.h"
#include "ratelimit.h"

#define RL_DEFAULT_KEYS 4096
#define MILLI 1000 /* tokens are counted in thousandths: rate tokens/s = rate milli-tokens/ms */

typedef struct {
    uint8_t key[32];
    bool used;
    int64_t tokens; /* milli-tokens at `last` */
    int64_t last;   /* ms */
} rl_entry_t;

struct lbd_rl {
    int64_t rate, burst;
    size_t max_keys, cap, n; /* cap: a power of two, at least twice max_keys */
    rl_entry_t *v, *scratch;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

int lbd_rl_new(int64_t rate, int64_t burst, size_t max_keys, lbd_rl_t **out)
{
    if (!out)
        return LB_EINTERNAL;
    *out = NULL;
    if (rate < 1 || burst < rate || burst > INT64_MAX / MILLI / 2)
        return LB_EINTERNAL;
    if (sodium_init() < 0)
        return LB_EINTERNAL;
    lbd_rl_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return LB_ENOMEM;
    rl->rate = rate;
    rl->burst = burst;
    rl->max_keys = max_keys ? max_keys : RL_DEFAULT_KEYS;
    for (rl->cap = 16; rl->cap < 2 * rl->max_keys; rl->cap *= 2)
        ;
    rl->v = calloc(rl->cap, sizeof *rl->v);
    rl->scratch = calloc(rl->max_keys, sizeof *rl->scratch);
    if (!rl->v || !rl->scratch) {
        lbd_rl_destroy(&rl);
        return LB_ENOMEM;
    }
    randombytes_buf(rl->hash_key, sizeof rl->hash_key);
    *out = rl;
    return 0;
}

void lbd_rl_destroy(lbd_rl_t **rl)
{
    if (!rl || !*rl)
        return;
    free((*rl)->v);
    free((*rl)->scratch);
    free(*rl);
    *rl = NULL;
}

size_t lbd_rl_keys(const lbd_rl_t *rl)
{
    return rl ? rl->n : 0;
}

/* The slot holding key, or the empty slot where it would go. */
static rl_entry_t *slot(lbd_rl_t *rl, const uint8_t key[32])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, 32, rl->hash_key);
    uint64_t i;
    memcpy(&i, h, sizeof i);
    for (;; i++) { /* never full: n <= max_keys <= cap / 2 */
        rl_entry_t *e = &rl->v[i & (rl->cap - 1)];
        if (!e->used || memcmp(e->key, key, 32) == 0)
            return e;
    }
}

/* The bucket's tokens at now (refilled, capped at the burst). */
static int64_t refill(const lbd_rl_t *rl, const rl_entry_t *e, int64_t now)
{
    int64_t full = rl->burst * MILLI, dt = now - e->last;
    if (dt <= 0)
        return e->tokens;
    if (dt >= full / rl->rate + 1)
        return full;
    int64_t t = e->tokens + dt * rl->rate;
    return t < full ? t : full;
}

/* Forgets every key whose bucket is full again; rebuilds the table without them. */
static void sweep(lbd_rl_t *rl, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < rl->cap; i++) {
        rl_entry_t *e = &rl->v[i];
        if (e->used && refill(rl, e, now) < rl->burst * MILLI)
            rl->scratch[k++] = *e;
    }
    memset(rl->v, 0, rl->cap * sizeof *rl->v);
    rl->n = 0;
    for (size_t i = 0; i < k; i++) {
        *slot(rl, rl->scratch[i].key) = rl->scratch[i];
        rl->n++;
    }
}

bool lbd_rl_take(lbd_rl_t *rl, const uint8_t key[32], int64_t now_ms, bool *full)
{
    if (full)
        *full = false;
    rl_entry_t *e = slot(rl, key);
    if (!e->used) {
        if (rl->n >= rl->max_keys) {
            sweep(rl, now_ms);
            if (rl->n >= rl->max_keys) {
                if (full)
                    *full = true;
                return true;
            }
            e = slot(rl, key);
        }
        memcpy(e->key, key, 32);
        e->used = true;
        e->tokens = rl->burst * MILLI;
        e->last = now_ms;
        rl->n++;
    }
    e->tokens = refill(rl, e, now_ms);
    if (now_ms > e->last)
        e->last = now_ms;
    if (e->tokens < MILLI)
        return false;
    e->tokens -= MILLI;
    return true;
}
