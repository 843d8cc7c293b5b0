/*
 * test_people.c - integration tests of PROTOCOL.md 9.15 against a real
 * logbookd: a gateway key acting `as` a person gets that person's role and
 * areas, events name "USER via KEY", and the users file is watched: an edit
 * (a new user, a disabled one) applies within 2 seconds with no signal, and
 * a bad file keeps the people in force.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "../../proto/cert.h"
#include "../../proto/proto.h"
#include "../../proto/users.h"
#include "../lib/cu.h"
#include "../lib/testd.h"

static testd_t D;
static char gw_sec[400], field_sec[400], users_path[400];
static char case_6501[LB_CASE_ID_MAX], case_6502[LB_CASE_ID_MAX];
static int req_n;

/* Rewrites the users file crash-safely (as `logbook user` does): a new inode each time. */
static int write_users(const char *const *lines)
{
    lb_users_t u = {0};
    char err[256];
    int rc = 0;
    for (size_t i = 0; rc == 0 && lines[i]; i++) {
        /* "NAME ROLE AREA[,AREA] active|disabled" */
        char name[64], role[16], areas[64], state[16];
        if (sscanf(lines[i], "%63s %15s %63s %15s", name, role, areas, state) != 4)
            return -1;
        char *av[4];
        size_t n = 0;
        for (char *tok = strtok(areas, ","); tok && n < 4; tok = strtok(NULL, ","))
            av[n++] = strcmp(tok, "*") == 0 ? "" : tok;
        lb_user_t x = {.areas = av, .n_areas = n, .disabled = strcmp(state, "disabled") == 0};
        snprintf(x.name, sizeof x.name, "%s", name);
        snprintf(x.hash, sizeof x.hash, "!");
        if (lb_role_parse(role, &x.role))
            return -1;
        rc = lb_users_put(&u, &x, false, err, sizeof err);
    }
    if (rc == 0)
        rc = lb_users_save(&u, users_path, err, sizeof err);
    lb_users_clear(&u);
    return rc;
}

static const char *const PEOPLE[] = {"somchai field 6501 active", "anong committee * active",
                                     "suda field 6501 disabled", NULL};

/* Adds security.users to the config testd wrote and restarts the daemon on it. */
static int use_users_file(void)
{
    FILE *f = fopen(D.config, "r");
    char text[8192];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    const char *key = "  clients: clients.yaml\n";
    char *at = strstr(text, key);
    if (!at)
        return -1;
    at += strlen(key);
    char out[8400];
    snprintf(out, sizeof out, "%.*s  users: users.tsv\n%s", (int)(at - text), text, at);
    f = fopen(D.config, "w");
    if (!f)
        return -1;
    fputs(out, f);
    fclose(f);
    if (testd_stop(&D) != 0)
        return -1;
    return testd_restart(&D);
}

/*
 * Sends {v, id, op, args, as} on a fresh REQ socket with the CURVE certificate
 * cert (as NULL: no `as`); returns the decoded reply or NULL. args consumed.
 */
static lb_val_t *send_as(const char *cert, const char *as, const char *id, const char *op,
                         lb_val_t *args)
{
    char server[400], err[256], idbuf[32];
    snprintf(server, sizeof server, "%s/keys/server.key", D.data);
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "people-%d", ++req_n);
        id = idbuf;
    }
    lb_val_t *doc = lb_map();
    lb_map_set_int(doc, "v", 1);
    lb_map_set_str(doc, "id", id);
    lb_map_set_str(doc, "op", op);
    if (as)
        lb_map_set_str(doc, "as", as);
    lb_map_set(doc, "args", args ? args : lb_map());
    lb_buf_t b = {0};
    lb_cert_t *ck = NULL, *sk = NULL;
    lb_val_t *reply = NULL;
    if (proto_pack(doc, &b) || lb_cert_load(cert, &ck, err, sizeof err) ||
        lb_cert_load(server, &sk, err, sizeof err))
        goto out;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, sk->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, ck->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, ck->secret_key, 32);
    zmq_connect(s, D.req_ep);
    zmq_send(s, b.p, b.len, 0);
    char *rbuf = malloc(1 << 20);
    int n = rbuf ? zmq_recv(s, rbuf, 1 << 20, 0) : -1;
    if (n > 0) {
        proto_err_t perr;
        proto_unpack(rbuf, (size_t)n, &proto_default_limits, &reply, &perr);
    }
    free(rbuf);
    zmq_close(s);
    zmq_ctx_term(ctx);
out:
    lb_cert_destroy(&ck);
    lb_cert_destroy(&sk);
    lb_buf_free(&b);
    lb_val_free(&doc);
    return reply;
}

static const char *err_field(const lb_val_t *r)
{
    const char *f = r ? lb_map_str(lb_map_get(r, "error"), "field") : NULL;
    return f ? f : "";
}

static const char *err_message(const lb_val_t *r)
{
    const char *m = r ? lb_map_str(lb_map_get(r, "error"), "message") : NULL;
    return m ? m : "";
}

static lb_val_t *open_args(unsigned long house, const char *area)
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(house, area));
    return a;
}

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char gpub[41], fpub[41];
    if (testd_keygen(&D, "web", gpub, gw_sec, sizeof gw_sec) ||
        testd_keygen(&D, "fieldkey", fpub, field_sec, sizeof field_sec))
        return -1;
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: web, public_key: \"%s\", role: gateway, events: true }\n"
             "  - { name: fieldkey, public_key: \"%s\", role: field, areas: [\"6501\"] }\n",
             gpub, fpub);
    snprintf(users_path, sizeof users_path, "%s/users.tsv", D.dir);
    if (testd_set_clients(&D, yaml) || write_users(PEOPLE) || use_users_file())
        return -1;
    /* one case in the person's district and one outside it, opened by the admin */
    const char *areas[2] = {"65010101", "65020101"};
    char *ids[2] = {case_6501, case_6502};
    for (int i = 0; i < 2; i++) {
        lb_val_t *a = open_args(40000000000UL + (unsigned long)i, areas[i]);
        lb_val_t *r = testd_call(&D, "case.open", a);
        lb_val_free(&a);
        if (!r || !lbc_reply_ok(r)) {
            lb_val_free(&r);
            return -1;
        }
        snprintf(ids[i], LB_CASE_ID_MAX, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
        lb_val_free(&r);
    }
    return 0;
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *case_arg(const char *case_id)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    return a;
}

static void test_acts_as_the_person(void)
{
    /* a field person in 6501 opens a case there; the event names the person and the gateway */
    lb_val_t *r =
        send_as(gw_sec, "somchai", NULL, "case.open", open_args(41000000001UL, "65010102"));
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    char id[LB_CASE_ID_MAX];
    snprintf(id, sizeof id, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    lb_val_t *a = case_arg(id);
    r = testd_call(&D, "case.history", a);
    lb_val_free(&a);
    const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
    CU_ASSERT_FATAL(evs && evs->type == LB_ARR && evs->a.n >= 1);
    CU_ASSERT_STRING_EQUAL(lb_map_str(evs->a.items[0], "actor"), "somchai via web");
    lb_val_free(&r);
    /* ... and may read it back, as the person */
    r = send_as(gw_sec, "somchai", NULL, "case.get", case_arg(id));
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
}

static void test_person_scope_and_role(void)
{
    /* outside the person's areas: refused as it would be for a key with them */
    lb_val_t *r = send_as(gw_sec, "somchai", NULL, "case.get", case_arg(case_6502));
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = send_as(gw_sec, "somchai", NULL, "case.open", open_args(41000000002UL, "65020102"));
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    /* the role is the person's: a field person may not acknowledge; a committee one may read all */
    r = send_as(gw_sec, "somchai", NULL, "case.ack", case_arg(case_6501));
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    CU_ASSERT_STRING_EQUAL(err_field(r), "op");
    lb_val_free(&r);
    r = send_as(gw_sec, "somchai", NULL, "admin.stats", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    r = send_as(gw_sec, "anong", NULL, "case.get", case_arg(case_6502));
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
}

static void test_as_refusals(void)
{
    /* a key that is not a gateway may not send as */
    lb_val_t *r = send_as(field_sec, "somchai", NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    CU_ASSERT_STRING_EQUAL(err_field(r), "as");
    lb_val_free(&r);
    /* the same key without as works */
    r = send_as(field_sec, NULL, NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    /* a gateway only acts for people */
    r = send_as(gw_sec, NULL, NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    CU_ASSERT_STRING_EQUAL(err_field(r), "as");
    lb_val_free(&r);
    r = send_as(gw_sec, "nobody", NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    CU_ASSERT_STRING_EQUAL(err_message(r), "unknown user nobody");
    lb_val_free(&r);
    r = send_as(gw_sec, "suda", NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    CU_ASSERT_STRING_EQUAL(err_message(r), "user suda is disabled");
    lb_val_free(&r);
    /* not a user name at all: the envelope refuses it */
    r = send_as(gw_sec, "", NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    CU_ASSERT_STRING_EQUAL(err_field(r), "as");
    lb_val_free(&r);
}

/*
 * Sends ping as name until its code is want or 2 seconds pass (the daemon
 * polls the file every 500 ms). Returns the milliseconds it took, or -1.
 */
static int64_t until_code(const char *name, const char *want)
{
    int64_t t0 = lbc_mono_ms();
    for (;;) {
        lb_val_t *r = send_as(gw_sec, name, NULL, "ping", NULL);
        bool done = r && strcmp(testd_code(r), want) == 0;
        lb_val_free(&r);
        int64_t took = lbc_mono_ms() - t0;
        if (done)
            return took;
        if (took > 2000)
            return -1;
        usleep(20 * 1000);
    }
}

static void test_file_change_applies_without_signal(void)
{
    lb_val_t *r = send_as(gw_sec, "mali", NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(err_message(r), "unknown user mali");
    lb_val_free(&r);
    const char *more[] = {"somchai field 6501 active", "anong committee * active",
                          "suda field 6501 disabled", "mali reporter 65 active", NULL};
    CU_ASSERT_EQUAL_FATAL(write_users(more), 0);
    int64_t took = until_code("mali", "");
    CU_ASSERT(took >= 0 && took <= 2000);
    /* disabling a person cuts the next request off */
    const char *off[] = {"somchai field 6501 disabled", "anong committee * active",
                         "suda field 6501 disabled", "mali reporter 65 active", NULL};
    CU_ASSERT_EQUAL_FATAL(write_users(off), 0);
    took = until_code("somchai", "forbidden");
    CU_ASSERT(took >= 0 && took <= 2000);
    r = send_as(gw_sec, "somchai", NULL, "case.get", case_arg(case_6501));
    CU_ASSERT_STRING_EQUAL(err_message(r), "user somchai is disabled");
    lb_val_free(&r);
    CU_ASSERT_EQUAL(write_users(PEOPLE), 0);
    CU_ASSERT(until_code("somchai", "") >= 0);
}

/* The daemon's log holds needle (it writes a line per event, unbuffered). */
static bool log_has(const char *needle)
{
    FILE *f = fopen(D.log, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_bad_file_keeps_people(void)
{
    FILE *f = fopen(users_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("somchai\tboss\t6501\tactive\t!\n", f);
    fclose(f);
    int64_t t0 = lbc_mono_ms();
    while (!log_has("users file not reloaded") && lbc_mono_ms() - t0 < 3000)
        usleep(20 * 1000);
    CU_ASSERT(log_has("users file not reloaded, keeping 3 people"));
    lb_val_t *r = send_as(gw_sec, "somchai", NULL, "ping", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    /* admin.reload refuses the bad file too, keeping everything */
    r = testd_call(&D, "admin.reload", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    CU_ASSERT_PTR_NOT_NULL(strstr(err_message(r), "users.tsv:1: the role"));
    lb_val_free(&r);
    CU_ASSERT_EQUAL(write_users(PEOPLE), 0);
    /* a good file goes in force on admin.reload at once */
    r = testd_call(&D, "admin.reload", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    CU_ASSERT(until_code("anong", "") >= 0);
}

static void test_idempotency_per_gateway_key(void)
{
    /* a retry of one person's write gets the stored reply: applied once */
    lb_val_t *r1 = send_as(gw_sec, "somchai", "somchai:key-1", "case.open",
                           open_args(41000000003UL, "65010101"));
    lb_val_t *r2 = send_as(gw_sec, "somchai", "somchai:key-1", "case.open",
                           open_args(41000000003UL, "65010101"));
    CU_ASSERT_STRING_EQUAL(testd_code(r1), "");
    CU_ASSERT_STRING_EQUAL(testd_code(r2), "");
    const char *c1 = lb_map_str(lbc_reply_result(r1), "case_id");
    const char *c2 = lb_map_str(lbc_reply_result(r2), "case_id");
    CU_ASSERT(c1 && c2 && strcmp(c1, c2) == 0);
    lb_val_free(&r1);
    lb_val_free(&r2);
    /* another person's key (the gateway prefixes the name) is another request */
    r1 = send_as(gw_sec, "anong", "anong:key-1", "case.open", open_args(41000000003UL, "65010101"));
    CU_ASSERT_STRING_EQUAL(testd_code(r1), "conflict"); /* the household has its case already */
    lb_val_free(&r1);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"acts as the person", test_acts_as_the_person},
        {"person's scope and role", test_person_scope_and_role},
        {"as refusals", test_as_refusals},
        {"file change applies without signal", test_file_change_applies_without_signal},
        {"bad file keeps people", test_bad_file_keeps_people},
        {"idempotency per gateway key", test_idempotency_per_gateway_key},
    };
    return cu_run("people", suite_init, suite_clean, tests, CU_COUNT(tests));
}
