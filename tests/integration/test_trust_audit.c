/*
 * test_trust_audit.c - the Trust issue, finding 7: the audit chain must not
 * be rewritable with the data file alone (a truncated tail made new events
 * reuse seqs subscribers already held).
 *
 * Interface decisions the fixers follow:
 *  - The heartbeat body gains `chain` (bin 32, the chain value of event
 *    `seq`) and `sig` (bin 64): Ed25519 (libsodium crypto_sign_detached) over
 *    the 8-byte big-endian seq followed by those 32 chain bytes.
 *  - The audit public key is `audit.pub` in keys_dir (default DATA_DIR/keys,
 *    beside server.key), in the ZeroMQ certificate format (public-key =
 *    Z85 of the 32-byte Ed25519 key) or as 32 raw bytes; `audit.key` is
 *    accepted as the name too.
 *  - admin.verify's result gains `head: {seq, chain, sig}` (same signature).
 *  - `logbook witness --state FILE [--once]` (global -e/-E/-k/-s as usual)
 *    records a verified signed head in FILE; it finds the audit key beside
 *    the server certificate given with -s. `logbook verify --witness FILE`
 *    exits non-zero when the store's chain does not contain the witnessed
 *    head (same seq, same chain), 0 when it does.
 *  - A store whose event log is shorter than its own recorded tip refuses to
 *    start (non-zero exit): events deleted from data.mdb with the tip left in
 *    place, and events deleted with the tip in data.mdb rolled back too.
 *  - admin.verify compares cases with their events: a case record edited in
 *    the database gives ok: false and `first_bad_case` = that case id.
 *  - admin.verify compares the maintained counters with the cases: a counter
 *    changed in the counts database gives ok: false and `bad_counter`
 *    {scope, name, stored, computed} naming it.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/trust.h"

static testd_t T;
static char logbook_path[600];

static void reset(void)
{
    if (T.dir[0])
        testd_cleanup(&T);
    memset(&T, 0, sizeof T);
}

static int suite_init(void)
{
    const char *bin = getenv("LOGBOOK_BIN");
    char rel[512];
    snprintf(rel, sizeof rel, "%s/logbook", bin && *bin ? bin : "bin");
    if (!realpath(rel, logbook_path) || access(logbook_path, X_OK) != 0) {
        fprintf(stderr, "test_trust_audit: %s is not an executable (set LOGBOOK_BIN)\n", rel);
        return -1;
    }
    return sodium_init() < 0 ? -1 : 0;
}

static int suite_clean(void)
{
    reset();
    return 0;
}

static int open_cases(testd_t *t, unsigned long base, int n)
{
    for (int i = 0; i < n; i++) {
        char cid[32];
        if (trust_open_case(t, NULL, base + (unsigned long)i, "65010101", cid))
            return -1;
    }
    return 0;
}

/* The audit public key from keys/audit.pub (or audit.key): 0 or -1. */
static int audit_key(testd_t *t, uint8_t pk[32])
{
    const char *names[] = {"audit.pub", "audit.key"};
    for (int i = 0; i < 2; i++) {
        char path[400], err[256];
        snprintf(path, sizeof path, "%s/keys/%s", t->data, names[i]);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (st.st_size == 32) {
            FILE *f = fopen(path, "rb");
            size_t got = f ? fread(pk, 1, 32, f) : 0;
            if (f)
                fclose(f);
            return got == 32 ? 0 : -1;
        }
        lb_cert_t *c = NULL;
        if (lb_cert_load(path, &c, err, sizeof err) == 0) {
            memcpy(pk, c->public_key, 32);
            lb_cert_destroy(&c);
            return 0;
        }
    }
    return -1;
}

/* Verifies sig over be64(seq) || chain. */
static bool head_valid(const uint8_t pk[32], int64_t seq, const lb_val_t *chain,
                       const lb_val_t *sig)
{
    if (!chain || chain->type != LB_BIN || chain->s.n != 32 || !sig || sig->type != LB_BIN ||
        sig->s.n != 64)
        return false;
    uint8_t msg[40];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
    memcpy(msg + 8, chain->s.p, 32);
    return crypto_sign_verify_detached((const uint8_t *)sig->s.p, msg, 40, pk) == 0;
}

/* The chain of event seq, as events.since returns it. */
static bool event_chain(testd_t *t, int64_t seq, uint8_t out[32])
{
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "seq", seq - 1);
    lb_map_set_int(a, "limit", 1);
    lb_val_t *r = testd_call(t, "events.since", a);
    const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
    const lb_val_t *ch =
        evs && evs->type == LB_ARR && evs->a.n == 1 ? lb_map_get(evs->a.items[0], "chain") : NULL;
    bool ok = ch && ch->type == LB_BIN && ch->s.n == 32;
    if (ok)
        memcpy(out, ch->s.p, 32);
    lb_val_free(&r);
    lb_val_free(&a);
    return ok;
}

static void test_heartbeats_and_verify_are_signed(void)
{
    reset();
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(open_cases(&T, 88800000001UL, 3), 0);
    uint8_t pk[32], chain[32];
    CU_ASSERT_EQUAL_FATAL(audit_key(&T, pk), 0);
    CU_ASSERT_TRUE_FATAL(event_chain(&T, 3, chain));
    trust_sub_t s;
    CU_ASSERT_EQUAL_FATAL(trust_sub_open(&T, NULL, &s), 0);
    lb_val_t *hb = NULL;
    int64_t end = trust_ms() + 5000;
    char topic[64];
    while (!hb && trust_ms() < end) {
        lb_val_t *b = NULL;
        if (trust_sub_recv(&s, 500, topic, sizeof topic, &b, NULL) == 1 && !strcmp(topic, "hb"))
            hb = b;
        else
            lb_val_free(&b);
    }
    trust_sub_close(&s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hb);
    int64_t seq = -1;
    lb_map_int(hb, "seq", &seq);
    CU_ASSERT_EQUAL(seq, 3);
    const lb_val_t *hc = lb_map_get(hb, "chain");
    CU_ASSERT_TRUE(hc && hc->type == LB_BIN && hc->s.n == 32 && !memcmp(hc->s.p, chain, 32));
    CU_ASSERT_TRUE(head_valid(pk, seq, hc, lb_map_get(hb, "sig")));
    /* a forged seq does not verify */
    CU_ASSERT_FALSE(head_valid(pk, seq + 1, hc, lb_map_get(hb, "sig")));
    lb_val_free(&hb);
    lb_val_t *r = testd_call(&T, "admin.verify", NULL);
    const lb_val_t *head = lb_map_get(lbc_reply_result(r), "head");
    int64_t hseq = -1;
    lb_map_int(head, "seq", &hseq);
    CU_ASSERT_EQUAL(hseq, 3);
    CU_ASSERT_TRUE(head_valid(pk, hseq, lb_map_get(head, "chain"), lb_map_get(head, "sig")));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

/* Runs logbook with the admin's keys and t's endpoints; its exit code. */
static int logbook(testd_t *t, const char *args)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "'%s' -e '%s' -E '%s' -k '%s/keys/admin.key_secret' -s '%s/keys/server.key' "
             "--timeout 5000 %s >>'%s/logbook.out' 2>&1",
             logbook_path, t->req_ep, t->ev_ep, t->data, t->data, args, t->dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

static void test_witness_catches_a_rewound_store(void)
{
    reset();
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(open_cases(&T, 88800000101UL, 3), 0);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&T), 0);
    char copy[400], witness[400], wargs[600];
    snprintf(copy, sizeof copy, "%s/data.copy", T.dir);
    snprintf(witness, sizeof witness, "%s/witness.state", T.dir);
    CU_ASSERT_EQUAL_FATAL(sh("cp -a '%s' '%s'", T.data, copy), 0); /* the store after 3 events */
    CU_ASSERT_EQUAL_FATAL(testd_restart(&T), 0);
    CU_ASSERT_EQUAL_FATAL(open_cases(&T, 88800000104UL, 3), 0); /* seqs 4..6 */
    snprintf(wargs, sizeof wargs, "witness --state '%s' --once", witness);
    CU_ASSERT_EQUAL(logbook(&T, wargs), 0);
    CU_ASSERT_EQUAL(access(witness, F_OK), 0);
    snprintf(wargs, sizeof wargs, "verify --witness '%s'", witness);
    CU_ASSERT_EQUAL(logbook(&T, wargs), 0); /* the store holds the witnessed head */
    CU_ASSERT_EQUAL_FATAL(testd_stop(&T), 0);
    /* put the old store back and write other events with the same seqs */
    CU_ASSERT_EQUAL_FATAL(sh("rm -rf '%1$s' && mv '%2$s' '%1$s'", T.data, copy), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&T), 0);
    CU_ASSERT_EQUAL(open_cases(&T, 88800000201UL, 3), 0);
    CU_ASSERT_NOT_EQUAL(logbook(&T, wargs), 0);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

/* Deletes events from..to from data.mdb; with rollback, also sets the tip to from-1. */
static int truncate_events(const char *data, uint64_t from, uint64_t to, bool rollback)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi ev, meta;
    int rc = mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 64);
    if (rc || (rc = mdb_env_open(env, data, 0, 0600)) || (rc = mdb_txn_begin(env, NULL, 0, &txn)))
        goto out;
    if ((rc = mdb_dbi_open(txn, "events", 0, &ev)) || (rc = mdb_dbi_open(txn, "meta", 0, &meta)))
        goto abort;
    uint8_t key[8];
    for (uint64_t s = from; s <= to && rc == 0; s++) {
        for (int i = 0; i < 8; i++)
            key[i] = (uint8_t)(s >> (56 - 8 * i));
        MDB_val k = {8, key};
        rc = mdb_del(txn, ev, &k, NULL);
    }
    if (rc == 0 && rollback) {
        uint64_t tip = from - 1;
        for (int i = 0; i < 8; i++)
            key[i] = (uint8_t)(tip >> (56 - 8 * i));
        MDB_val k = {8, key}, v, mk = {9, "event_seq"}, mv = {8, key};
        if ((rc = mdb_get(txn, ev, &k, &v)) == 0 && (rc = mdb_put(txn, meta, &mk, &mv, 0)) == 0) {
            /* the stored body ends with the entry chain: a5 'chain' c4 20 + 32 bytes */
            MDB_val ck = {11, "event_chain"}, cv = {32, (uint8_t *)v.mv_data + v.mv_size - 32};
            rc = mdb_put(txn, meta, &ck, &cv, 0);
        }
    }
abort:
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = mdb_txn_commit(txn);
out:
    mdb_env_close(env);
    if (rc)
        fprintf(stderr, "\n  truncate_events: %s\n", mdb_strerror(rc));
    return rc;
}

static void truncated_store_refuses(bool rollback)
{
    reset();
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(open_cases(&T, rollback ? 88800000301UL : 88800000401UL, 6), 0);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&T), 0);
    CU_ASSERT_EQUAL_FATAL(truncate_events(T.data, 5, 6, rollback), 0);
    CU_ASSERT_EQUAL_FATAL(trust_spawn(&T), 0);
    int code = trust_wait_exit_or_ready(&T, 10000);
    if (code == -1) /* still running: it accepted the store */
        testd_kill(&T);
    fprintf(stderr, "\n  truncated store (%s): exit %d\n",
            rollback ? "tip rolled back" : "tip kept", code);
    CU_ASSERT_TRUE(code > 0);
    reset();
}

static void test_truncated_store_refuses_to_start(void)
{
    truncated_store_refuses(false);
}

static void test_truncated_store_with_rolled_back_tip_refuses_to_start(void)
{
    truncated_store_refuses(true);
}

static void test_verify_compares_cases_with_events(void)
{
    reset();
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, NULL), 0);
    char cid[32];
    CU_ASSERT_EQUAL_FATAL(trust_open_case(&T, NULL, 88800000501UL, "65010101", cid), 0);
    lb_val_t *a = lb_map(), *d = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_str(a, "action", "add_note");
    lb_map_set_str(d, "note", "aaaa-original-note");
    lb_map_set(a, "data", d);
    lb_val_t *r = testd_call(&T, "case.act", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&T), 0);
    /* the note's text in the stored case, changed to another of the same length */
    char cmd[2500];
    snprintf(cmd, sizeof cmd,
             "mdb_dump -s cases '%s' | sed 's/61616161/62626262/' > '%s/cases.dump' && "
             "grep -q 62626262 '%s/cases.dump' && mdb_load -s cases -f '%s/cases.dump' '%s'",
             T.data, T.dir, T.dir, T.dir, T.data);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&T), 0);
    r = testd_call(&T, "admin.verify", NULL);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    const lb_val_t *ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && !ok->b);
    CU_ASSERT_STRING_EQUAL(lb_map_str(lbc_reply_result(r), "first_bad_case") ?: "", cid);
    lb_val_free(&r);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

/* One counter of the counts database (key scope \0 name, 8-byte big-endian value) changed. */
static void test_verify_compares_counters_with_cases(void)
{
    reset();
    CU_ASSERT_EQUAL_FATAL(testd_start(&T, NULL), 0);
    char cid[32];
    for (unsigned long i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(trust_open_case(&T, NULL, 88800000601UL + i, "65010101", cid), 0);
    lb_val_t *r = testd_call(&T, "admin.verify", NULL);
    const lb_val_t *ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE_FATAL(ok && ok->type == LB_BOOL && ok->b);
    CU_ASSERT_PTR_NULL(lb_map_get(lbc_reply_result(r), "bad_counter"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&T), 0);
    /* the value of the first state counter of scope 6501 (3 open cases) becomes 99 ('c') */
    char dump[400], out[400], cmd[1200];
    snprintf(dump, sizeof dump, "%s/counts.dump", T.dir);
    snprintf(out, sizeof out, "%s/counts.tampered", T.dir);
    snprintf(cmd, sizeof cmd, "mdb_dump -p -s counts -f '%s' '%s'", dump, T.data);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    FILE *f = fopen(dump, "r"), *o = fopen(out, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    char line[256], name[256] = "";
    bool next_is_value = false, changed = false;
    while (fgets(line, sizeof line, f)) {
        if (next_is_value) {
            CU_ASSERT_STRING_EQUAL(line, " \\00\\00\\00\\00\\00\\00\\00\\03\n");
            snprintf(line, sizeof line, " \\00\\00\\00\\00\\00\\00\\00c\n");
            next_is_value = false;
            changed = true;
        } else if (!changed && strncmp(line, " 6501\\00state:", 14) == 0) {
            snprintf(name, sizeof name, "%.200s", line + 8);
            name[strcspn(name, "\n")] = '\0';
            next_is_value = true;
        }
        fputs(line, o);
    }
    fclose(f);
    fclose(o);
    CU_ASSERT_TRUE_FATAL(changed);
    snprintf(cmd, sizeof cmd, "mdb_load -s counts -f '%s' '%s' 2>/dev/null", out, T.data);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&T), 0);
    r = testd_call(&T, "admin.verify", NULL);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && !ok->b);
    const lb_val_t *bc = lb_map_get(lbc_reply_result(r), "bad_counter");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bc);
    CU_ASSERT_STRING_EQUAL(lb_map_str(bc, "scope") ?: "", "6501");
    CU_ASSERT_STRING_EQUAL(lb_map_str(bc, "name") ?: "", name);
    int64_t stored = -1, computed = -1;
    lb_map_int(bc, "stored", &stored);
    lb_map_int(bc, "computed", &computed);
    CU_ASSERT_EQUAL(stored, 99);
    CU_ASSERT_EQUAL(computed, 3);
    /* the cases and the event chain themselves are fine */
    CU_ASSERT_PTR_NULL(lb_map_get(lbc_reply_result(r), "first_bad_case"));
    CU_ASSERT_PTR_NULL(lb_map_get(lbc_reply_result(r), "first_bad_seq"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(testd_stop(&T), 0);
    reset();
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("trust: audit (finding 7)", suite_init, suite_clean);
    CU_add_test(s, "heartbeats and admin.verify carry a signed head",
                test_heartbeats_and_verify_are_signed);
    CU_add_test(s, "logbook verify --witness catches a store put back to an older copy",
                test_witness_catches_a_rewound_store);
    CU_add_test(s, "events deleted below the recorded tip: refuses to start",
                test_truncated_store_refuses_to_start);
    CU_add_test(s, "events deleted and the tip in data.mdb rolled back: refuses to start",
                test_truncated_store_with_rolled_back_tip_refuses_to_start);
    CU_add_test(s, "admin.verify finds a case record edited in the database",
                test_verify_compares_cases_with_events);
    CU_add_test(s, "admin.verify finds a counter changed in the database (bad_counter)",
                test_verify_compares_counters_with_cases);
    return testd_run_all();
}
