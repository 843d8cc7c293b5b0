/*
 * client/text.c - CSV reading, KEY=VALUE arguments, times and display width.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "client_test.h"

/* ---------------------------------------------------------------------- */
/* CSV                                                                     */
/* ---------------------------------------------------------------------- */

static void test_csv_bom_crlf(void)
{
    const char in[] = "\xEF\xBB\xBFhouse_id,area,head\r\n"
                      "65010000001,65010101,Somchai\r\n"
                      "\r\n"
                      "65010000002,65010101,\r\n";
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    char err[128];
    lbc_csv_init(&r, in, strlen(in));
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 1);
    CU_ASSERT_EQUAL_FATAL(row.n, 3);
    CU_ASSERT_STRING_EQUAL(row.fields[0], "house_id");
    CU_ASSERT_STRING_EQUAL(row.fields[2], "head");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 2);
    CU_ASSERT_STRING_EQUAL(row.fields[2], "Somchai");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 4); /* the empty line 3 is skipped */
    CU_ASSERT_EQUAL_FATAL(row.n, 3);
    CU_ASSERT_STRING_EQUAL(row.fields[2], "");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    /* LF only, no final newline. */
    lbc_csv_init(&r, "a,b\nc,d", 7);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 2);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "d");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_init(&r, "", 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_row_free(&row);
}

static void test_csv_quotes_and_thai(void)
{
    const char in[] = "1,\"a,b\",\"line one\r\nline two\",\"say \"\"hi\"\"\",\"\"\n"
                      "2,สมชาย ใจดี,\"น้ำ, ไฟ\",bmn22;bmn20\n";
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    char err[128];
    lbc_csv_init(&r, in, strlen(in));
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 1);
    CU_ASSERT_EQUAL_FATAL(row.n, 5);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "a,b");
    CU_ASSERT_STRING_EQUAL(row.fields[2], "line one\nline two");
    CU_ASSERT_STRING_EQUAL(row.fields[3], "say \"hi\"");
    CU_ASSERT_STRING_EQUAL(row.fields[4], "");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 3); /* the quoted newline took a line */
    CU_ASSERT_EQUAL_FATAL(row.n, 4);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "สมชาย ใจดี");
    CU_ASSERT_STRING_EQUAL(row.fields[2], "น้ำ, ไฟ");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_row_free(&row);
}

static void test_csv_malformed_lines(void)
{
    const char in[] = "h1,h2\n"             /* 1 */
                      "ok,row\n"            /* 2 */
                      "bad\"quote,x\n"      /* 3 */
                      "\"closed\"junk,y\n"  /* 4 */
                      "\"multi\nline\",z\n" /* 5-6 */
                      "\xff\xfe,w\n"        /* 7 */
                      "good,again\n"        /* 8 */
                      "\"never closed,\n"   /* 9 */
                      "more\n";
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    char err[128] = "";
    lbc_csv_init(&r, in, strlen(in));
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 2);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 3);
    CU_ASSERT_EQUAL(strncmp(err, "line 3: quote inside", 20), 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 4);
    CU_ASSERT_STRING_EQUAL(err, "line 4: text after a closing quote");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 5);
    CU_ASSERT_STRING_EQUAL(row.fields[0], "multi\nline");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "UTF-8"));
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 8);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "again");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 9);
    CU_ASSERT_STRING_EQUAL(err, "line 9: unterminated quoted field");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    /* An embedded NUL is refused too. */
    lbc_csv_init(&r, "a\0b,c\n", 6);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    lbc_csv_row_free(&row);

    /* A first field that is empty (a fresh row has stored nothing yet). */
    lbc_csv_row_t fresh = {0};
    lbc_csv_init(&r, ",x\n", 3);
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &fresh, err, sizeof err), 0);
    CU_ASSERT_EQUAL(fresh.n, 2);
    CU_ASSERT_STRING_EQUAL(fresh.fields[0], "");
    lbc_csv_row_free(&fresh);

    /* A quoted field over the limit, with a line end inside it: only its own record is lost. */
    size_t big = LBC_CSV_FIELD_MAX + 10;
    char *long_in = malloc(big + 64);
    size_t n = 0;
    long_in[n++] = '"';
    memset(long_in + n, 'a', big);
    n += big;
    n += (size_t)sprintf(long_in + n, "\nmore\"\"a\",x\nnext,row\n");
    lbc_csv_init(&r, long_in, n);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &fresh, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err, "line 1: field too long");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &fresh, err, sizeof err), 0);
    CU_ASSERT_EQUAL(fresh.line, 3);
    CU_ASSERT_STRING_EQUAL(fresh.fields[0], "next");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &fresh, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_row_free(&fresh);
    free(long_in);
}

/* ---------------------------------------------------------------------- */
/* Arguments, time, width                                                  */
/* ---------------------------------------------------------------------- */

static void test_kv_parse(void)
{
    lb_val_t *m = lb_map();
    char err[128] = "";
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "findings.income=bmn22,bmn20", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "findings.health=bmn4,", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "amount_thb=5000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "delta=-12", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "area=0065", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "team=\"6501\"", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "note=ครอบครัว=ดี", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "empty=", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "mixed=1, two ,3", err, sizeof err), 0);

    lb_val_t *want = lb_map(), *findings = lb_map(), *income = lb_arr(), *health = lb_arr();
    lb_arr_push(income, lb_str("bmn22"));
    lb_arr_push(income, lb_str("bmn20"));
    lb_arr_push(health, lb_str("bmn4"));
    lb_map_set(findings, "income", income);
    lb_map_set(findings, "health", health);
    lb_map_set(want, "findings", findings);
    lb_map_set_int(want, "amount_thb", 5000);
    lb_map_set_int(want, "delta", -12);
    lb_map_set_str(want, "area", "0065");
    lb_map_set_str(want, "team", "6501");
    lb_map_set_str(want, "note", "ครอบครัว=ดี");
    lb_map_set_str(want, "empty", "");
    lb_val_t *mixed = lb_arr();
    lb_arr_push(mixed, lb_int(1));
    lb_arr_push(mixed, lb_str("two"));
    lb_arr_push(mixed, lb_int(3));
    lb_map_set(want, "mixed", mixed);
    CU_ASSERT_TRUE(lb_val_equal(m, want));

    CU_ASSERT_EQUAL(lbc_kv_parse(m, "noequals", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEY=VALUE"));
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "=x", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "a..b=x", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "a.=x", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "amount_thb=1", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "twice"));
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "amount_thb.x=1", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "findings=1", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "big=99999999999999999999", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lb_map_get(m, "big")->type, LB_STR);
    lb_val_free(&want);
    lb_val_free(&m);
}

static void test_parse_time(void)
{
    int64_t ms = 0;
    CU_ASSERT_EQUAL(lbc_parse_time("1700000000123", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1700000000123);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01T10:00:00Z", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200000);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01T17:00:00+07:00", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200000);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01 17:00+0700", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200000);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01T10:00:00.25Z", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200250);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-02-29", &ms), 0);
    struct tm tmv = {.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_isdst = -1};
    CU_ASSERT_EQUAL(ms, (int64_t)mktime(&tmv) * 1000);
    const char *bad[] = {"",
                         "2023-02-29",
                         "2024-13-01",
                         "2024-03-01T25:00",
                         "2024-03-01T10",
                         "2024-03-01X",
                         "2024-03-01T10:00+7",
                         "yesterday",
                         "12.5",
                         "99999999999999999999",
                         "2024-03-01T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (lbc_parse_time(bad[i], &ms) != LB_EBADREQ)
            fprintf(stderr, "\n  accepted: %s\n", bad[i]);
        CU_ASSERT_EQUAL(lbc_parse_time(bad[i], &ms), LB_EBADREQ);
    }
    char out[32];
    lbc_format_time(ms, out, sizeof out);
    CU_ASSERT_EQUAL(strlen(out), 16);
}

static void test_display_width(void)
{
    CU_ASSERT_EQUAL(lbc_display_width(""), 0);
    CU_ASSERT_EQUAL(lbc_display_width("abc"), 3);
    CU_ASSERT_EQUAL(lbc_display_width("สมชาย"), 5);
    CU_ASSERT_EQUAL(lbc_display_width("ใจดี"), 3); /* sara ii sits above */
    CU_ASSERT_EQUAL(lbc_display_width("น้ำ"), 2);  /* mai tho is zero width */
    CU_ASSERT_EQUAL(lbc_display_width("ที่นี่"), 2);  /* two marks on each */
    CU_ASSERT_EQUAL(lbc_display_width("กั๊ก"), 2);  /* mai han-akat and mai tri */
    CU_ASSERT_EQUAL(lbc_display_width("\xff"
                                      "a"),
                    2); /* a stray byte counts one */
}

static const cu_test_t tests[] = {
    {"CSV: BOM, CRLF, empty lines", test_csv_bom_crlf},
    {"CSV: quotes and Thai", test_csv_quotes_and_thai},
    {"CSV: malformed rows and their lines", test_csv_malformed_lines},
    {"KEY=VALUE arguments", test_kv_parse},
    {"times", test_parse_time},
    {"display width", test_display_width},
};
const cu_suite_t client_text_suite = {.name = "text", .tests = tests, .n = CU_COUNT(tests)};
