/*
 * audit.c - the audit key (Ed25519) that signs the chain head (seq, chain) in
 * heartbeats and admin.verify, and the signed tip file that makes a store cut
 * short or put back to an older copy refuse to start (PROTOCOL.md 9.12).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../proto/cert.h"
#include "internal.h"

#define SEED_FILE "audit.secret"
#define PUB_FILE "audit.pub"
#define TIP_FILE "audit.tip"
#define TIP_MAGIC "LBTIP1\n" /* 7 bytes, then be64 seq, chain, sig */
#define TIP_LEN (7 + 8 + 32 + 64)

struct lbd_audit {
    uint8_t pk[32];
    uint8_t *sk; /* sodium_malloc'd, crypto_sign_SECRETKEYBYTES */
    char tip_path[4200];
    bool has_tip; /* the tip file exists and holds tip_seq/tip_chain */
    uint64_t tip_seq;
    uint8_t tip_chain[32];
    /* the last head signed, so an idle daemon signs once, not every second */
    bool has_last;
    uint64_t last_seq;
    uint8_t last_chain[32], last_sig[64];
};

static void be64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

static void head_msg(uint8_t msg[40], uint64_t seq, const uint8_t chain[32])
{
    be64(msg, seq);
    memcpy(msg + 8, chain, 32);
}

/* Reads exactly n bytes of path into buf: 0, LB_ENOTFOUND, or LB_ECONFIG (reason in err). */
static int read_exact(const char *path, void *buf, size_t n, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return LB_ENOTFOUND;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return LB_ECONFIG;
    }
    uint8_t extra;
    ssize_t got = read(fd, buf, n);
    bool more = got == (ssize_t)n && read(fd, &extra, 1) == 1;
    close(fd);
    if (got != (ssize_t)n || more) {
        snprintf(err, errlen, "%s must hold exactly %zu bytes", path, n);
        return LB_ECONFIG;
    }
    return 0;
}

/* The public half as a ZeroMQ-format certificate file (Z85 public key), mode 0644. */
static int write_pub(const char *path, const uint8_t pk[32], char *err, size_t errlen)
{
    char z85[LB_CERT_Z85_LEN + 1], text[512];
    if (lb_cert_z85_encode(pk, 32, z85, sizeof z85))
        return LB_EINTERNAL;
    int n = snprintf(text, sizeof text,
                     "#   ****  Logbook audit public key (Ed25519)  ****\n"
                     "#   Verifies the signed heads of heartbeats and admin.verify;\n"
                     "#   give it to witnesses. The secret half is " SEED_FILE ".\n"
                     "metadata\n"
                     "curve\n"
                     "    public-key = \"%s\"\n",
                     z85);
    if (lb_file_replace(path, text, (size_t)n, 0644, err, errlen)) {
        return LB_ECONFIG;
    }
    return 0;
}

/* Loads the key from its seed, creating both files when there is no seed yet. */
static int load_key(lbd_audit_t *a, const char *dir, char *err, size_t errlen)
{
    char seed_path[4200], pub_path[4200];
    uint8_t *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    a->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!seed || !a->sk) {
        sodium_free(seed);
        return LB_ENOMEM;
    }
    snprintf(seed_path, sizeof seed_path, "%s/" SEED_FILE, dir);
    snprintf(pub_path, sizeof pub_path, "%s/" PUB_FILE, dir);
    int rc = read_exact(seed_path, seed, crypto_sign_SEEDBYTES, err, errlen);
    bool created = rc == LB_ENOTFOUND;
    if (created) {
        /* The secret first: a crash then leaves a seed without its public file, never the
         * reverse, and the public half is derived again below. */
        randombytes_buf(seed, crypto_sign_SEEDBYTES);
        rc = lb_file_replace(seed_path, seed, crypto_sign_SEEDBYTES, 0600, err, errlen) ? LB_ECONFIG
                                                                                        : 0;
    }
    if (rc == 0)
        crypto_sign_seed_keypair(a->pk, a->sk, seed);
    sodium_free(seed);
    if (rc)
        return rc;
    lb_cert_t *pub = NULL;
    char perr[256];
    bool same = lb_cert_load(pub_path, &pub, perr, sizeof perr) == 0 &&
                memcmp(pub->public_key, a->pk, 32) == 0;
    bool missing = !pub && access(pub_path, F_OK) != 0;
    lb_cert_destroy(&pub);
    if (same)
        return 0;
    if (!created && !missing)
        lbd_log(LBD_LOG_WARN, "%s does not hold the public half of %s; written again", pub_path,
                seed_path);
    if ((rc = write_pub(pub_path, a->pk, err, errlen)))
        return rc;
    lbd_log(LBD_LOG_INFO, "%s audit key %s (public %s)", created ? "created" : "derived public of",
            seed_path, pub_path);
    return 0;
}

/* Reads the tip file: 0 (a->has_tip says whether there is one) or LB_ECONFIG. */
static int load_tip(lbd_audit_t *a, char *err, size_t errlen)
{
    uint8_t buf[TIP_LEN], msg[40];
    int rc = read_exact(a->tip_path, buf, TIP_LEN, err, errlen);
    if (rc == LB_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    a->tip_seq = get_be64(buf + 7);
    memcpy(a->tip_chain, buf + 15, 32);
    head_msg(msg, a->tip_seq, a->tip_chain);
    if (memcmp(buf, TIP_MAGIC, 7) != 0 ||
        crypto_sign_verify_detached(buf + 47, msg, sizeof msg, a->pk) != 0) {
        snprintf(err, errlen,
                 "%s is not a head signed by this daemon's audit key: it was edited, or the "
                 "audit key was replaced; refusing to start (move it away only if you know why)",
                 a->tip_path);
        return LB_ECONFIG;
    }
    a->has_tip = true;
    return 0;
}

int lbd_audit_open(const char *keys_dir, lbd_audit_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return LB_EINTERNAL;
    }
    lbd_audit_t *a = calloc(1, sizeof *a);
    if (!a)
        return LB_ENOMEM;
    snprintf(a->tip_path, sizeof a->tip_path, "%s/" TIP_FILE, keys_dir);
    int rc = load_key(a, keys_dir, err, errlen);
    if (rc == 0)
        rc = load_tip(a, err, errlen);
    if (rc) {
        lbd_audit_destroy(&a);
        return rc;
    }
    *out = a;
    return 0;
}

/* The chain value a stored body ends with (PROTOCOL.md 9.7): 0, or -1 when it is not there. */
static int body_chain(const void *body, size_t len, uint8_t chain[32])
{
    static const uint8_t entry[8] = {0xa5, 'c', 'h', 'a', 'i', 'n', 0xc4, 0x20};
    const uint8_t *p = body;
    if (len < 40 || memcmp(p + len - 40, entry, 8) != 0)
        return -1;
    memcpy(chain, p + len - 32, 32);
    return 0;
}

/* Whether event seq is stored with that chain value. */
static bool holds(store_txn_t *r, uint64_t seq, const uint8_t chain[32])
{
    const void *body;
    size_t len;
    uint8_t got[32];
    return store_event_get(r, seq, &body, &len) == 0 && body_chain(body, len, got) == 0 &&
           memcmp(got, chain, 32) == 0;
}

int lbd_audit_check_store(const lbd_audit_t *a, store_t *s, char *err, size_t errlen)
{
    static const char *const advice =
        "new events would reuse seqs that subscribers and witnesses already hold. Put the "
        "newest data.mdb back (or restore the newest backup); if this older store is a "
        "deliberate restore, tell every witness and move the tip file away to start anyway";
    store_txn_t *r;
    uint64_t tip;
    uint8_t chain[32];
    int rc = store_read_begin(s, &r);
    if (rc == 0)
        rc = store_event_tip(r, &tip, chain);
    if (rc) {
        snprintf(err, errlen, "cannot read the event log's tip: %s", lb_strerror(rc));
        store_read_end(&r);
        return rc;
    }
    if (tip > 0 && !holds(r, tip, chain)) {
        snprintf(err, errlen,
                 "the store's tip says seq %llu, but event %llu is missing or does not end the "
                 "chain: events were cut from data.mdb; %s",
                 (unsigned long long)tip, (unsigned long long)tip, advice);
        rc = LB_ECONFIG;
    } else if (a->has_tip && tip < a->tip_seq) {
        snprintf(err, errlen,
                 "the store ends at seq %llu, but seq %llu was published in a signed head (%s): "
                 "the event log was truncated or put back to an older copy; %s",
                 (unsigned long long)tip, (unsigned long long)a->tip_seq, a->tip_path, advice);
        rc = LB_ECONFIG;
    } else if (a->has_tip && a->tip_seq > 0 && !holds(r, a->tip_seq, a->tip_chain)) {
        snprintf(err, errlen,
                 "the store's event %llu is not the one published in a signed head (%s): the "
                 "event log was rewritten; %s",
                 (unsigned long long)a->tip_seq, a->tip_path, advice);
        rc = LB_ECONFIG;
    }
    store_read_end(&r);
    return rc;
}

void lbd_audit_sign(lbd_audit_t *a, uint64_t seq, const uint8_t chain[32], uint8_t sig[64])
{
    if (!a->has_last || a->last_seq != seq || memcmp(a->last_chain, chain, 32) != 0) {
        uint8_t msg[40];
        head_msg(msg, seq, chain);
        crypto_sign_detached(a->last_sig, NULL, msg, sizeof msg, a->sk);
        a->last_seq = seq;
        memcpy(a->last_chain, chain, 32);
        a->has_last = true;
    }
    memcpy(sig, a->last_sig, 64);
}

int lbd_audit_record(lbd_audit_t *a, uint64_t seq, const uint8_t chain[32])
{
    if (a->has_tip && a->tip_seq == seq && memcmp(a->tip_chain, chain, 32) == 0)
        return 0;
    uint8_t buf[TIP_LEN];
    memcpy(buf, TIP_MAGIC, 7);
    be64(buf + 7, seq);
    memcpy(buf + 15, chain, 32);
    lbd_audit_sign(a, seq, chain, buf + 47);
    char err[512];
    int rc = lb_file_replace(a->tip_path, buf, sizeof buf, 0600, err, sizeof err);
    if (rc) {
        lbd_log(LBD_LOG_ERROR, "cannot record the signed head: %s; no heartbeat", err);
        return rc;
    }
    a->has_tip = true;
    a->tip_seq = seq;
    memcpy(a->tip_chain, chain, 32);
    return 0;
}

void lbd_audit_destroy(lbd_audit_t **ap)
{
    lbd_audit_t *a = ap ? *ap : NULL;
    if (!a)
        return;
    sodium_free(a->sk);
    sodium_memzero(a->last_sig, sizeof a->last_sig);
    free(a);
    *ap = NULL;
}
