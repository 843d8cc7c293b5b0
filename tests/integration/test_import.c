/*
 * test_import.c - case.import's output pinned down (issue 13): a fixed set of
 * households (members, duplicates, bad items, households with an open case,
 * a scoped key) is imported, and everything it produced - the replies, the
 * events, every case as case.get shows it, the list summaries and the report
 * counters - must be what the import produced before it was made faster.
 * Times are the daemon's manual clock, so they are compared relative to it
 * (and months by position);
 * each event's stored bytes must be the canonical packing of its body and
 * chain onto the previous event, so the hash chain itself is checked too.
 */
#include <CUnit/Basic.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../proto/proto.h"
#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"
#include "../lib/tval.h"

/*
 * BLAKE2b-256 (hex) of the normalized dump the import code of 166c149 produced.
 * When an intended change moves it, run with IMPORT_GOLDEN_DUMP=FILE, read the
 * dump's difference and only then update this.
 */
#define GOLDEN "cc22a634ffddf0d94febf858f61f208b5f7ee8bf49ee0261f6d5588e956168f8"

#define N_FIRST 300 /* households of the first import */
#define N_SCOPED 24 /* households of the scoped key's import */
#define DAY_MS (86400LL * 1000)
#define SPAN_MS (800 * DAY_MS) /* ints this close to the clock are times */

static testd_t D;
static char comm6501[400];
static int64_t now_ms;
static char dup_nid[14];

static const char *const IND[] = {"bmn1",  "bmn4",  "bmn5",  "bmn7",  "bmn8",  "bmn9",
                                  "bmn10", "bmn11", "bmn15", "bmn16", "bmn17", "bmn19",
                                  "bmn20", "bmn21", "bmn22", "bmn27", "bmn28"};
#define NIND (sizeof IND / sizeof IND[0])

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    lbc_destroy(&D.admin); /* a 300-household import under valgrind takes a while */
    D.admin = testd_client(&D, NULL, 120000, 0);
    char pub[41], yaml[512];
    if (!D.admin || testd_keygen(&D, "comm6501", pub, comm6501, sizeof comm6501))
        return -1;
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: comm6501, public_key: \"%s\", role: committee, areas: [\"6501\"] }\n",
             pub);
    testd_nid(300000000001ULL, dup_nid);
    return testd_set_clients(&D, yaml);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* {code, message?, result?} of one call as cert (NULL = admin); args freed. */
static lb_val_t *call(const char *cert, const char *op, lb_val_t *args)
{
    lb_val_t *r = cert ? trust_call(&D, cert, op, args) : testd_call(&D, op, args);
    lb_val_free(&args);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    lb_val_t *out = lb_map();
    lb_map_set_str(out, "code", testd_code(r));
    if (*testd_code(r))
        lb_map_set_str(out, "message", trust_msg(r));
    const lb_val_t *res = lbc_reply_result(r);
    if (res)
        lb_map_set(out, "result", lb_val_dup(res));
    lb_val_free(&r);
    return out;
}

static lb_val_t *member(unsigned long long seed, int i, int j)
{
    char nid[14], name[48];
    testd_nid(seed, nid);
    snprintf(name, sizeof name, "Member %d-%d", i, j);
    return tvalf("{'nid': '%s', 'name': '%s', 'birth_year': %d, 'sex': '%s'}", nid, name,
                 1940 + (i * 7 + j) % 70, (i + j) % 2 ? "f" : "m");
}

/* Household i of the first import: shapes vary with i; a few are bad or already open. */
static lb_val_t *household(int i)
{
    char house[16], area[16];
    snprintf(house, sizeof house, "%011d", 670000000 + i);
    snprintf(area, sizeof area, "65%02d%02d%02d", 1 + i % 3, 1 + (i / 3) % 2, 1 + (i / 7) % 3);
    if (i % 50 == 10)
        snprintf(house, sizeof house, "%011d",
                 670000000 + i - 10); /* opened earlier in the batch */
    if (i == 61)
        snprintf(house, sizeof house, "%011d", 690000000); /* opened before the import */
    if (i == 41)
        snprintf(house, sizeof house, "1234");
    if (i == 27)
        snprintf(area, sizeof area, "65011");
    lb_val_t *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    if (i % 5 == 0) {
        char addr[64];
        snprintf(addr, sizeof addr, "%d Moo %d, Tambon %d", i, i % 12, i % 7);
        lb_map_set_str(h, "address", addr);
    }
    int nm = i % 4;
    if (nm) {
        lb_val_t *ms = lb_arr();
        for (int j = 0; j < nm; j++) {
            lb_val_t *m = member(310000000000ULL + (unsigned long long)i * 10 + (unsigned)j, i, j);
            if (j == 0 && i % 20 == 19)
                lb_map_set_str(m, "nid", dup_nid); /* shares a member with case 1 and each other */
            if (j == 1 && i % 30 == 7) {           /* shares a member with household i - 6 */
                char nid[14];
                testd_nid(310000000000ULL + (unsigned long long)(i - 6) * 10, nid);
                lb_map_set_str(m, "nid", nid);
            }
            lb_arr_push(ms, m);
        }
        if (i == 55)
            lb_map_set_str(ms->a.items[0], "nid", "123");
        lb_map_set(h, "members", ms);
        if (i % 2 == 0)
            lb_map_set_str(h, "head", "Member x");
        if (i % 6 == 1) {
            char head[48];
            snprintf(head, sizeof head, "Member %d-%d", i, nm - 1);
            lb_map_set_str(h, "head", head);
        }
    }
    int k = i % 4 + (i % 9 == 0);
    if (k) {
        lb_val_t *dep = lb_arr();
        for (int j = 0; j < k; j++)
            lb_arr_push(dep, lb_str(IND[(unsigned)(i + j * 5) % NIND]));
        if (i == 13)
            lb_arr_push(dep, lb_str("zzz1"));
        lb_map_set(h, "deprived", dep);
    }
    return h;
}

/* Household i of the scoped key's import: 6501 is its own, 6502 is not. */
static lb_val_t *scoped_household(int i)
{
    char house[16], area[16];
    snprintf(house, sizeof house, "%011d", 680000000 + i);
    snprintf(area, sizeof area, "65%02d01%02d", 1 + (i % 4 == 3), 1 + i % 3);
    if (i == 5)
        snprintf(house, sizeof house, "%011d", 670000000); /* household 0: in 6501 */
    if (i == 6)
        snprintf(house, sizeof house, "%011d", 670000001); /* household 1: in 6502 */
    lb_val_t *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    if (i % 3 == 0) {
        lb_val_t *ms = lb_arr();
        lb_arr_push(ms, member(320000000000ULL + (unsigned long long)i, 100 + i, 0));
        if (i == 9)
            lb_map_set_str(ms->a.items[0], "nid", dup_nid);
        lb_map_set(h, "members", ms);
    }
    lb_map_set(h, "deprived", tvalf("['%s']", IND[(unsigned)i % NIND]));
    return h;
}

/* A time as an offset from the clock, a trend month as MONTH; NULL when v stays as it is. */
static lb_val_t *normalized(const lb_val_t *v)
{
    if (v->type == LB_INT && v->i > now_ms - SPAN_MS && v->i < now_ms + SPAN_MS) {
        char t[32];
        snprintf(t, sizeof t, "T%+lld", (long long)(v->i - now_ms));
        return lb_str(t);
    }
    /* a report's trend months end with the clock's month */
    if (v->type == LB_STR && v->s.n == 7 && v->s.p[4] == '-' && strspn(v->s.p, "0123456789-") == 7)
        return lb_str("MONTH");
    return NULL;
}

/* Replaces the slot's value with its normalized form (decoded scalars may not be moved: the
 * slot gets a new node, lb.h). */
static void normalize(lb_val_t **slot);

static void normalize_items(lb_val_t *v)
{
    if (v->type == LB_ARR)
        for (uint32_t i = 0; i < v->a.n; i++)
            normalize(&v->a.items[i]);
    if (v->type == LB_MAP)
        for (uint32_t i = 0; i < v->m.n; i++)
            normalize(&v->m.vals[i]);
}

static void normalize(lb_val_t **slot)
{
    if (!*slot)
        return;
    lb_val_t *r = normalized(*slot);
    if (r) {
        lb_val_free(slot);
        *slot = r;
        return;
    }
    normalize_items(*slot);
}

/* Every event's bytes are its body packed canonically, chained onto the one before. */
static void check_chain(const lb_val_t *events)
{
    uint8_t prev[32] = {0};
    for (uint32_t i = 0; i < events->a.n; i++) {
        lb_buf_t b = {0};
        CU_ASSERT_EQUAL_FATAL(proto_pack(events->a.items[i], &b), 0);
        int rc = proto_event_check(b.p, b.len, prev, prev);
        if (rc)
            fprintf(stderr, "\nevent %u: the chain does not hold (%d)\n", i, rc);
        CU_ASSERT_EQUAL(rc, 0);
        lb_buf_free(&b);
        lb_map_del(events->a.items[i], "chain");
    }
}

static void test_import_output(void)
{
    lb_val_t *ping = call(NULL, "ping", NULL);
    CU_ASSERT_EQUAL_FATAL(lb_map_int(lb_map_get(ping, "result"), "now", &now_ms), 0);
    lb_val_free(&ping);
    lb_val_t *dump = lb_map();

    /* case 1, in 6503: its member is a duplicate of several imported ones */
    lb_val_t *pre = call(NULL, "case.open",
                         tvalf("{'household': {'house_id': '%011d', 'area': '65030101', "
                               "'members': [{'nid': '%s', 'name': 'Pre'}]}}",
                               690000000, dup_nid));
    CU_ASSERT_STRING_EQUAL(lb_map_str(pre, "code"), "");
    lb_map_set(dump, "open", pre);

    lb_val_t *hs = lb_arr();
    for (int i = 0; i < N_FIRST; i++)
        lb_arr_push(hs, household(i));
    lb_val_t *args = lb_map();
    lb_map_set(args, "households", hs);
    lb_map_set_str(args, "source", "socialmap");
    lb_val_t *first = call(NULL, "case.import", args);
    CU_ASSERT_STRING_EQUAL_FATAL(lb_map_str(first, "code"), "");
    int64_t opened = 0, skipped = 0;
    lb_map_int(lb_map_get(first, "result"), "opened", &opened);
    lb_map_int(lb_map_get(first, "result"), "skipped", &skipped);
    CU_ASSERT_EQUAL(skipped, 7); /* i % 50 == 10 (6) and 61 */
    CU_ASSERT_EQUAL(opened, N_FIRST - 7 - 4);
    lb_map_set(dump, "first", first);

    hs = lb_arr();
    for (int i = 0; i < N_SCOPED; i++)
        lb_arr_push(hs, scoped_household(i));
    args = lb_map();
    lb_map_set(args, "households", hs);
    lb_map_set(dump, "scoped", call(comm6501, "case.import", args));
    lb_map_set(dump, "no_workflow",
               call(NULL, "case.import",
                    tval("{'households': [{'house_id': '66000000001', 'area': '65010101'}], "
                         "'workflow': 'nope'}")));

    lb_val_t *ev = call(NULL, "events.since", tval("{'seq': 0, 'limit': 10000}"));
    const lb_val_t *events = lb_map_get(lb_map_get(ev, "result"), "events");
    CU_ASSERT_TRUE_FATAL(events && events->type == LB_ARR && events->a.n > N_FIRST - 20);
    check_chain(events);
    lb_map_set(dump, "events", ev);

    lb_val_t *cases = lb_arr();
    for (uint32_t i = 0; i < events->a.n; i++)
        lb_arr_push(cases,
                    call(NULL, "case.get",
                         tvalf("{'case_id': '%s'}", lb_map_str(events->a.items[i], "case_id"))));
    lb_map_set(dump, "cases", cases);
    lb_map_set(dump, "list", call(NULL, "case.list", tval("{'limit': 1000}")));
    lb_map_set(dump, "report",
               call(NULL, "report.summary",
                    tval("{'area': '65', 'by': 'subdistrict', "
                         "'months': 2}")));
    lb_map_set(dump, "by_state", call(NULL, "report.summary", tval("{'by': 'state'}")));
    lb_val_t *verify = call(NULL, "admin.verify", NULL);
    lb_map_del(lb_map_get(verify, "result"), "head"); /* its chain and signature cover the times */
    lb_map_set(dump, "verify", verify);
    normalize_items(dump);

    lb_buf_t json = {0};
    CU_ASSERT_EQUAL_FATAL(lb_val_to_json(dump, 1, &json), 0);
    uint8_t h[32];
    char hex[65];
    crypto_generichash(h, sizeof h, json.p, json.len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    const char *out = getenv("IMPORT_GOLDEN_DUMP");
    if (out) {
        FILE *f = fopen(out, "w");
        if (f) {
            fwrite(json.p, 1, json.len, f);
            fclose(f);
        }
    }
    if (strcmp(hex, GOLDEN) != 0)
        fprintf(stderr, "\nimport output %s, expected %s (IMPORT_GOLDEN_DUMP=FILE writes it)\n",
                hex, GOLDEN);
    CU_ASSERT_STRING_EQUAL(hex, GOLDEN);
    lb_buf_free(&json);
    lb_val_free(&dump);
}

static const cu_test_t tests[] = {
    {"case.import output is as before (replies, events, cases, counters)", test_import_output},
};

int main(void)
{
    return cu_run("import", suite_init, suite_clean, tests, CU_COUNT(tests));
}
