/*
 * pii.c - personal data at rest: the household (head, members with names and
 * national ids, address) is sealed with XChaCha20-Poly1305 under the data
 * key, the case id as associated data so a sealed blob cannot be moved to
 * another case; national ids are also kept as a keyed BLAKE2b hash.
 */
#include <sodium.h>
#include <string.h>

#include "daemon.h"

#define SEAL_VERSION 1

/*
 * Nonces are random; they are drawn NONCE_POOL at a time, one getrandom call
 * for many households instead of one each. The pool is per thread and filled
 * on first use, after main's fork, so no two processes share it.
 */
#define NONCE_POOL 128
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

static void next_nonce(uint8_t out[NONCE_LEN])
{
    static _Thread_local uint8_t pool[NONCE_POOL * NONCE_LEN];
    static _Thread_local unsigned left;
    if (left == 0) {
        randombytes_buf(pool, sizeof pool);
        left = NONCE_POOL;
    }
    left--;
    memcpy(out, pool + (size_t)left * NONCE_LEN, NONCE_LEN);
}

/* Room for a household without members (and most with a few) in one allocation. */
#define SEAL_GUESS 512

int lbd_pii_seal(const lbd_keys_t *keys, const char *case_id, const lb_val_t *household,
                 lb_buf_t *out)
{
    /* The household is packed straight into out, after the version and nonce, and encrypted
     * there in place: no second buffer to allocate, copy and wipe. */
    const size_t hdr = 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    size_t base = out->len;
    int rc = lb_buf_reserve(out, hdr + SEAL_GUESS + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    if (rc)
        return rc;
    out->len += hdr;
    rc = proto_pack(household, out);
    if (rc == 0)
        rc = lb_buf_reserve(out, crypto_aead_xchacha20poly1305_ietf_ABYTES);
    if (rc) {
        sodium_memzero(out->p + base, out->len - base);
        out->len = base;
        return rc;
    }
    uint8_t *p = out->p + base;
    size_t mlen = out->len - base - hdr;
    p[0] = SEAL_VERSION;
    uint8_t *nonce = p + 1;
    next_nonce(nonce);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + hdr, &clen, p + hdr, mlen,
                                               (const uint8_t *)case_id, strlen(case_id), NULL,
                                               nonce, keys->pii_key);
    out->len = base + hdr + (size_t)clen;
    return 0;
}

int lbd_pii_open(const lbd_keys_t *keys, const char *case_id, const void *sealed, size_t len,
                 lb_val_t **household)
{
    *household = NULL;
    const uint8_t *p = sealed;
    size_t hdr = 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    if (len < hdr + crypto_aead_xchacha20poly1305_ietf_ABYTES || p[0] != SEAL_VERSION)
        return LB_ECORRUPT;
    size_t mlen = len - hdr - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t *plain = sodium_malloc(mlen + 1);
    if (!plain)
        return LB_ENOMEM;
    unsigned long long got = 0;
    int rc = LB_ECORRUPT;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, p + hdr, len - hdr,
                                                   (const uint8_t *)case_id, strlen(case_id), p + 1,
                                                   keys->pii_key) == 0) {
        proto_err_t perr;
        rc = proto_unpack(plain, (size_t)got, &proto_default_limits, household, &perr);
        if (rc && rc != LB_ENOMEM)
            rc = LB_ECORRUPT;
    }
    sodium_free(plain);
    return rc;
}

void lbd_nid_hash(const lbd_keys_t *keys, const char *nid, uint8_t out[32])
{
    crypto_generichash(out, 32, (const uint8_t *)nid, strlen(nid), keys->nid_key, 32);
}
