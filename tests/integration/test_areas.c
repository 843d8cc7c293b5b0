/*
 * test_areas.c - the gazetteer in the daemon (PROTOCOL.md 8 `areas`, 9.16):
 * names in report rows, case.get and case.list (for reporters too); a
 * made-up area refused by case.open and, per item, by case.import with its
 * nearest valid parent named; a changed file applied by admin.reload, a
 * broken one refused by the reload (the old one kept) and at start (exit 2,
 * before the data folder is made). The daemon here loads a small gazetteer
 * of its own, so the test controls what exists.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/cu.h"
#include "../lib/testd.h"
#include "../lib/trust.h"
#include "../lib/tval.h"

static testd_t D;
static char dir[] = "/tmp/logbook-areas-XXXXXX";
static char tsv[300];
static char rep_sec[400];
static char case_id[32];

static const char *const GAZ = "# a test gazetteer\n"
                               "65\tพิษณุโลก\tPhitsanulok\n"
                               "6501\tเมืองพิษณุโลก\tMueang Phitsanulok\n"
                               "650101\tในเมือง\tNai Mueang\n"
                               "650105\tท่าทอง\tTha Thong\n";

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) || rc ? -1 : 0;
}

static int suite_init(void)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(tsv, sizeof tsv, "%s/areas.tsv", dir);
    if (write_file(tsv, GAZ))
        return -1;
    char extra[400], rep_pub[41], yaml[512];
    snprintf(extra, sizeof extra, "areas: %s\n", tsv);
    testd_opts_t o = {.extra_config = extra};
    if (testd_start(&D, &o) || testd_keygen(&D, "analyst", rep_pub, rep_sec, sizeof rep_sec))
        return -1;
    snprintf(
        yaml, sizeof yaml,
        "clients:\n  - { name: analyst, public_key: \"%s\", role: reporter, areas: [\"65\"] }\n",
        rep_pub);
    if (testd_set_clients(&D, yaml))
        return -1;
    return trust_open_case(&D, NULL, 1, "65010512", case_id) ? -1 : 0;
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    unlink(tsv);
    rmdir(dir);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *open_at(unsigned long n, const char *area)
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(n, area));
    lb_val_t *r = testd_call(&D, "case.open", a);
    lb_val_free(&a);
    return r;
}

static void test_case_get_names_a_village(void)
{
    lb_val_t *a = tvalf("{\"case_id\": \"%s\"}", case_id);
    lb_val_t *r = testd_call(&D, "case.get", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r), "{\"area\": \"65010512\", "
                                                   "\"area_name\": \"ท่าทอง หมู่ 12\", "
                                                   "\"area_name_en\": \"Tha Thong Moo 12\"}"));
    lb_val_free(&r);
    /* names of areas are not personal: a reporter gets them too */
    r = trust_call(&D, rep_sec, "case.get", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r), "{\"area_name_en\": \"Tha Thong Moo 12\"}"));
    lb_val_free(&r);
    lb_val_free(&a);
}

/* The output of `logbook ARGS...` against the suite's daemon, as the admin; malloc'd. */
static char *cli(const char *args)
{
    char cmd[1400];
    const char *bin = getenv("LOGBOOK_BIN");
    snprintf(cmd, sizeof cmd,
             "%s/logbook -e %s -k %s/keys/admin.key_secret -s %s/keys/server.key %s 2>&1",
             bin ? bin : "bin", D.req_ep, D.data, D.data, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *out = calloc(1, 65536);
    size_t n = out ? fread(out, 1, 65535, p) : 0;
    (void)n;
    pclose(p);
    return out;
}

/* logbook show and list put the names beside the code. */
static void test_cli_shows_names(void)
{
    char args[64];
    snprintf(args, sizeof args, "show %s", case_id);
    char *out = cli(args);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "65010512 ท่าทอง หมู่ 12 (Tha Thong Moo 12)"));
    free(out);
    out = cli("list --area 650105");
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "65010512 ท่าทอง หมู่ 12 (Tha Thong Moo 12)"));
    free(out);
}

static void test_case_list_names(void)
{
    lb_val_t *a = tval("{\"area\": \"650105\"}");
    lb_val_t *r = testd_call(&D, "case.list", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r), "{\"cases\": [{\"area\": \"65010512\", "
                                                   "\"area_name\": \"ท่าทอง หมู่ 12\", "
                                                   "\"area_name_en\": \"Tha Thong Moo 12\"}]}"));
    lb_val_free(&r);
    lb_val_free(&a);
}

static void test_report_rows_and_totals_named(void)
{
    lb_val_t *a = tval("{\"area\": \"65\", \"by\": \"district\"}");
    lb_val_t *r = testd_call(&D, "report.summary", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r),
                              "{\"rows\": [{\"key\": \"6501\", \"area_name\": \"เมืองพิษณุโลก\", "
                              "\"area_name_en\": \"Mueang Phitsanulok\"}], "
                              "\"totals\": {\"key\": \"65\", \"area_name\": \"พิษณุโลก\", "
                              "\"area_name_en\": \"Phitsanulok\"}}"));
    lb_val_free(&r);
    lb_val_free(&a);
    a = tval("{\"area\": \"6501\", \"by\": \"village\"}");
    r = trust_call(&D, rep_sec, "report.summary", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r),
                              "{\"rows\": [{\"key\": \"65010512\", \"area_name\": \"ท่าทอง หมู่ 12\", "
                              "\"area_name_en\": \"Tha Thong Moo 12\"}]}"));
    lb_val_free(&r);
    lb_val_free(&a);
    /* a report without an area: totals.key is "" and carries no name */
    a = tval("{\"by\": \"province\"}");
    r = testd_call(&D, "report.summary", a);
    const lb_val_t *totals = lb_map_get(lbc_reply_result(r), "totals");
    CU_ASSERT_PTR_NOT_NULL(totals);
    CU_ASSERT_PTR_NULL(lb_map_get(totals, "area_name"));
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r), "{\"rows\": [{\"key\": \"65\", "
                                                   "\"area_name_en\": \"Phitsanulok\"}]}"));
    lb_val_free(&r);
    lb_val_free(&a);
}

static void test_open_refuses_made_up_area(void)
{
    static const struct {
        const char *area, *msg;
    } cases[] = {
        {"99010101", "province 99 does not exist"},
        {"65990101", "district 6599 does not exist in province 65 Phitsanulok (พิษณุโลก)"},
        {"65019901", "subdistrict 650199 does not exist in district 6501 Mueang Phitsanulok"},
    };
    for (size_t i = 0; i < CU_COUNT(cases); i++) {
        lb_val_t *r = open_at(100 + i, cases[i].area);
        const char *code = "", *msg = "", *field = "";
        lbc_reply_error(r, &code, &msg, &field);
        CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
        CU_ASSERT_STRING_EQUAL(field ? field : "", "household.area");
        if (!msg || !strstr(msg, cases[i].msg))
            fprintf(stderr, "case.open at %s: %s\n", cases[i].area, tval_json(r));
        CU_ASSERT_PTR_NOT_NULL(msg ? strstr(msg, cases[i].msg) : NULL);
        lb_val_free(&r);
    }
}

static void test_import_refuses_per_item(void)
{
    lb_val_t *hs = lb_arr();
    lb_arr_push(hs, testd_household(200, "65010101"));
    lb_arr_push(hs, testd_household(201, "65019901"));
    lb_arr_push(hs, testd_household(202, "65010502"));
    lb_val_t *a = lb_map();
    lb_map_set(a, "households", hs);
    lb_val_t *r = testd_call(&D, "case.import", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r), "{\"opened\": 2, \"skipped\": 0, "
                                                   "\"errors\": [{\"index\": 1, "
                                                   "\"code\": \"bad_request\"}]}"));
    const lb_val_t *errs = lb_map_get(lbc_reply_result(r), "errors");
    const char *msg = errs && errs->a.n == 1 ? lb_map_str(errs->a.items[0], "message") : NULL;
    CU_ASSERT_PTR_NOT_NULL(msg ? strstr(msg, "in district 6501 Mueang Phitsanulok") : NULL);
    lb_val_free(&r);
    lb_val_free(&a);
}

static void test_reload_applies_changed_gazetteer(void)
{
    /* 6502 is not in the file yet */
    lb_val_t *r = open_at(300, "65020101");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    lb_val_free(&r);
    char more[1024];
    snprintf(more, sizeof more, "%s6502\tนครไทย\tNakhon Thai\n650201\tนครไทย\tNakhon Thai\n", GAZ);
    CU_ASSERT_EQUAL_FATAL(write_file(tsv, more), 0);
    r = testd_call(&D, "admin.reload", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    r = open_at(300, "65020101");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_t *a = tval("{\"area\": \"65\", \"by\": \"district\"}");
    r = testd_call(&D, "report.summary", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r),
                              "{\"rows\": [{\"key\": \"6501\"}, {\"key\": \"6502\", "
                              "\"area_name\": \"นครไทย\", \"area_name_en\": \"Nakhon Thai\"}]}"));
    lb_val_free(&r);

    /* a broken file: the reload is refused and the gazetteer in use stays */
    CU_ASSERT_EQUAL_FATAL(write_file(tsv, "65\tพิษณุโลก\tPhitsanulok\n6599\tno english\n"), 0);
    r = testd_call(&D, "admin.reload", NULL);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "bad_request");
    CU_ASSERT_PTR_NOT_NULL(strstr(trust_msg(r), "areas.tsv:2"));
    lb_val_free(&r);
    r = testd_call(&D, "report.summary", a);
    CU_ASSERT_TRUE(tval_match(lbc_reply_result(r),
                              "{\"rows\": [{\"key\": \"6501\"}, {\"key\": \"6502\", "
                              "\"area_name_en\": \"Nakhon Thai\"}]}"));
    lb_val_free(&r);
    lb_val_free(&a);
    r = open_at(301, "65020101");
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    CU_ASSERT_EQUAL(write_file(tsv, more), 0); /* leave a good file behind */
}

static void test_broken_gazetteer_refuses_start(void)
{
    char sub[320], path[340], data[340], bad[340], errp[340], cwd[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
    snprintf(sub, sizeof sub, "%s/start", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/logbookd.yaml", sub);
    snprintf(data, sizeof data, "%s/data", sub);
    snprintf(bad, sizeof bad, "%s/bad.tsv", sub);
    snprintf(errp, sizeof errp, "%s/err", sub);
    CU_ASSERT_EQUAL_FATAL(write_file(bad, "65\tพิษณุโลก\tPhitsanulok\n65\tซ้ำ\tTwice\n"), 0);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f,
            "data_dir: data\n"
            "endpoints: { requests: [\"tcp://127.0.0.1:1\"], events: [\"tcp://127.0.0.1:1\"] }\n"
            "workflows: %s/config/workflows\nindicators: %s/config/indicators.yaml\n"
            "areas: bad.tsv\n",
            cwd, cwd);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        const char *d = getenv("LOGBOOKD");
        execl(d ? d : "bin/logbookd", "logbookd", "--config", path, "--foreground", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    char err[1024] = "";
    FILE *e = fopen(errp, "r");
    if (e) {
        size_t n = fread(err, 1, sizeof err - 1, e);
        err[n] = '\0';
        fclose(e);
    }
    if (!strstr(err, "bad.tsv:2: duplicate code 65"))
        fprintf(stderr, "logbookd said: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.tsv:2: duplicate code 65"));
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(data, &st), 0); /* checked before data_dir is made */
    unlink(errp);
    unlink(bad);
    unlink(path);
    rmdir(sub);
}

int main(void)
{
    static const cu_test_t tests[] = {
        {"case.get names the case's village, for reporters too", test_case_get_names_a_village},
        {"case.list summaries carry the names", test_case_list_names},
        {"logbook show and list print the names beside the code", test_cli_shows_names},
        {"report rows and totals by area carry the names", test_report_rows_and_totals_named},
        {"case.open refuses a made-up area, naming the parent", test_open_refuses_made_up_area},
        {"case.import refuses a made-up area per item", test_import_refuses_per_item},
        {"admin.reload applies a changed gazetteer, keeps it on a broken one",
         test_reload_applies_changed_gazetteer},
        {"a broken gazetteer refuses the start with exit 2", test_broken_gazetteer_refuses_start},
    };
    return cu_run("areas", suite_init, suite_clean, tests, CU_COUNT(tests));
}
