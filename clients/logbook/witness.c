/*
 * witness.c - logbook witness (keeps the daemon's newest signed chain head in
 * a file outside the data folder) and the check behind verify --witness: the
 * store's chain must still hold that head (PROTOCOL.md 9.12).
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cursor.h"
#include "logbook.h"

/* The audit key from --audit-key, else beside the server certificate. EX_OK or EX_USAGE. */
static int audit_key(const app_t *app, const args_t *a, uint8_t pk[32])
{
    char err[512] = "";
    const char *path = opt(a, "audit-key");
    int rc = path ? lbc_audit_key_load(path, pk, err, sizeof err)
                  : lbc_audit_key_beside(app->server_cert, pk, err, sizeof err);
    if (rc) {
        fprintf(stderr, "error: cannot load the audit public key: %s (use --audit-key FILE)\n",
                err);
        return EX_USAGE;
    }
    return EX_OK;
}

static int witness_check(app_t *app, const lbc_head_t *h, char *why, size_t whylen)
{
    lb_val_t *args = lb_map(), *reply = NULL;
    int rc = 0;
    lb_rc(&rc, args ? 0 : LB_ENOMEM);
    lb_put_int(args, "seq", (int64_t)h->seq - 1, &rc);
    lb_put_int(args, "limit", 1, &rc);
    if (rc || h->seq == 0) {
        lb_val_free(&args);
        if (rc)
            return EX_UNREACHABLE;
        return EX_OK; /* the empty log's head is in every log */
    }
    rc = request(app, "events.since", args, &reply);
    lb_val_free(&args);
    if (rc)
        return rc;
    const lb_val_t *evs = lb_map_get(lbc_reply_result(reply), "events");
    const lb_val_t *ev = evs && evs->type == LB_ARR && evs->a.n ? evs->a.items[0] : NULL;
    const lb_val_t *chain = lb_map_get(ev, "chain");
    int64_t seq = -1;
    lb_map_int(ev, "seq", &seq);
    if (!ev || seq != (int64_t)h->seq) {
        snprintf(why, whylen,
                 "the store has no event %" PRIu64 ": its log was cut short or put back to an "
                 "older copy",
                 h->seq);
        rc = EX_REFUSED;
    } else if (!chain || chain->type != LB_BIN || chain->s.n != 32 ||
               memcmp(chain->s.p, h->chain, 32) != 0) {
        snprintf(why, whylen,
                 "the store's event %" PRIu64 " is not the witnessed one: its log was rewritten",
                 h->seq);
        rc = EX_REFUSED;
    }
    lb_val_free(&reply);
    return rc;
}

int witness_verify_file(app_t *app, const args_t *a, const char *path, char *why, size_t whylen)
{
    lbc_cursor_t c;
    uint8_t pk[32];
    char err[512] = "";
    int rc = lbc_cursor_load(path, &c, err, sizeof err);
    if (rc || !c.has_head) {
        fprintf(stderr, "error: %s\n", rc ? err : "the witness file holds no head");
        return EX_USAGE;
    }
    if ((rc = audit_key(app, a, pk)))
        return rc;
    if (!lbc_head_verify(&c.head, pk)) {
        snprintf(why, whylen, "the head in %s is not signed by this daemon's audit key", path);
        return EX_REFUSED;
    }
    return witness_check(app, &c.head, why, whylen);
}

/* Subscribes to the heartbeats only (cli_subscribe: Ctrl-C sets cli_stop_flag). */
static int subscribe(app_t *app, lbc_sub_t **sub)
{
    static const char *const hb[] = {"hb"};
    return cli_subscribe(app, hb, 1, LBC_SEQ_NOW, sub);
}

/*
 * Takes a new heartbeat head: verified, never behind or beside the one kept,
 * the kept one still in the store's chain, then saved. EX_OK, or the exit code
 * after saying why.
 */
static int take_head(app_t *app, const char *path, const uint8_t pk[32], lbc_cursor_t *kept,
                     const lbc_head_t *h)
{
    char why[300] = "", err[512] = "";
    if (!lbc_head_verify(h, pk)) {
        fprintf(stderr,
                "error: a heartbeat's head (seq %" PRIu64 ") is not signed by the audit "
                "key\n",
                h->seq);
        return EX_REFUSED;
    }
    if (kept->has_head &&
        (h->seq < kept->head.seq ||
         (h->seq == kept->head.seq && memcmp(h->chain, kept->head.chain, 32) != 0))) {
        fprintf(stderr,
                "ALERT: the daemon's head is seq %" PRIu64 ", witnessed was %" PRIu64
                ": its log was cut short or rewritten\n",
                h->seq, kept->head.seq);
        return EX_REFUSED;
    }
    if (kept->has_head && h->seq == kept->head.seq)
        return EX_OK;
    int rc = kept->has_head ? witness_check(app, &kept->head, why, sizeof why) : EX_OK;
    if (rc) {
        if (*why)
            fprintf(stderr, "ALERT: %s\n", why);
        return rc;
    }
    kept->seq = h->seq;
    kept->head = *h;
    kept->has_head = true;
    if (lbc_cursor_save(path, kept, err, sizeof err)) {
        fprintf(stderr, "error: cannot save %s: %s\n", path, err);
        return EX_REFUSED;
    }
    if (!app->json)
        printf("witnessed seq %" PRIu64 "\n", h->seq);
    fflush(stdout);
    return EX_OK;
}

/* Follows the heartbeats until stopped (or, once, until the first head is kept). */
static int follow(app_t *app, const char *path, const uint8_t pk[32], lbc_cursor_t *kept, bool once)
{
    lbc_sub_t *sub = NULL;
    int rc = subscribe(app, &sub);
    int64_t end = lbc_mono_ms() + (app->timeout_ms > 0 ? app->timeout_ms : 5000);
    bool got = false;
    while (rc == EX_OK && !cli_stop_flag && !(once && got)) {
        if (once && lbc_mono_ms() > end) {
            fprintf(stderr, "error: no signed heartbeat from %s\n", app->events_endpoint);
            rc = EX_UNREACHABLE;
            break;
        }
        lb_val_t *body = NULL;
        char err[512] = "";
        int e = lbc_sub_next(sub, 250, NULL, &body, NULL, err, sizeof err);
        lb_val_free(&body);
        if (e && e != LB_ENOTFOUND && e != LB_EUNAVAIL)
            fprintf(stderr, "warning: %s\n", err);
        lbc_head_t h;
        if (lbc_sub_head(sub, &h) == 0) {
            rc = take_head(app, path, pk, kept, &h);
            got = true;
        }
    }
    lbc_sub_destroy(&sub);
    return rc;
}

int cmd_witness(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"state=", "once", "audit-key=", NULL};
    PROLOGUE(spec, 0, 0)
    const char *path = opt(&a, "state");
    char err[512] = "";
    uint8_t pk[32];
    int lock = -1;
    if (!path || !*path) {
        usage_error(argv[0], "--state FILE is required");
        return EX_USAGE;
    }
    if ((rc = audit_key(app, &a, pk)))
        return rc;
    if (lbc_cursor_lock(path, &lock, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return EX_REFUSED;
    }
    lbc_cursor_t kept;
    int e = lbc_cursor_load(path, &kept, err, sizeof err);
    if (e && e != LB_ENOTFOUND) {
        fprintf(stderr, "error: %s\n", err);
        rc = EX_REFUSED;
    } else if (kept.has_head && !lbc_head_verify(&kept.head, pk)) {
        fprintf(stderr, "error: the head in %s is not signed by this audit key\n", path);
        rc = EX_REFUSED;
    } else {
        rc = follow(app, path, pk, &kept, flag(&a, "once"));
    }
    lbc_cursor_unlock(&lock);
    return rc;
}
