/*
 * test_security.c - integration tests of PROTOCOL.md section 6 against a real
 * logbookd: the role x operation matrix, area scopes, the events socket's
 * admission, personal data never on disk in plaintext, tamper detection in
 * the audit chain, and hostile input that must change nothing.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/cu.h"

static testd_t D;
static char field_sec[400], committee_sec[400], reporter_sec[400], admin2_sec[400], ev_sec[400];

static const char *const NAMES[] = {"ประยุทธ์ ทดสอบลับ", "Somsri Secretname", "อุไรวรรณ ซ่อนชื่อ"};
static char NIDS[3][14];
static char case_ids[3][LB_CASE_ID_MAX];

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o))
        return -1;
    char fpub[41], cpub[41], rpub[41], apub[41], epub[41];
    if (testd_keygen(&D, "field", fpub, field_sec, sizeof field_sec) ||
        testd_keygen(&D, "committee", cpub, committee_sec, sizeof committee_sec) ||
        testd_keygen(&D, "reporter", rpub, reporter_sec, sizeof reporter_sec) ||
        testd_keygen(&D, "admin2", apub, admin2_sec, sizeof admin2_sec) ||
        testd_keygen(&D, "listener", epub, ev_sec, sizeof ev_sec))
        return -1;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "clients:\n"
             "  - { name: field, public_key: \"%s\", role: field, areas: [\"6501\"] }\n"
             "  - { name: committee, public_key: \"%s\", role: committee, areas: [\"65\"] }\n"
             "  - { name: reporter, public_key: \"%s\", role: reporter, areas: [\"*\"] }\n"
             "  - { name: admin2, public_key: \"%s\", role: admin, areas: [\"*\"] }\n"
             "  - { name: listener, public_key: \"%s\", role: committee, areas: [\"*\"], events: "
             "true }\n",
             fpub, cpub, rpub, apub, epub);
    if (testd_set_clients(&D, yaml))
        return -1;
    /* three households with names and national ids (the fixtures the disk scan looks for) */
    for (int i = 0; i < 3; i++) {
        testd_nid(987654321000ULL + (unsigned long long)i * 7919, NIDS[i]);
        lb_val_t *a = lb_map();
        lb_val_t *h =
            testd_household(30000000000UL + (unsigned long)i, i == 2 ? "65020101" : "65010101");
        lb_map_set_str(h, "head", NAMES[i]);
        lb_val_t *ms = lb_arr();
        lb_val_t *m = lb_map();
        lb_map_set_str(m, "nid", NIDS[i]);
        lb_map_set_str(m, "name", NAMES[i]);
        lb_map_set_int(m, "birth_year", 1970);
        lb_arr_push(ms, m);
        lb_map_set(h, "members", ms);
        lb_map_set(a, "household", h);
        lb_val_t *r = testd_call(&D, "case.open", a);
        if (!r || !lbc_reply_ok(r)) {
            lb_val_free(&r);
            lb_val_free(&a);
            return -1;
        }
        snprintf(case_ids[i], LB_CASE_ID_MAX, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
        lb_val_free(&r);
        lb_val_free(&a);
    }
    return 0;
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static lb_val_t *call_as(const char *cert, const char *op, const lb_val_t *args)
{
    lbc_t *c = testd_client(&D, cert, 3000, 0);
    if (!c)
        return NULL;
    lb_val_t *r = NULL;
    char err[256];
    lbc_call(c, op, args, &r, err, sizeof err);
    lbc_destroy(&c);
    return r;
}

/* Minimal, valid arguments for each op (the matrix checks only forbidden or not). */
static lb_val_t *matrix_args(const char *op, int n)
{
    lb_val_t *a = lb_map();
    if (strcmp(op, "workflow.get") == 0) {
        lb_map_set_str(a, "name", "tpmap-household");
    } else if (strcmp(op, "case.open") == 0) {
        lb_map_set(a, "household", testd_household(31000000000UL + (unsigned long)n, "65010101"));
    } else if (strcmp(op, "case.import") == 0) {
        lb_val_t *hs = lb_arr();
        lb_arr_push(hs, testd_household(32000000000UL + (unsigned long)n, "65010101"));
        lb_map_set(a, "households", hs);
    } else if (strcmp(op, "case.act") == 0) {
        lb_map_set_str(a, "case_id", case_ids[0]);
        lb_map_set_str(a, "action", "add_note");
        lb_val_t *d = lb_map();
        lb_map_set_str(d, "note", "matrix");
        lb_map_set(a, "data", d);
    } else if (strcmp(op, "case.ack") == 0 || strcmp(op, "case.get") == 0 ||
               strcmp(op, "case.history") == 0) {
        lb_map_set_str(a, "case_id", case_ids[0]);
    } else if (strcmp(op, "case.find") == 0) {
        lb_map_set_str(a, "house_id", "30000000000");
    } else if (strcmp(op, "report.summary") == 0) {
        lb_map_set_str(a, "by", "district");
    } else if (strcmp(op, "events.since") == 0) {
        lb_map_set_int(a, "seq", 0);
        lb_map_set_int(a, "limit", 1);
    } else if (strcmp(op, "admin.backup") == 0) {
        char path[400];
        snprintf(path, sizeof path, "%s/matrix-backup-%d", D.dir, n);
        lb_map_set_str(a, "path", path);
    } else if (strcmp(op, "admin.clock") == 0) {
        lb_map_set_int(a, "advance_s", 0);
    }
    return a;
}

static void test_role_operation_matrix(void)
{
    /* F = field, C = committee, R = reporter (events: false), A = admin: 1 = allowed */
    static const struct {
        const char *op;
        int f, c, r, a;
    } m[] = {
        {"ping", 1, 1, 1, 1},         {"workflow.list", 1, 1, 1, 1}, {"workflow.get", 1, 1, 1, 1},
        {"case.open", 1, 1, 0, 1},    {"case.import", 0, 1, 0, 1},   {"case.act", 1, 1, 0, 1},
        {"case.ack", 0, 1, 0, 1},     {"case.get", 1, 1, 1, 1},      {"case.find", 1, 1, 1, 1},
        {"case.history", 1, 1, 1, 1}, {"case.list", 1, 1, 1, 1},     {"report.summary", 1, 1, 1, 1},
        {"events.since", 0, 0, 0, 1}, {"admin.stats", 0, 0, 0, 1},   {"admin.backup", 0, 0, 0, 1},
        {"admin.reload", 0, 0, 0, 1}, {"admin.verify", 0, 0, 0, 1},  {"admin.clock", 0, 0, 0, 1},
    };
    const char *certs[4] = {field_sec, committee_sec, reporter_sec, admin2_sec};
    int n = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        int allowed[4] = {m[i].f, m[i].c, m[i].r, m[i].a};
        for (int role = 0; role < 4; role++) {
            lb_val_t *a = matrix_args(m[i].op, n++);
            lb_val_t *r = call_as(certs[role], m[i].op, a);
            CU_ASSERT_PTR_NOT_NULL(r);
            bool forbidden = strcmp(testd_code(r), "forbidden") == 0;
            if (forbidden == (bool)allowed[role])
                fprintf(stderr, "\n  matrix: %s as role %d: %s (expected %s)\n", m[i].op, role,
                        testd_code(r), allowed[role] ? "allowed" : "forbidden");
            CU_ASSERT_EQUAL(forbidden, !allowed[role]);
            lb_val_free(&r);
            lb_val_free(&a);
        }
    }
}

static void test_area_scope(void)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_ids[2]); /* in 6502: outside the field key's 6501 */
    lb_val_t *r = call_as(field_sec, "case.get", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_map_set_str(a, "action", "add_note");
    lb_val_t *d = lb_map();
    lb_map_set_str(d, "note", "x");
    lb_map_set(a, "data", d);
    r = call_as(field_sec, "case.act", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_val_free(&a);
    /* a list or report with an area outside the scope */
    a = lb_map();
    lb_map_set_str(a, "area", "6502");
    r = call_as(field_sec, "case.list", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_map_set_str(a, "by", "village");
    r = call_as(field_sec, "report.summary", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_val_free(&a);
    /* without area the report is cut to the scope: only 6501's cases count */
    a = lb_map();
    lb_map_set_str(a, "by", "province");
    r = call_as(field_sec, "report.summary", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    int64_t n = -1, total = -1;
    lb_map_int(lb_map_get(lbc_reply_result(r), "totals"), "cases", &n);
    lb_val_free(&r);
    r = call_as(admin2_sec, "report.summary", a);
    lb_map_int(lb_map_get(lbc_reply_result(r), "totals"), "cases", &total);
    CU_ASSERT_TRUE(n >= 2);
    CU_ASSERT_TRUE(total > n);
    lb_val_free(&r);
    lb_val_free(&a);
    /* case.find does not reveal cases outside the scope */
    a = lb_map();
    lb_map_set_str(a, "house_id", "30000000002");
    r = call_as(field_sec, "case.find", a);
    const lb_val_t *cases = lb_map_get(lbc_reply_result(r), "cases");
    CU_ASSERT_TRUE(cases && cases->a.n == 0);
    lb_val_free(&r);
    lb_val_free(&a);
}

static void test_reporter_sees_no_personal_data(void)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_ids[0]);
    lb_val_t *r = call_as(reporter_sec, "case.get", a);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    lb_buf_t json = {0};
    lb_val_to_json(r, 0, &json);
    lb_buf_append(&json, "", 1);
    CU_ASSERT_PTR_NULL(strstr((char *)json.p, NAMES[0]));
    CU_ASSERT_PTR_NULL(strstr((char *)json.p, NIDS[0]));
    lb_buf_free(&json);
    lb_val_free(&r);
    /* the committee sees them */
    r = call_as(committee_sec, "case.get", a);
    lb_val_to_json(r, 0, &json);
    lb_buf_append(&json, "", 1);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)json.p, NAMES[0]));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)json.p, NIDS[0]));
    lb_buf_free(&json);
    lb_val_free(&r);
    lb_val_free(&a);
    /* reporters may not look up national ids */
    a = lb_map();
    lb_map_set_str(a, "nid", NIDS[0]);
    r = call_as(reporter_sec, "case.find", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "forbidden");
    lb_val_free(&r);
    lb_val_free(&a);
}

/* Subscribes with cert and returns how many events arrive after one is emitted. */
static int events_seen(const char *cert)
{
    char server[400], err[256];
    snprintf(server, sizeof server, "%s/keys/server.key", D.data);
    lb_cert_t *ck = NULL, *sk = NULL;
    if (lb_cert_load(cert, &ck, err, sizeof err) || lb_cert_load(server, &sk, err, sizeof err))
        return -1;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int tmo = 1500, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, sk->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, ck->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, ck->secret_key, 32);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(s, D.ev_ep);
    /* heartbeats arrive every second to admitted subscribers */
    char buf[4096];
    int n = zmq_recv(s, buf, sizeof buf, 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    lb_cert_destroy(&ck);
    lb_cert_destroy(&sk);
    return n > 0 ? 1 : 0;
}

static void test_events_socket_admission(void)
{
    CU_ASSERT_EQUAL(events_seen(ev_sec), 1);
    CU_ASSERT_EQUAL(events_seen(reporter_sec), 0);
    CU_ASSERT_EQUAL(events_seen(field_sec), 0);
}

/* ---- hostile input ---- */

static const char *code_of(const lb_val_t *r)
{
    const char *c = r ? lb_map_str(lb_map_get(r, "error"), "code") : NULL;
    return c ? c : (r ? "" : "no reply");
}

static int64_t last_seq(void)
{
    lb_val_t *r = testd_call(&D, "ping", NULL);
    int64_t s = -1;
    lb_map_int(lbc_reply_result(r), "last_seq", &s);
    lb_val_free(&r);
    return s;
}

static void test_hostile_input_changes_nothing(void)
{
    int64_t seq0 = last_seq();
    /* oversized: dropped by ZeroMQ before the application, no answer */
    size_t big = 2u << 20;
    uint8_t *p = calloc(1, big);
    lb_val_t *r = testd_raw(&D, p, big, 800);
    CU_ASSERT_PTR_NULL(r);
    lb_val_free(&r);
    free(p);
    /* deeply nested arrays inside a request */
    lb_buf_t b = {0};
    const char head[] = "\x84\xa1v\x01\xa2id\xa2n1\xa2op\xa8"
                        "case.get\xa4"
                        "args\x81\xa7"
                        "case_id";
    lb_buf_append(&b, head, sizeof head - 1);
    for (int i = 0; i < 100000; i++)
        lb_buf_append(&b, "\x91", 1);
    lb_buf_append(&b, "\xc0", 1);
    r = testd_raw(&D, b.p, b.len, 3000);
    CU_ASSERT_TRUE(strcmp(code_of(r), "bad_request") == 0 || strcmp(code_of(r), "too_large") == 0);
    lb_val_free(&r);
    /* a huge declared array in a few bytes */
    b.len = 0;
    const char huge[] = "\x84\xa1v\x01\xa2id\xa2n2\xa2op\xab"
                        "case.import\xa4"
                        "args\x81\xaa"
                        "households\xdd\xff\xff\xff\xff";
    lb_buf_append(&b, huge, sizeof huge - 1);
    r = testd_raw(&D, b.p, b.len, 3000);
    CU_ASSERT_TRUE(strcmp(code_of(r), "bad_request") == 0 || strcmp(code_of(r), "too_large") == 0);
    lb_val_free(&r);
    /* invalid UTF-8 and NUL bytes inside ids */
    const char *bad_ids[] = {"C00000000\xff", "C0000\0000001", "\xc3\x28"};
    size_t bad_len[] = {10, 11, 2};
    for (int i = 0; i < 3; i++) {
        b.len = 0;
        const char pre[] = "\x84\xa1v\x01\xa2id\xa2n3\xa2op\xa8"
                           "case.get\xa4"
                           "args\x81\xa7"
                           "case_id";
        lb_buf_append(&b, pre, sizeof pre - 1);
        uint8_t hdr = (uint8_t)(0xa0 | bad_len[i]);
        lb_buf_append(&b, &hdr, 1);
        lb_buf_append(&b, bad_ids[i], bad_len[i]);
        r = testd_raw(&D, b.p, b.len, 3000);
        CU_ASSERT_STRING_EQUAL(code_of(r), "bad_request");
        lb_val_free(&r);
    }
    /* a house id with a NUL in case.open */
    b.len = 0;
    lb_val_t *doc = lb_map();
    lb_map_set_int(doc, "v", 1);
    lb_map_set_str(doc, "id", "n4");
    lb_map_set_str(doc, "op", "case.open");
    lb_val_t *args = lb_map();
    lb_val_t *h = lb_map();
    lb_map_set(h, "house_id", lb_strn("6501\0000000001", 11));
    lb_map_set_str(h, "area", "65010101");
    lb_map_set(args, "household", h);
    lb_map_set(doc, "args", args);
    proto_pack(doc, &b);
    r = testd_raw(&D, b.p, b.len, 3000);
    CU_ASSERT_STRING_EQUAL(code_of(r), "bad_request");
    lb_val_free(&r);
    lb_val_free(&doc);
    lb_buf_free(&b);
    /* nothing changed, and the daemon still answers */
    CU_ASSERT_EQUAL(last_seq(), seq0);
}

/* ---- data at rest ---- */

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    bool found = false;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
        found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
    free(buf);
    fclose(f);
    return found;
}

static int scan_dir(const char *dir, int *files)
{
    int hits = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            hits += scan_dir(path, files);
            continue;
        }
        (*files)++;
        for (int i = 0; i < 3; i++) {
            if (file_contains(path, NAMES[i]) || file_contains(path, NIDS[i])) {
                fprintf(stderr, "\n  plaintext personal data in %s\n", path);
                hits++;
            }
        }
    }
    closedir(d);
    return hits;
}

static void test_no_plaintext_personal_data_on_disk(void)
{
    /* a backup made by admin.backup lives in the data folder too, and must stay encrypted */
    char path[400];
    snprintf(path, sizeof path, "%s/backup-scan", D.data);
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "path", path);
    lb_val_t *r = testd_call(&D, "admin.backup", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
    int files = 0;
    CU_ASSERT_EQUAL(scan_dir(D.data, &files), 0);
    CU_ASSERT_TRUE(files >= 4); /* data.mdb, lock.mdb, keys, the backup */
    /* and the daemon's own log never names them either */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_FALSE(file_contains(D.log, NAMES[i]));
        CU_ASSERT_FALSE(file_contains(D.log, NIDS[i]));
    }
}

/* ---- tamper detection (own daemon: it is damaged on purpose) ---- */

static void test_tamper_detected_with_exact_seq(void)
{
    testd_t t;
    CU_ASSERT_EQUAL_FATAL(testd_start(&t, NULL), 0);
    for (int i = 0; i < 6; i++) {
        lb_val_t *a = lb_map();
        lb_map_set(a, "household", testd_household(33000000000UL + (unsigned long)i, "65010101"));
        lb_val_t *r = testd_call(&t, "case.open", a);
        CU_ASSERT_STRING_EQUAL(testd_code(r), "");
        lb_val_free(&r);
        lb_val_free(&a);
    }
    CU_ASSERT_EQUAL_FATAL(testd_stop(&t), 0);
    /* change one byte of event 4's stored body with mdb_dump / mdb_load */
    char dump[400], cmd[1200];
    snprintf(dump, sizeof dump, "%s/events.dump", t.dir);
    snprintf(cmd, sizeof cmd, "mdb_dump -s events -f '%s' '%s'", dump, t.data);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    FILE *f = fopen(dump, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char out[400];
    snprintf(out, sizeof out, "%s/events.tampered", t.dir);
    FILE *o = fopen(out, "w");
    char line[65536];
    bool next_is_value = false, changed = false;
    while (fgets(line, sizeof line, f)) {
        if (next_is_value) {
            /* flip one hex digit in the middle of the body */
            size_t n = strlen(line), mid = n / 2;
            if (line[mid] == '\n' || line[mid] == ' ')
                mid--;
            line[mid] = line[mid] == '0' ? '1' : '0';
            changed = true;
            next_is_value = false;
        } else if (strcmp(line, " 0000000000000004\n") == 0) {
            next_is_value = true;
        }
        fputs(line, o);
    }
    fclose(f);
    fclose(o);
    CU_ASSERT_TRUE_FATAL(changed);
    snprintf(cmd, sizeof cmd, "mdb_load -s events -f '%s' '%s' 2>/dev/null", out, t.data);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&t), 0);
    lb_val_t *r = testd_call(&t, "admin.verify", NULL);
    CU_ASSERT_STRING_EQUAL_FATAL(testd_code(r), "");
    lb_val_t *ok = lb_map_get(lbc_reply_result(r), "ok");
    CU_ASSERT_TRUE(ok && ok->type == LB_BOOL && !ok->b);
    int64_t bad = -1;
    lb_map_int(lbc_reply_result(r), "first_bad_seq", &bad);
    CU_ASSERT_EQUAL(bad, 4);
    lb_val_free(&r);
    testd_cleanup(&t);
}

int main(void)
{
    static const cu_test_t security_tests[] = {
        {"role x operation matrix", test_role_operation_matrix},
        {"area scopes on reads, writes, lists and reports", test_area_scope},
        {"reporters never see names or national ids", test_reporter_sees_no_personal_data},
        {"the events socket admits only keys with events: true", test_events_socket_admission},
        {"hostile input gets an error and changes nothing", test_hostile_input_changes_nothing},
        {"no name or national id in any file of the data folder",
         test_no_plaintext_personal_data_on_disk},
    };
    static const cu_test_t audit_chain_tests[] = {
        {"one changed byte is found at its seq", test_tamper_detected_with_exact_seq},
    };
    const cu_suite_t suites[] = {
        {.name = "security",
         .init = suite_init,
         .clean = suite_clean,
         .tests = security_tests,
         .n = CU_COUNT(security_tests)},
        {.name = "audit chain", .tests = audit_chain_tests, .n = CU_COUNT(audit_chain_tests)},
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
