/*
 * idem.c - request ids for a person's keys (Idempotency-Key, an ODK
 * instanceID) and the gateway's memory of which body each id carried, so
 * that a different body under an id already used is refused (409/422)
 * instead of being answered with the first body's stored reply. The memory
 * holds WEB_IDEM_MAX ids for 24 hours (the daemon's idempotency window) and
 * is lost on restart: the daemon still applies each id once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "web.h"

typedef struct {
    uint8_t key[16]; /* BLAKE2b of the id */
    uint8_t digest[16];
    int64_t at;
    bool used;
} slot_t;

struct web_idem {
    pthread_mutex_t mu;
    slot_t *v;
};

int web_idem_new(web_idem_t **out)
{
    web_idem_t *m = calloc(1, sizeof *m);
    if (!m || !(m->v = calloc(WEB_IDEM_MAX, sizeof *m->v))) {
        free(m);
        *out = NULL;
        return LB_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

void web_idem_destroy(web_idem_t **pm)
{
    web_idem_t *m = pm ? *pm : NULL;
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->v);
    free(m);
    *pm = NULL;
}

int web_idem_check(web_idem_t *m, const char *id, const uint8_t digest[16])
{
    uint8_t key[16];
    crypto_generichash(key, sizeof key, (const uint8_t *)id, strlen(id), NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec;
    uint32_t h;
    memcpy(&h, key, sizeof h);
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    slot_t *victim = NULL;
    bool victim_live = true;
    for (uint32_t probe = 0; probe < 16; probe++) {
        slot_t *s = &m->v[(h + probe) % WEB_IDEM_MAX];
        bool live = s->used && now - s->at < WEB_IDEM_TTL_S;
        if (live && memcmp(s->key, key, sizeof key) == 0) {
            rc = memcmp(s->digest, digest, 16) ? LB_ECONFLICT : 0;
            goto done;
        }
        /* a free or expired slot first, else the oldest one is taken over */
        if (!live && victim_live) {
            victim = s;
            victim_live = false;
        } else if (live && victim_live && (!victim || s->at < victim->at)) {
            victim = s;
        }
    }
    memcpy(victim->key, key, sizeof key);
    memcpy(victim->digest, digest, 16);
    victim->at = now;
    victim->used = true;
done:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int web_request_id(const char *user, const char *key, char out[65])
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 256)
        return LB_EBADREQ;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x21 || key[i] == 0x7f)
            return LB_EBADREQ;
    if (strlen(user) + 1 + n <= 64) {
        memcpy(out, user, strlen(user));
        out[strlen(user)] = ':';
        memcpy(out + strlen(user) + 1, key, n + 1);
        return 0;
    }
    uint8_t h[28];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)user, strlen(user));
    crypto_generichash_update(&st, (const uint8_t *)":", 1);
    crypto_generichash_update(&st, (const uint8_t *)key, n);
    crypto_generichash_final(&st, h, sizeof h);
    out[0] = '#';
    sodium_bin2hex(out + 1, 64, h, sizeof h);
    return 0;
}
