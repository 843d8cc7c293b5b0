/*
 * test_lbd.c - CUnit tests of the daemon's parts without sockets: config and
 * registry loading, the op table, event building, personal-data sealing, and
 * the handlers run against a real store in a temporary folder with the
 * shipped workflows, including an allocation failure injected at every point
 * of building an event (the request must fail whole: no event appended,
 * nothing leaked).
 */
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "../../daemon/ops.h"
#include "../lib/cu.h"

/* ---- fixtures ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A daemon without sockets: store, definitions, keys, manual clock, one admin client. */
typedef struct {
    char dir[64];
    lbd_t d;
    lbd_client_t admin;
    char *areas[1];
    char default_wf[32];
} fx_t;

static int fx_new(fx_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/lbd-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char err[512] = "";
    store_opts_t so = {0};
    static const char *const wfs[] = {"config/workflows/tpmap-household.yaml",
                                      "config/workflows/socialmap-referral.yaml",
                                      "tests/data/workflows/good/engine-test.yaml"};
    if (store_open(f->dir, &so, &f->d.store, err, sizeof err) ||
        wf_catalog_load("config/indicators.yaml", &f->d.cat, err, sizeof err) ||
        wf_set_load_files(wfs, 3, &f->d.wfs, err, sizeof err)) {
        fprintf(stderr, "fixture: %s\n", err);
        return -1;
    }
    snprintf(f->default_wf, sizeof f->default_wf, "tpmap-household");
    f->d.cfg.default_workflow = f->default_wf;
    if (sodium_init() < 0)
        return -1;
    f->d.keys.pii_key = sodium_malloc(32);
    f->d.keys.nid_key = sodium_malloc(32);
    if (!f->d.keys.pii_key || !f->d.keys.nid_key)
        return -1;
    randombytes_buf(f->d.keys.pii_key, 32);
    randombytes_buf(f->d.keys.nid_key, 32);
    f->d.manual_clock = true;
    f->d.manual_now = 1767225600000; /* 2026-01-01 */
    snprintf(f->admin.name, sizeof f->admin.name, "admin");
    f->admin.role = LBD_ROLE_ADMIN;
    f->areas[0] = "";
    f->admin.areas = f->areas;
    f->admin.n_areas = 1;
    f->admin.events = true;
    return 0;
}

static void fx_free(fx_t *f)
{
    store_close(&f->d.store);
    wf_set_destroy(&f->d.wfs);
    wf_catalog_destroy(&f->d.cat);
    lbd_keys_clear(&f->d.keys);
    rm_rf(f->dir);
}

/* One request through lbd_execute in a nested transaction, as the loop runs it. */
typedef struct {
    fx_t *f;
    proto_req_t *req;
    long fail_after; /* lb_test_fail_allocs for the handler only; -1 off */
    bool commit;     /* keep what it wrote */
    int rc;
    uint64_t tip_before, tip_after;
    lb_val_t *event; /* the newest event after the request, when it appended one */
    lb_val_t *result;
    char errmsg[256];
} run_t;

static int run_fn(store_txn_t *txn, void *arg)
{
    run_t *r = arg;
    uint8_t chain[32];
    store_txn_t *child;
    int rc = store_event_tip(txn, &r->tip_before, chain);
    if (rc == 0)
        rc = store_nested_begin(txn, &child);
    if (rc)
        return rc;
    lbd_pubs_t pubs = {0};
    lbd_ctx_t ctx = {.d = &r->f->d,
                     .client = &r->f->admin,
                     .req = r->req,
                     .now = lbd_now(&r->f->d),
                     .txn = child,
                     .pubs = &pubs};
    lb_test_fail_allocs(r->fail_after);
    r->rc = lbd_execute(&ctx);
    lb_test_fail_allocs(-1);
    snprintf(r->errmsg, sizeof r->errmsg, "%s", ctx.errmsg);
    r->result = ctx.result;
    if (r->rc == 0)
        rc = store_nested_commit(&child);
    else
        store_nested_abort(&child);
    lbd_pubs_free(&pubs);
    if (rc)
        return rc;
    if ((rc = store_event_tip(txn, &r->tip_after, chain)))
        return rc;
    const void *body;
    size_t len;
    proto_err_t perr;
    if (r->tip_after > r->tip_before && store_event_get(txn, r->tip_after, &body, &len) == 0)
        proto_unpack(body, len, &proto_default_limits, &r->event, &perr);
    return r->commit ? 0 : LB_EEXIST; /* any error: store_write aborts */
}

static int run(fx_t *f, proto_req_t *req, long fail_after, bool commit, run_t *r)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->req = req;
    r->fail_after = fail_after;
    r->commit = commit;
    int64_t clock = f->d.manual_now;
    int rc = store_write(f->d.store, run_fn, r);
    if (!commit)
        f->d.manual_now = clock; /* admin.clock moved it; the write was undone */
    return commit ? rc : (rc == LB_EEXIST ? 0 : rc);
}

static void run_clear(run_t *r)
{
    lb_val_free(&r->event);
    lb_val_free(&r->result);
}

/* A request of op with args (taken), checked against the op's row schema. */
static void req_make(proto_req_t *req, proto_op_t op, lb_val_t *args)
{
    memset(req, 0, sizeof *req);
    snprintf(req->id, sizeof req->id, "t-%d", (int)op);
    req->op = op;
    req->doc = args;
    req->args = args;
    proto_err_t perr;
    int rc = proto_check_args(lbd_op_get(op)->schema, args, &perr);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "args of %s: %s: %s\n", proto_op_name(op), perr.field, perr.message);
}

static lb_val_t *open_args(const char *house)
{
    lb_val_t *args = lb_map(), *h = lb_map(), *m = lb_map(), *members = lb_arr(), *dep = lb_arr();
    int rc = 0;
    lb_put_str(h, "house_id", house, &rc);
    lb_put_str(h, "area", "65010101", &rc);
    lb_put_str(h, "head", "Somchai", &rc);
    lb_put_str(m, "nid", "1101700203450", &rc);
    lb_put_str(m, "name", "Somchai", &rc);
    lb_push(members, m, &rc);
    lb_put(h, "members", members, &rc);
    lb_push(dep, lb_str("bmn22"), &rc);
    lb_push(dep, lb_str("bmn8"), &rc);
    lb_put(h, "deprived", dep, &rc);
    lb_put(args, "household", h, &rc);
    lb_put_str(args, "team", "team-mueang-1", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    return args;
}

/* ---- config and registry ---- */

static void test_config_errors(void)
{
    static const struct {
        const char *file, *says;
    } bad[] = {
        {"tests/data/lbd/missing.yaml", "missing.yaml"},
        {"tests/data/lbd/config-syntax.yaml", "config-syntax.yaml:"},
        {"tests/data/lbd/config-unknown-key.yaml", "log_levle"},
        {"tests/data/lbd/config-no-data-dir.yaml", "data_dir"},
        {"tests/data/lbd/config-bad-batch-max.yaml", "batch_max"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lbd_config_t cfg = {0};
        char err[512] = "";
        CU_ASSERT_EQUAL(lbd_config_load(bad[i].file, &cfg, err, sizeof err), LB_ECONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].says));
        if (!strstr(err, bad[i].says))
            fprintf(stderr, "%s: %s\n", bad[i].file, err);
        lbd_config_clear(&cfg);
    }
    lbd_config_t cfg = {0};
    char err[512] = "";
    CU_ASSERT_EQUAL(lbd_config_load("config/logbookd.yaml", &cfg, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.default_workflow, "tpmap-household");
    CU_ASSERT_EQUAL(cfg.batch_max, 512);
    CU_ASSERT(cfg.curve);
    lbd_config_clear(&cfg);
}

static void test_registry(void)
{
    uint8_t admin_key[32], team_key[32];
    memset(admin_key, 7, sizeof admin_key);
    CU_ASSERT_PTR_NOT_NULL(zmq_z85_decode(team_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
    lbd_registry_t reg = {0};
    char err[512] = "";
    CU_ASSERT_EQUAL(lbd_registry_load(NULL, admin_key, &reg, err, sizeof err), 0);
    CU_ASSERT_EQUAL(reg.n, 1);
    const lbd_client_t *a = lbd_registry_by_key(&reg, admin_key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_STRING_EQUAL(a->name, "admin");
    CU_ASSERT_EQUAL(a->role, LBD_ROLE_ADMIN);
    CU_ASSERT(lbd_client_covers(a, "65010101"));
    lbd_registry_clear(&reg);

    CU_ASSERT_EQUAL(
        lbd_registry_load("tests/data/lbd/clients-good.yaml", admin_key, &reg, err, sizeof err), 0);
    CU_ASSERT_EQUAL(reg.n, 2);
    const lbd_client_t *t = lbd_registry_by_name(&reg, "team");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->role, LBD_ROLE_FIELD);
    CU_ASSERT_PTR_EQUAL(lbd_registry_by_key(&reg, team_key), t);
    CU_ASSERT(lbd_client_covers(t, "65010101"));
    CU_ASSERT(lbd_client_covers(t, "65020101"));
    CU_ASSERT(!lbd_client_covers(t, "65030101"));
    CU_ASSERT(!lbd_client_covers(t, "65"));
    lbd_registry_clear(&reg);

    CU_ASSERT_EQUAL(
        lbd_registry_load("tests/data/lbd/clients-bad-role.yaml", admin_key, &reg, err, sizeof err),
        LB_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "role"));
    lbd_registry_clear(&reg);
}

/* security.bootstrap_admin: false drops the generated key, and needs an admin in the file. */
static void test_registry_bootstrap_off(void)
{
    uint8_t admin_key[32];
    memset(admin_key, 7, sizeof admin_key);
    lbd_config_t cfg = {.clients = "tests/data/lbd/clients-good.yaml", .bootstrap_admin = false};
    lbd_registry_t reg = {0};
    char err[512] = "";
    CU_ASSERT_EQUAL(lbd_registry_load_cfg(&cfg, admin_key, &reg, err, sizeof err), LB_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bootstrap_admin"));
    CU_ASSERT_EQUAL(reg.n, 0);
    cfg.clients = "tests/data/lbd/clients-with-admin.yaml";
    CU_ASSERT_EQUAL_FATAL(lbd_registry_load_cfg(&cfg, admin_key, &reg, err, sizeof err), 0);
    CU_ASSERT_EQUAL(reg.n, 2);
    CU_ASSERT_PTR_NULL(lbd_registry_by_key(&reg, admin_key));
    const lbd_client_t *a = lbd_registry_by_name(&reg, "admin"); /* the name is free then */
    CU_ASSERT(a && a->role == LBD_ROLE_ADMIN);
    lbd_registry_clear(&reg);
    cfg.bootstrap_admin = true;
    cfg.clients = "tests/data/lbd/clients-good.yaml";
    CU_ASSERT_EQUAL_FATAL(lbd_registry_load_cfg(&cfg, admin_key, &reg, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(lbd_registry_by_key(&reg, admin_key));
    lbd_registry_clear(&reg);
}

/* ---- the op table ---- */

static void test_optable(void)
{
    char err[256] = "";
    CU_ASSERT_EQUAL(lbd_optable_check(err, sizeof err), 0);
    for (int i = 0; i < PROTO_OP_COUNT; i++) {
        const lbd_op_t *row = lbd_op_get((proto_op_t)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(row);
        CU_ASSERT_EQUAL(row->op, i);
        CU_ASSERT_PTR_NOT_NULL(row->fn);
        CU_ASSERT_PTR_EQUAL(row->schema, proto_op_schema((proto_op_t)i));
        CU_ASSERT(row->roles & (1u << LBD_ROLE_ADMIN)); /* admin may run everything */
        CU_ASSERT_EQUAL(lbd_op_writes((proto_op_t)i), proto_op_writes((proto_op_t)i));
    }
    CU_ASSERT_PTR_NULL(lbd_op_get(PROTO_OP_COUNT));
    CU_ASSERT(!lbd_op_writes(PROTO_OP_COUNT));
    /* reporters read, never write */
    for (int i = 0; i < PROTO_OP_COUNT; i++)
        if (lbd_op_writes((proto_op_t)i))
            CU_ASSERT(!(lbd_op_get((proto_op_t)i)->roles & (1u << LBD_ROLE_REPORTER)));
}

/* ---- event building ---- */

static void test_event_new(void)
{
    wf_case_t c = {0};
    snprintf(c.case_id, sizeof c.case_id, "C000000042");
    snprintf(c.house_id, sizeof c.house_id, "65010000001");
    snprintf(c.area, sizeof c.area, "65010101");
    snprintf(c.workflow, sizeof c.workflow, "tpmap-household");
    lb_val_t *ev = lbd_event_new(&c, 1234, "case", "opened", "team-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    static const char *const keys[] = {"v",       "seq",      "at",   "kind",     "type",
                                       "case_id", "house_id", "area", "workflow", "actor"};
    CU_ASSERT_EQUAL(ev->m.n, 10);
    for (uint32_t i = 0; i < ev->m.n && i < 10; i++)
        CU_ASSERT_STRING_EQUAL(ev->m.keys[i], keys[i]);
    int64_t at = 0;
    CU_ASSERT_EQUAL(lb_map_int(ev, "at", &at), 0);
    CU_ASSERT_EQUAL(at, 1234);
    CU_ASSERT_STRING_EQUAL(lb_map_str(ev, "actor"), "team-1");
    lb_val_free(&ev);

    /* every allocation of the body, in turn, fails: NULL, never a partial body */
    for (long n = 0; n < 100; n++) {
        lb_test_fail_allocs(n);
        ev = lbd_event_new(&c, 1234, "case", "opened", "team-1");
        lb_test_fail_allocs(-1);
        if (ev) {
            CU_ASSERT_EQUAL(ev->m.n, 10);
            lb_val_free(&ev);
            break;
        }
    }
}

/* ---- handlers, and allocation failures while they build events ---- */

/*
 * Runs req once untouched for the reference, then with value allocations
 * failing after 0, 1, 2, ... successes until one run gets through. Every
 * failing run must return an internal error and leave the event log as it
 * was; the run that gets through must append exactly the reference event.
 */
static void fail_every_alloc(fx_t *f, proto_req_t *req)
{
    run_t ref, r;
    CU_ASSERT_EQUAL_FATAL(run(f, req, -1, false, &ref), 0);
    CU_ASSERT_EQUAL_FATAL(ref.rc, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref.event);
    long n;
    for (n = 0; n < 100000; n++) {
        CU_ASSERT_EQUAL_FATAL(run(f, req, n, false, &r), 0);
        if (r.rc == 0) {
            CU_ASSERT_EQUAL(r.tip_after, ref.tip_after);
            CU_ASSERT(lb_val_equal(r.event, ref.event));
            run_clear(&r);
            break;
        }
        if (r.rc != LB_ENOMEM)
            fprintf(stderr, "%s, allocation %ld failing: %s (%s)\n", proto_op_name(req->op), n,
                    lb_strerror(r.rc), r.errmsg);
        CU_ASSERT_EQUAL(r.rc, LB_ENOMEM);
        CU_ASSERT_EQUAL(r.tip_after, r.tip_before); /* no event, whole or half */
        CU_ASSERT_PTR_NULL(r.event);
        run_clear(&r);
    }
    CU_ASSERT(n > 10); /* the request did allocate: the injector reached it */
    run_clear(&ref);
}

static void test_open_alloc_failures(void)
{
    fx_t f;
    CU_ASSERT_EQUAL_FATAL(fx_new(&f), 0);
    proto_req_t req;
    req_make(&req, PROTO_OP_CASE_OPEN, open_args("65010000001"));
    run_t r;
    CU_ASSERT_EQUAL(run(&f, &req, -1, false, &r), 0);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.event);
    /* the opened event carries its data: source and team */
    const lb_val_t *data = lb_map_get(r.event, "data");
    CU_ASSERT_STRING_EQUAL(lb_map_str(data, "source"), "tpmap");
    CU_ASSERT_STRING_EQUAL(lb_map_str(data, "team"), "team-mueang-1");
    CU_ASSERT_STRING_EQUAL(lb_map_str(r.event, "to"), "identified");
    CU_ASSERT_STRING_EQUAL(lb_map_str(r.result, "case_id"), "C000000001");
    run_clear(&r);
    fail_every_alloc(&f, &req);
    proto_req_clear(&req);
    fx_free(&f);
}

static void test_act_ack_clock_alloc_failures(void)
{
    fx_t f;
    CU_ASSERT_EQUAL_FATAL(fx_new(&f), 0);
    proto_req_t req;
    run_t r;
    req_make(&req, PROTO_OP_CASE_OPEN, open_args("65010000001"));
    CU_ASSERT_EQUAL_FATAL(run(&f, &req, -1, true, &r), 0);
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    run_clear(&r);
    proto_req_clear(&req);

    /* case.act: schedule a visit */
    lb_val_t *args = lb_map(), *data = lb_map();
    int rc = 0;
    lb_put_str(args, "case_id", "C000000001", &rc);
    lb_put_str(args, "action", "schedule_visit", &rc);
    lb_put_str(data, "team", "team-mueang-1", &rc);
    lb_put(args, "data", data, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    req_make(&req, PROTO_OP_CASE_ACT, args);
    CU_ASSERT_EQUAL(run(&f, &req, -1, false, &r), 0);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_STRING_EQUAL(lb_map_str(r.event, "from"), "identified");
    CU_ASSERT_STRING_EQUAL(lb_map_str(r.event, "to"), "visit_scheduled");
    CU_ASSERT_STRING_EQUAL(lb_map_str(r.event, "action"), "schedule_visit");
    run_clear(&r);
    fail_every_alloc(&f, &req);
    proto_req_clear(&req);

    /* admin.clock: 8 days on, the identified case escalates to the team (lbd_fire_due) */
    args = lb_map();
    lb_put_int(args, "advance_s", 8 * 86400, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    req_make(&req, PROTO_OP_ADMIN_CLOCK, args);
    CU_ASSERT_EQUAL_FATAL(run(&f, &req, -1, false, &r), 0);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_STRING_EQUAL(lb_map_str(r.event, "type"), "fired");
    CU_ASSERT_PTR_NOT_NULL(lb_map_get(lb_map_get(r.event, "data"), "due"));
    run_clear(&r);
    fail_every_alloc(&f, &req);
    CU_ASSERT_EQUAL_FATAL(run(&f, &req, -1, true, &r), 0); /* keep the escalation */
    run_clear(&r);
    proto_req_clear(&req);

    /* case.ack of that escalation, with a note */
    args = lb_map();
    lb_put_str(args, "case_id", "C000000001", &rc);
    lb_put_str(args, "note", "seen", &rc);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    req_make(&req, PROTO_OP_CASE_ACK, args);
    CU_ASSERT_EQUAL(run(&f, &req, -1, false, &r), 0);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_STRING_EQUAL(lb_map_str(lb_map_get(r.event, "data"), "note"), "seen");
    run_clear(&r);
    fail_every_alloc(&f, &req);
    proto_req_clear(&req);
    fx_free(&f);
}

static void test_import_bulk(void)
{
    fx_t f;
    CU_ASSERT_EQUAL_FATAL(fx_new(&f), 0);
    proto_req_t req;
    run_t r;
    req_make(&req, PROTO_OP_CASE_OPEN, open_args("65010000001"));
    CU_ASSERT_EQUAL_FATAL(run(&f, &req, -1, true, &r), 0);
    run_clear(&r);
    proto_req_clear(&req);

    /* one new household, one that has an open case (skipped), one bad (an error) */
    lb_val_t *args = lb_map(), *hs = lb_arr();
    int rc = 0;
    lb_val_t *a = open_args("65010000002"), *b = open_args("65010000001");
    lb_push(hs, lb_val_dup(lb_map_get(a, "household")), &rc);
    lb_push(hs, lb_val_dup(lb_map_get(b, "household")), &rc);
    lb_val_t *bad = lb_val_dup(lb_map_get(a, "household"));
    lb_put_str(bad, "house_id", "123", &rc);
    lb_push(hs, bad, &rc);
    lb_val_free(&a);
    lb_val_free(&b);
    lb_put(args, "households", hs, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    req_make(&req, PROTO_OP_CASE_IMPORT, args);
    CU_ASSERT_EQUAL(run(&f, &req, -1, false, &r), 0);
    CU_ASSERT_EQUAL(r.rc, 0);
    int64_t opened = -1, skipped = -1, index = -1;
    lb_map_int(r.result, "opened", &opened);
    lb_map_int(r.result, "skipped", &skipped);
    CU_ASSERT_EQUAL(opened, 1);
    CU_ASSERT_EQUAL(skipped, 1);
    const lb_val_t *errors = lb_map_get(r.result, "errors");
    CU_ASSERT_EQUAL_FATAL(errors ? errors->a.n : 0, 1);
    lb_map_int(errors->a.items[0], "index", &index);
    CU_ASSERT_EQUAL(index, 2);
    CU_ASSERT_STRING_EQUAL(lb_map_str(errors->a.items[0], "code"), "bad_request");
    CU_ASSERT_EQUAL(r.tip_after, r.tip_before + 1);
    run_clear(&r);
    fail_every_alloc(&f, &req);
    proto_req_clear(&req);
    fx_free(&f);
}

/* ---- personal data ---- */

static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, 24);
}

/*
 * Seals made one after another (more than one nonce pool's worth) each take a
 * nonce of their own, append to what out holds, open again to the household,
 * and refuse to open under another case id.
 */
static void test_pii_seal(void)
{
    lbd_keys_t keys = {.pii_key = sodium_malloc(32)};
    CU_ASSERT_PTR_NOT_NULL_FATAL(keys.pii_key);
    randombytes_buf(keys.pii_key, 32);
    lb_val_t *h = lb_map();
    lb_map_set_str(h, "house_id", "65010000001");
    lb_map_set_str(h, "address", "12 Moo 3");
    enum { N = 300 };
    static uint8_t nonces[N][24];
    lb_buf_t out = {0};
    lb_buf_append(&out, "x", 1); /* a seal appends */
    size_t at = out.len;
    for (int i = 0; i < N; i++) {
        size_t from = out.len;
        CU_ASSERT_EQUAL_FATAL(lbd_pii_seal(&keys, "C000000001", h, &out), 0);
        CU_ASSERT_EQUAL(out.p[from], 1); /* the seal's version */
        memcpy(nonces[i], out.p + from + 1, 24);
        lb_val_t *back = NULL;
        CU_ASSERT_EQUAL(lbd_pii_open(&keys, "C000000001", out.p + from, out.len - from, &back), 0);
        CU_ASSERT_TRUE(back && lb_val_equal(back, h));
        lb_val_free(&back);
        CU_ASSERT_EQUAL(lbd_pii_open(&keys, "C000000002", out.p + from, out.len - from, &back),
                        LB_ECORRUPT);
        CU_ASSERT_PTR_NULL(back);
    }
    CU_ASSERT_EQUAL(out.p[0], 'x');
    CU_ASSERT_TRUE(out.len > at);
    qsort(nonces, N, 24, cmp_nonce);
    int same = 0;
    for (int i = 1; i < N; i++)
        same += memcmp(nonces[i - 1], nonces[i], 24) == 0;
    CU_ASSERT_EQUAL(same, 0);
    lb_buf_free(&out);
    lb_val_free(&h);
    sodium_free(keys.pii_key);
}

static const cu_test_t tests[] = {
    {"config: errors name the file and the key", test_config_errors},
    {"registry: admin added, lookups, scopes, errors", test_registry},
    {"registry: bootstrap_admin false needs an admin in the file", test_registry_bootstrap_off},
    {"op table: one complete row per op", test_optable},
    {"event body: common keys in order, no partial body", test_event_new},
    {"case.open: allocation failures fail it whole", test_open_alloc_failures},
    {"case.act, admin.clock, case.ack: allocation failures", test_act_ack_clock_alloc_failures},
    {"case.import: per-item errors, skips, allocation failures", test_import_bulk},
    {"personal data: a nonce per seal, appended, opened only under its case id", test_pii_seal},
};

int main(void)
{
    return cu_run("lbd", NULL, NULL, tests, CU_COUNT(tests));
}
