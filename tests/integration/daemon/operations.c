/*
 * operations.c - test_daemon: escalations on the manual clock, list paging, import, admin
 * operations, SIGHUP reloads, late subscribers, roles and area scopes.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_test.h"

void test_escalation_manual_clock(void)
{
    char cid[LB_CASE_ID_MAX];
    open_case(&D, "65020101", cid);
    CU_ASSERT_FATAL(cid[0]);
    lb_val_t *a = args_new();
    lb_map_set_int(a, "advance_s", 8 * 24 * 3600);
    lb_val_t *r = testd_call(&D, "admin.clock", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    r = get_case(&D, cid);
    const lb_val_t *c = lbc_reply_result(r);
    const lb_val_t *esc = lb_map_get(c, "escalations");
    CU_ASSERT_TRUE_FATAL(esc && esc->a.n >= 1);
    lb_val_t *ov = lb_map_get(c, "overdue");
    CU_ASSERT_TRUE(ov && ov->type == LB_BOOL && ov->b);
    lb_val_free(&r);
    /* visible in case.list overdue and report.summary */
    a = args_new();
    lb_map_set_str(a, "area", "6502");
    lb_map_set_bool(a, "overdue", true);
    r = testd_call(&D, "case.list", a);
    const lb_val_t *cases = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_TRUE_FATAL(cases && cases->a.n == 1);
    CU_ASSERT_STRING_EQUAL(lb_map_str(cases->a.items[0], "case_id"), cid);
    lb_val_free(&r);
    lb_val_free(&a);
    a = args_new();
    lb_map_set_str(a, "area", "6502");
    lb_map_set_str(a, "by", "district");
    r = testd_call(&D, "report.summary", a);
    const lb_val_t *totals = lb_map_get(lbc_reply_result(r), "totals");
    int64_t n = 0;
    lb_map_int(totals, "overdue", &n);
    CU_ASSERT_EQUAL(n, 1);
    lb_map_int(totals, "unacked", &n);
    CU_ASSERT_EQUAL(n, 1);
    lb_val_free(&r);
    lb_val_free(&a);
    /* ack */
    a = args_new();
    lb_map_set_str(a, "case_id", cid);
    r = testd_call(&D, "case.ack", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT_TRUE(result_int(r, "step") >= 0);
    lb_val_free(&r);
    r = testd_call(&D, "case.ack", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "conflict");
    lb_val_free(&r);
    lb_val_free(&a);
    /* entering a new state cancels the old timers */
    r = act(&D, cid, "schedule_visit", team_data("t"));
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = get_case(&D, cid);
    ov = lb_map_get(lbc_reply_result(r), "overdue");
    CU_ASSERT_TRUE(ov && ov->type == LB_BOOL && !ov->b);
    lb_val_free(&r);
}

void test_list_cursor(void)
{
    const char *area = "65030101";
    for (int i = 0; i < 25; i++) {
        char cid[LB_CASE_ID_MAX];
        open_case(&D, area, cid);
    }
    lb_val_t *a = args_new();
    lb_map_set_str(a, "area", "6503");
    lb_map_set_int(a, "limit", 10);
    int total = 0, pages = 0;
    char seen_last[LB_CASE_ID_MAX] = "";
    for (;;) {
        lb_val_t *r = testd_call(&D, "case.list", a);
        CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
        const lb_val_t *res = lbc_reply_result(r);
        const lb_val_t *cases = lb_map_get(res, "cases");
        for (uint32_t i = 0; i < cases->a.n; i++) {
            const char *id = lb_map_str(cases->a.items[i], "case_id");
            CU_ASSERT_TRUE(strcmp(id, seen_last) > 0);
            snprintf(seen_last, sizeof seen_last, "%s", id);
        }
        total += (int)cases->a.n;
        pages++;
        const char *next = lb_map_str(res, "next");
        if (!next) {
            lb_val_free(&r);
            break;
        }
        lb_map_set_str(a, "after", next);
        lb_val_free(&r);
        if (pages > 10)
            break;
    }
    CU_ASSERT_EQUAL(total, 25);
    CU_ASSERT_EQUAL(pages, 3);
    lb_val_free(&a);
}

void test_import(void)
{
    lb_val_t *a = args_new();
    lb_val_t *hs = lb_arr();
    unsigned long base = next_house;
    next_house += 100;
    for (int i = 0; i < 50; i++)
        lb_arr_push(hs, testd_household(base + (unsigned long)i, "65040101"));
    lb_val_t *bad = testd_household(base + 60, "65040101");
    lb_map_set_str(bad, "house_id", "xx");
    lb_arr_push(hs, bad);
    lb_arr_push(hs, testd_household(base, "65040101")); /* same house twice: skipped */
    lb_map_set(a, "households", hs);
    lb_val_t *r = testd_call(&D, "case.import", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    CU_ASSERT_EQUAL(result_int(r, "opened"), 50);
    CU_ASSERT_EQUAL(result_int(r, "skipped"), 1);
    const lb_val_t *errs = lb_map_get(lbc_reply_result(r), "errors");
    CU_ASSERT_TRUE_FATAL(errs && errs->a.n == 1);
    int64_t idx = -1;
    lb_map_int(errs->a.items[0], "index", &idx);
    CU_ASSERT_EQUAL(idx, 50);
    CU_ASSERT_STRING_EQUAL(lb_map_str(errs->a.items[0], "code"), "bad_request");
    lb_val_free(&r);
    /* again: all skipped */
    r = testd_call(&D, "case.import", a);
    CU_ASSERT_EQUAL(result_int(r, "opened"), 0);
    CU_ASSERT_EQUAL(result_int(r, "skipped"), 51);
    lb_val_free(&r);
    lb_val_free(&a);
    a = args_new();
    lb_map_set_str(a, "area", "6504");
    lb_map_set_str(a, "by", "village");
    r = testd_call(&D, "report.summary", a);
    const lb_val_t *rows = lb_map_get(lbc_reply_result(r), "rows");
    CU_ASSERT_TRUE_FATAL(rows && rows->a.n == 1);
    int64_t n = 0;
    lb_map_int(rows->a.items[0], "cases", &n);
    CU_ASSERT_EQUAL(n, 50);
    CU_ASSERT_STRING_EQUAL(lb_map_str(rows->a.items[0], "key"), "65040101");
    lb_val_free(&r);
    lb_val_free(&a);
}

void test_admin_ops(void)
{
    lb_val_t *r = testd_call(&D, "admin.verify", NULL);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    lb_val_t *ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && ok->b);
    CU_ASSERT_TRUE(result_int(r, "events") > 0);
    lb_val_free(&r);
    r = testd_call(&D, "admin.stats", NULL);
    CU_ASSERT_TRUE(result_int(r, "cases") > 0);
    CU_ASSERT_TRUE(result_int(r, "commits") > 0);
    lb_val_free(&r);
    lb_val_t *a = args_new();
    char path[400];
    snprintf(path, sizeof path, "%s/backup1", D.dir);
    lb_map_set_str(a, "path", path);
    r = testd_call(&D, "admin.backup", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT_TRUE(result_int(r, "bytes") > 0);
    lb_val_free(&r);
    lb_val_free(&a);
    r = testd_call(&D, "workflow.list", NULL);
    const lb_val_t *list = lbc_reply_result(r);
    CU_ASSERT_TRUE(list && list->type == LB_ARR && list->a.n >= 2);
    lb_val_free(&r);
    a = args_new();
    lb_map_set_str(a, "name", "tpmap-household");
    r = testd_call(&D, "workflow.get", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    CU_ASSERT_PTR_NOT_NULL(lb_map_get(lbc_reply_result(r), "actions"));
    lb_val_free(&r);
    lb_val_free(&a);
}

void test_sighup_reload(void)
{
    char pub[41], sec[400];
    CU_ASSERT_EQUAL_FATAL(testd_keygen(&D, "hupper", pub, sec, sizeof sec), 0);
    char yaml[512], path[400];
    snprintf(
        yaml, sizeof yaml,
        "clients:\n  - { name: hupper, public_key: \"%s\", role: committee, areas: [\"65\"] }\n",
        pub);
    snprintf(path, sizeof path, "%s/clients.yaml", D.dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(yaml, f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(kill(D.pid, SIGHUP), 0);
    /* the new key is admitted once the reload is done: poll with pings */
    bool admitted = false;
    for (int i = 0; i < 50 && !admitted; i++) {
        lbc_t *c = testd_client(&D, sec, 200, 0);
        lb_val_t *r = NULL;
        char err[256];
        if (c && lbc_call(c, "ping", NULL, &r, err, sizeof err) == 0 && lbc_reply_ok(r))
            admitted = true;
        lb_val_free(&r);
        lbc_destroy(&c);
    }
    CU_ASSERT_TRUE(admitted);
    /* an invalid registry is refused and the old one stays */
    f = fopen(path, "w");
    fputs("clients:\n  - { name: broken, role: wizard }\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(kill(D.pid, SIGHUP), 0);
    lb_val_t *r = testd_call(&D, "admin.reload", NULL); /* same path as SIGHUP, answered */
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    lbc_t *c = testd_client(&D, sec, 2000, 0);
    char err[256];
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &r, err, sizeof err), 0);
    CU_ASSERT_TRUE(lbc_reply_ok(r));
    lb_val_free(&r);
    lbc_destroy(&c);
    CU_ASSERT_EQUAL(testd_set_clients(&D, "clients: []\n"), 0);
}

void test_subscriber_catches_up_through_events_since(void)
{
    lb_val_t *p = testd_call(&D, "ping", NULL);
    uint64_t start = (uint64_t)result_int(p, "last_seq");
    lb_val_free(&p);
    /* events committed before the subscriber exists: it must fetch them, in order */
    char cid[LB_CASE_ID_MAX];
    for (int i = 0; i < 7; i++)
        open_case(&D, AREA, cid);
    lbc_sub_opts_t so = {.endpoint = D.ev_ep, .after_seq = start, .page = 3};
    lbc_sub_t *sub = NULL;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(D.admin, &so, &sub, err, sizeof err), 0);
    open_case(&D, AREA, cid); /* and one live */
    for (uint64_t want = start + 1; want <= start + 8; want++) {
        uint64_t seq = 0;
        lb_val_t *body = NULL;
        CU_ASSERT_EQUAL_FATAL(lbc_sub_next(sub, 5000, &seq, &body, NULL, err, sizeof err), 0);
        CU_ASSERT_EQUAL(seq, want);
        lb_val_free(&body);
    }
    lbc_sub_destroy(&sub);
}

/* ---- roles and scopes ---- */

void test_roles_and_scopes(void)
{
    char fpub[41], fsec[400], rpub[41], rsec[400];
    CU_ASSERT_EQUAL_FATAL(testd_keygen(&D, "field1", fpub, fsec, sizeof fsec), 0);
    CU_ASSERT_EQUAL_FATAL(testd_keygen(&D, "rep1", rpub, rsec, sizeof rsec), 0);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: field1, public_key: \"%s\", role: field, areas: [\"6501\"] }\n"
             "  - { name: rep1, public_key: \"%s\", role: reporter, areas: [\"*\"] }\n",
             fpub, rpub);
    CU_ASSERT_EQUAL_FATAL(testd_set_clients(&D, yaml), 0);
    lbc_t *field = testd_client(&D, fsec, 3000, 0);
    lbc_t *rep = testd_client(&D, rsec, 3000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(field);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
    char err[256];
    lb_val_t *r = NULL;
    /* field opens in its area, not outside */
    lb_val_t *a = open_args(next_house++, "65010202");
    CU_ASSERT_EQUAL(lbc_call(field, "case.open", a, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    char cid[LB_CASE_ID_MAX];
    snprintf(cid, sizeof cid, "%s", result_str(r, "case_id"));
    lb_val_free(&r);
    lb_val_free(&a);
    a = open_args(next_house++, "65020202");
    CU_ASSERT_EQUAL(lbc_call(field, "case.open", a, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_val_free(&a);
    /* field may not run admin ops */
    CU_ASSERT_EQUAL(lbc_call(field, "admin.stats", NULL, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    /* reporter: reads without names, may not write */
    a = open_args(next_house++, "65010203");
    CU_ASSERT_EQUAL(lbc_call(rep, "case.open", a, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_val_free(&a);
    /* a case with a head name, read by the reporter */
    a = open_args(next_house++, "65010204");
    lb_map_set_str(lb_map_get(a, "household"), "head", "นายทดสอบ");
    r = testd_call(&D, "case.open", a);
    snprintf(cid, sizeof cid, "%s", result_str(r, "case_id"));
    lb_val_free(&r);
    lb_val_free(&a);
    a = args_new();
    lb_map_set_str(a, "case_id", cid);
    CU_ASSERT_EQUAL(lbc_call(rep, "case.get", a, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    const lb_val_t *h = lb_map_get(lbc_reply_result(r), "household");
    CU_ASSERT_PTR_NULL(lb_map_get(h, "head"));
    lb_val_free(&r);
    lb_val_free(&a);
    /* field's list without area is cut to its scope */
    a = args_new();
    lb_map_set_int(a, "limit", 1000);
    CU_ASSERT_EQUAL(lbc_call(field, "case.list", a, &r, err, sizeof err), 0);
    const lb_val_t *cases = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cases);
    for (uint32_t i = 0; i < cases->a.n; i++)
        CU_ASSERT_EQUAL(strncmp(lb_map_str(cases->a.items[i], "area"), "6501", 4), 0);
    lb_val_free(&r);
    lb_val_free(&a);
    /* removed from the registry: refused from then on */
    CU_ASSERT_EQUAL_FATAL(testd_set_clients(&D, "clients: []\n"), 0);
    CU_ASSERT_EQUAL(lbc_call(field, "ping", NULL, &r, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lbc_destroy(&field);
    lbc_destroy(&rep);
}
