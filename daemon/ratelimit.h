/*
 * ratelimit.h - the per-key token bucket (limits.rate_per_key,
 * limits.burst_per_key): a request of a key without a token is answered
 * rate_limited before it is decoded or run. For the daemon's one thread.
 */
#ifndef LBD_RATELIMIT_H
#define LBD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lbd_rl lbd_rl_t;

/*
 * A limiter of `rate` tokens a second and buckets of `burst` tokens
 * (1 <= rate <= burst), remembering at most max_keys keys at once (0 = a
 * default of 4,096). 0 with *out the caller's (lbd_rl_destroy); LB_EINTERNAL
 * (out NULL, rate or burst out of range); LB_ENOMEM. *out NULL on error.
 */
int lbd_rl_new(int64_t rate, int64_t burst, size_t max_keys, lbd_rl_t **out);
/* Frees rl and sets *rl NULL; safe on NULL and *rl NULL. */
void lbd_rl_destroy(lbd_rl_t **rl);

/*
 * Takes one token from key's bucket at now_ms (a monotonic clock): true when
 * there was one. A key not seen yet, or not seen for as long as its bucket
 * takes to refill, starts with a full bucket. When max_keys keys with
 * partly used buckets are remembered, a new key is let through uncounted
 * (keys are registered clients, so that takes a registry of thousands all
 * flooding at once) and *full is set when full is not NULL. Never fails.
 */
bool lbd_rl_take(lbd_rl_t *rl, const uint8_t key[32], int64_t now_ms, bool *full);

/* Keys remembered now (for admin.stats). */
size_t lbd_rl_keys(const lbd_rl_t *rl);

#endif
