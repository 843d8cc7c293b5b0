/*
 * queries.c - test_cli: history, find, list with its filters and cursor, CSV import.
 */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test.h"

void test_history(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65010000030", "65010104");
    run_t r;
    cli(&r, "schedule", cid, "team-4");
    run_free(&r);
    cli(&r, "act", cid, "add_note", "note=โทรนัดแล้ว");
    run_free(&r);
    int64_t last = daemon_last_seq();

    cli(&r, "history", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "SEQ"));
    CU_ASSERT_TRUE(contains(r.out, "opened"));
    CU_ASSERT_TRUE(contains(r.out, "identified -> visit_scheduled"));
    CU_ASSERT_TRUE(contains(r.out, "โทรนัดแล้ว"));
    CU_ASSERT_EQUAL(count_lines(r.out), 4); /* header + 3 events */
    run_free(&r);
    char after[32];
    snprintf(after, sizeof after, "%lld", (long long)(last - 1));
    cli(&r, "history", cid, "--after", after);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 2); /* header + the note */
    CU_ASSERT_FALSE(contains(r.out, "opened"));
    run_free(&r);
    cli(&r, "--json", "history", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"events\": ["));
    CU_ASSERT_TRUE(contains(r.out, "\"type\": \"opened\""));
    CU_ASSERT_FALSE(contains(r.out, "\"chain\""));
    run_free(&r);
    cli(&r, "history", "C999999999");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "not_found"));
    run_free(&r);
}

void test_find(void)
{
    char nid[14], member[64], cid[LB_CASE_ID_MAX];
    testd_nid(420100200300ULL, nid);
    snprintf(member, sizeof member, "%s:วันดี มีสุข", nid);
    run_t r;
    cli(&r, "open", "65010000040", "65010105", "--member", member);
    CU_ASSERT_EQUAL_FATAL(r.code, 0);
    first_case_id(r.out, cid);
    run_free(&r);
    char line[LB_CASE_ID_MAX + 2];
    snprintf(line, sizeof line, "%s\n", cid);

    cli(&r, "find", "--house", "65010000040");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, line);
    run_free(&r);
    cli(&r, "find", "--nid", nid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, line);
    run_free(&r);
    cli(&r, "--json", "find", "--nid", nid);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, cid));
    run_free(&r);
    /* nothing found: exit 0, "no cases" on stderr */
    cli(&r, "find", "--house", "65019999999");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_TRUE(contains(r.err, "no cases"));
    run_free(&r);
    /* exactly one of the two */
    cli(&r, "find");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "find", "--house", "65010000040", "--nid", nid);
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* a national id with a wrong check digit is refused before it is sent */
    char badnid[14];
    snprintf(badnid, sizeof badnid, "%s", nid);
    badnid[12] = badnid[12] == '9' ? '0' : (char)(badnid[12] + 1);
    cli(&r, "find", "--nid", badnid);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "is not the check digit of the first 12"));
    run_free(&r);
}

void test_list_filters(void)
{
    char a[LB_CASE_ID_MAX], b[LB_CASE_ID_MAX], c[LB_CASE_ID_MAX];
    cli_open(a, "65050000001", "65050101");
    run_t r;
    cli(&r, "admin", "clock", "8d");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli_open(b, "65050000002", "65050102");
    cli_open(c, "65050000003", "65050201");
    cli(&r, "schedule", b, "team-b");
    run_free(&r);

    cli(&r, "list", "--area", "6505");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "CASE"));
    CU_ASSERT_TRUE(contains(r.out, a) && contains(r.out, b) && contains(r.out, c));
    CU_ASSERT_EQUAL(count_lines(r.out), 4);
    run_free(&r);
    cli(&r, "list", "--area", "6505", "--overdue");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, a));
    CU_ASSERT_FALSE(contains(r.out, b) || contains(r.out, c));
    run_free(&r);
    cli(&r, "list", "--area", "6505", "--state", "visit_scheduled");
    CU_ASSERT_TRUE(contains(r.out, b));
    CU_ASSERT_TRUE(contains(r.out, "team-b"));
    CU_ASSERT_EQUAL(count_lines(r.out), 2);
    run_free(&r);
    cli(&r, "list", "--area", "650502");
    CU_ASSERT_TRUE(contains(r.out, c));
    CU_ASSERT_EQUAL(count_lines(r.out), 2);
    run_free(&r);
    cli(&r, "list", "--area", "6505", "--team", "team-b", "--json");
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, b));
    CU_ASSERT_FALSE(contains(r.out, a));
    run_free(&r);
    /* --limit: fewer rows, and a note that more remain */
    cli(&r, "list", "--area", "6505", "--limit", "2");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 3);
    CU_ASSERT_TRUE(contains(r.err, "more cases"));
    run_free(&r);
    /* nothing: exit 0, "no cases" on stderr */
    cli(&r, "list", "--area", "6599");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.err, "no cases"));
    run_free(&r);
    /* a malformed area is the daemon's bad_request */
    cli(&r, "list", "--area", "650");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    run_free(&r);
    cli(&r, "list", "--limit", "0");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* More cases than one case.list page (1,000): the CLI follows the cursor. */
void test_list_follows_cursor(void)
{
    enum { N = 1105 };
    lb_val_t *args = lb_map(), *hs = lb_arr();
    for (unsigned long i = 0; i < N; i++)
        lb_arr_push(hs, testd_household(65080000000UL + i, i % 2 ? "65080101" : "65080202"));
    lb_map_set(args, "households", hs);
    lb_val_t *rep = testd_call(&D, "case.import", args);
    int64_t opened = 0;
    lb_map_int(lbc_reply_result(rep), "opened", &opened);
    CU_ASSERT_EQUAL_FATAL(opened, N);
    lb_val_free(&rep);
    lb_val_free(&args);

    run_t r;
    cli(&r, "list", "--area", "6508", "--limit", "5000");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), N + 1);
    CU_ASSERT_FALSE(contains(r.err, "more cases"));
    /* every case exactly once across the pages */
    char(*ids)[LB_CASE_ID_MAX] = calloc(N + 1, LB_CASE_ID_MAX);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    size_t rows = 0, distinct = 0;
    for (const char *p = strchr(r.out, '\n'); p && p[1] && rows <= N; p = strchr(p + 1, '\n'))
        first_case_id(p + 1, ids[rows++]);
    qsort(ids, rows, LB_CASE_ID_MAX, cmp_id);
    for (size_t i = 0; i < rows; i++)
        distinct += ids[i][0] && (i == 0 || strcmp(ids[i], ids[i - 1]) != 0);
    CU_ASSERT_EQUAL(rows, N);
    CU_ASSERT_EQUAL(distinct, N);
    free(ids);
    run_free(&r);
    cli(&r, "list", "--area", "6508", "--limit", "1050");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 1050 + 1);
    CU_ASSERT_TRUE(contains(r.err, "more cases"));
    run_free(&r);
    cli(&r, "--json", "list", "--area", "650801", "--limit", "5000");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_FALSE(contains(r.out, "\"next\""));
    CU_ASSERT_FALSE(contains(r.out, "65080202"));
    run_free(&r);
}

/*
 * tests/data/csv/households.csv: a UTF-8 BOM, CRLF line ends, Thai text,
 * quoted fields with a comma, "" escapes and a line break, a blank line and
 * no newline at the end. Lines:
 *   1 header                       2 opened (nid, deprived bmn22;bmn8)
 *   3 opened ("" in the head)      4 error: 7-digit area
 *   5-6 opened (head over 2 lines) 7 blank
 *   8 error: 2 fields of 5         9 error: national id check digit
 *  10 error: indicator bmn99      11 skipped: the house of line 2 again
 *  12 error: a quote inside an unquoted field
 *  13 opened (last line, no newline)
 */
void test_import_csv(void)
{
    char cwd[400], csv[512];
    if (!getcwd(cwd, sizeof cwd)) {
        CU_FAIL("getcwd");
        return;
    }
    snprintf(csv, sizeof csv, "%s/tests/data/csv/households.csv", cwd);
    run_t r;
    /* small batches: line numbers must survive the batching */
    cli(&r, "import", csv, "--batch", "3");
    CU_ASSERT_EQUAL(r.code, 1); /* rows were refused */
    CU_ASSERT_TRUE(contains(r.out, "opened 4, skipped 1 (already open), errors 5\n"));
    CU_ASSERT_TRUE(contains(r.out, "line 4: bad_request: "));
    CU_ASSERT_TRUE(contains(r.out, "line 8: bad_request: expected 5 fields, found 2"));
    CU_ASSERT_TRUE(contains(r.out, "line 9: bad_request: "));
    CU_ASSERT_TRUE(contains(r.out, "line 10: bad_request: "));
    CU_ASSERT_TRUE(contains(r.out, "bmn99"));
    CU_ASSERT_TRUE(contains(r.out, "line 12: bad_request: "));
    CU_ASSERT_EQUAL(count_lines(r.out), 6);
    run_free(&r);

    /* again: everything valid is already open */
    cli(&r, "--json", "import", csv);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"opened\": 0"));
    CU_ASSERT_TRUE(contains(r.out, "\"skipped\": 5"));
    const char *lines[] = {"\"line\": 4,", "\"line\": 8,", "\"line\": 9,", "\"line\": 10,",
                           "\"line\": 12,"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        CU_ASSERT_TRUE(contains(r.out, lines[i]));
    run_free(&r);

    /* what was opened, as written in the file */
    char cid[LB_CASE_ID_MAX];
    cli(&r, "find", "--house", "65070000001");
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"สมศรี, มีสุข\""));
    CU_ASSERT_TRUE(contains(r.out, "\"nid\": \"1101700203450\""));
    CU_ASSERT_TRUE(contains(r.out, "\"indicator\": \"bmn8\""));
    run_free(&r);
    cli(&r, "find", "--house", "65070000002");
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"นาย \\\"ดำ\\\" ดี\""));
    run_free(&r);
    cli(&r, "find", "--house", "65070000004");
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"บุญมี\\nศรีสุข\""));
    run_free(&r);
    cli(&r, "find", "--house", "65070000009");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 1);
    run_free(&r);
    cli(&r, "find", "--house", "65070000003");
    CU_ASSERT_TRUE(contains(r.err, "no cases"));
    run_free(&r);

    /* a missing file and a header without house_id are usage errors */
    cli(&r, "import", "/nonexistent/x.csv");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad-header.csv", D.dir);
    FILE *f = fopen(bad, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("area,head\n65070101,x\n", f);
    fclose(f);
    cli(&r, "import", bad);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "house_id"));
    run_free(&r);
}
