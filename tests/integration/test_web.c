/*
 * test_web.c - integration tests of logbook-web against a real gateway and
 * a real logbookd, over HTTP with libcurl: login, logout and CSRF; a field
 * user cannot read or write another district; a disabled user is cut off;
 * an Idempotency-Key replay is applied once; OpenRosa HEAD, POST, a
 * duplicate and the 409; SSE resume with Last-Event-ID; /metrics parses;
 * the casework endpoints (web/casework.c). The harness is in web/ (web_http.h).
 */
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cu.h"
#include "web/web_casework.h"
#include "web/web_http.h"

static const char *const json_h[] = {"Content-Type: application/json", NULL};

static int suite_init(void)
{
    return webenv_start();
}

static int suite_clean(void)
{
    webenv_stop();
    return 0;
}

/* Records of kind (e.g. "notes", "visits") the case holds, read with the admin key. */
static int records(const char *case_id, const char *kind)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    lb_val_t *r = testd_call(&W.d, "case.get", a);
    const lb_val_t *v = lb_map_get(lbc_reply_result(r), kind);
    int n = v && v->type == LB_ARR ? (int)v->a.n : -1;
    lb_val_free(&r);
    lb_val_free(&a);
    return n;
}

/* ---- login, logout, CSRF ---- */

static void test_login_logout_csrf(void)
{
    http_res_t r;
    const char *bad = "{\"name\":\"somchai\",\"password\":\"wrong\"}";
    CU_ASSERT_FATAL(http("POST", "/api/session", json_h, bad, strlen(bad), &r) == 0);
    CU_ASSERT_EQUAL(r.status, 401);
    char v[400];
    CU_ASSERT(http_header(&r, "Content-Type", v, sizeof v) &&
              strcmp(v, "application/problem+json") == 0);
    http_free(&r);

    const char *good = "{\"name\":\"somchai\",\"password\":\"somchai-pw\"}";
    CU_ASSERT_FATAL(http("POST", "/api/session", json_h, good, strlen(good), &r) == 0);
    CU_ASSERT_EQUAL(r.status, 201);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"user\": \"somchai\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"role\": \"field\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"areas\": [\"6501\"]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"csrf\": \""));
    CU_ASSERT_FATAL(http_header(&r, "Set-Cookie", v, sizeof v));
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "lb_session="));
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "HttpOnly"));
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "SameSite=Strict"));
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "Secure")); /* behind_tls_proxy: the browser sees https */
    CU_ASSERT(http_header(&r, "Content-Security-Policy", v, sizeof v) &&
              strstr(v, "frame-ancestors 'none'") && !strstr(v, "unsafe-inline"));
    CU_ASSERT(http_header(&r, "X-Content-Type-Options", v, sizeof v) && !strcmp(v, "nosniff"));
    http_free(&r);

    web_login_t s;
    CU_ASSERT_FATAL(web_login("somchai", &s) == 201);
    const char *with_cookie[] = {s.cookie, NULL};
    CU_ASSERT_FATAL(http("GET", "/api/cases", with_cookie, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, W.case_a));
    http_free(&r);

    /* a write without the CSRF token, or with a wrong one, is refused */
    char path[200];
    snprintf(path, sizeof path, "/api/cases/%s/actions/add_note", W.case_a);
    const char *note = "{\"data\":{\"note\":\"no token\"}}";
    CU_ASSERT_FATAL(http("POST", path, with_cookie, note, strlen(note), &r) == 0);
    CU_ASSERT_EQUAL(r.status, 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "X-CSRF-Token"));
    http_free(&r);
    const char *wrong[] = {s.cookie, "X-CSRF-Token: 00", NULL};
    CU_ASSERT_FATAL(http("DELETE", "/api/session", wrong, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 403);
    http_free(&r);

    const char *full[] = {s.cookie, s.csrf, NULL};
    CU_ASSERT_FATAL(http("DELETE", "/api/session", full, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 204);
    http_free(&r);
    CU_ASSERT_FATAL(http("GET", "/api/cases", with_cookie, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 401);
    http_free(&r);
}

/* ---- scope: the daemon applies the person's areas ---- */

static void test_other_district_refused(void)
{
    web_login_t s;
    CU_ASSERT_FATAL(web_login("somchai", &s) == 201);
    const char *h[] = {s.cookie, s.csrf, "Content-Type: application/json", NULL};
    http_res_t r;
    char path[200];

    snprintf(path, sizeof path, "/api/cases/%s", W.case_a);
    CU_ASSERT_FATAL(http("GET", path, h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_free(&r);

    /* a case of district 6502 does not exist for somchai: 404, not 403 */
    snprintf(path, sizeof path, "/api/cases/%s", W.case_b);
    CU_ASSERT_FATAL(http("GET", path, h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 404);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"code\": \"not_found\""));
    http_free(&r);
    int notes = records(W.case_b, "notes");
    snprintf(path, sizeof path, "/api/cases/%s/actions/add_note", W.case_b);
    const char *note = "{\"data\":{\"note\":\"not mine\"}}";
    CU_ASSERT_FATAL(http("POST", path, h, note, strlen(note), &r) == 0);
    CU_ASSERT_EQUAL(r.status, 404);
    http_free(&r);
    CU_ASSERT_EQUAL(records(W.case_b, "notes"), notes);

    CU_ASSERT_FATAL(http("GET", "/api/cases?area=6502", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"code\": \"forbidden\""));
    http_free(&r);
    CU_ASSERT_FATAL(http("GET", "/api/cases", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, W.case_b));
    http_free(&r);

    const char *open = "{\"household\":{\"house_id\":\"65020000009\",\"area\":\"65020101\"}}";
    CU_ASSERT_FATAL(http("POST", "/api/cases", h, open, strlen(open), &r) == 0);
    CU_ASSERT_EQUAL(r.status, 403);
    http_free(&r);
}

/* ---- a disabled user is cut off, live sessions included ---- */

static void test_disabled_user_cut_off(void)
{
    web_login_t s;
    CU_ASSERT_FATAL(web_login("mali", &s) == 201);
    const char *h[] = {s.cookie, NULL};
    http_res_t r;
    CU_ASSERT_FATAL(http("GET", "/api/cases", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_free(&r);

    static const char *const users[] = {
        "somchai field 6501 active", "suda field 6502 active", "mali field 6501 disabled",
        "kanya committee 65 active", "boss admin * active",    NULL,
    };
    CU_ASSERT_FATAL(webenv_users(users) == 0);
    /* the gateway applies the change within 2 seconds, with no signal */
    long status = 0;
    for (int i = 0; i < 40 && status != 401; i++) {
        CU_ASSERT_FATAL(http("GET", "/api/cases", h, NULL, 0, &r) == 0);
        status = r.status;
        http_free(&r);
        if (status != 401)
            usleep(100000);
    }
    CU_ASSERT_EQUAL(status, 401);
    CU_ASSERT_EQUAL(web_login("mali", &s), 401);
}

/* ---- Idempotency-Key ---- */

static void test_idempotency_key_replay(void)
{
    web_login_t s;
    CU_ASSERT_FATAL(web_login("somchai", &s) == 201);
    const char *h[] = {s.cookie, s.csrf, "Content-Type: application/json",
                       "Idempotency-Key: 5f0c2a1e-note-1", NULL};
    char path[200];
    snprintf(path, sizeof path, "/api/cases/%s/actions/add_note", W.case_a);
    const char *note = "{\"data\":{\"note\":\"retried from a phone\"}}";
    int before = records(W.case_a, "notes");
    http_res_t r1, r2, r3;
    CU_ASSERT_FATAL(http("POST", path, h, note, strlen(note), &r1) == 0);
    CU_ASSERT_FATAL(http("POST", path, h, note, strlen(note), &r2) == 0);
    CU_ASSERT_EQUAL(r1.status, 200);
    CU_ASSERT_EQUAL(r2.status, 200);
    CU_ASSERT_STRING_EQUAL(r1.body, r2.body); /* the same reply, with the same seq */
    CU_ASSERT_EQUAL(records(W.case_a, "notes"), before + 1);
    /* the same key with another body is refused, and applies nothing */
    const char *other = "{\"data\":{\"note\":\"something else\"}}";
    CU_ASSERT_FATAL(http("POST", path, h, other, strlen(other), &r3) == 0);
    CU_ASSERT_EQUAL(r3.status, 422);
    CU_ASSERT_EQUAL(records(W.case_a, "notes"), before + 1);
    http_free(&r1);
    http_free(&r2);
    http_free(&r3);
}

/* ---- OpenRosa ---- */

static char *submission(const char *instance, const char *note, size_t *len)
{
    char *b = malloc(4096);
    *len =
        (size_t)snprintf(b, 4096,
                         "--XyZ\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
                         "filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n"
                         "<?xml version=\"1.0\"?><data id=\"tpmap-household.record_visit\">"
                         "<case_id>%s</case_id><findings><health/><living>bmn8</living><education/>"
                         "<income>bmn22</income><accessibility/></findings><team/><note>%s</note>"
                         "<meta><instanceID>%s</instanceID></meta></data>\r\n--XyZ--\r\n",
                         W.case_a, note, instance);
    return b;
}

static void test_openrosa(void)
{
    char auth[300];
    web_basic("somchai", auth, sizeof auth);
    const char *h[] = {auth, NULL};
    http_res_t r;
    char v[200];

    CU_ASSERT_FATAL(http("HEAD", "/submission", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 204);
    CU_ASSERT(http_header(&r, "X-OpenRosa-Version", v, sizeof v) && !strcmp(v, "1.0"));
    CU_ASSERT(http_header(&r, "X-OpenRosa-Accept-Content-Length", v, sizeof v) && atol(v) > 0);
    http_free(&r);
    CU_ASSERT_FATAL(http("HEAD", "/submission", NULL, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 401);
    CU_ASSERT(http_header(&r, "WWW-Authenticate", v, sizeof v) && !strncmp(v, "Basic", 5));
    http_free(&r);

    CU_ASSERT_FATAL(http("GET", "/formList", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "<formID>tpmap-household.record_visit</formID>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "<hash>md5:"));
    http_free(&r);
    CU_ASSERT_FATAL(http("GET", "/forms/tpmap-household.record_visit.xml", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "<value>bmn22</value>")); /* from the catalog */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "jr:preload=\"uid\""));
    http_free(&r);

    size_t len;
    char *body = submission("uuid:6c1e3a52-visit-1", "first visit", &len);
    const char *ph[] = {auth, "Content-Type: multipart/form-data; boundary=XyZ", NULL};
    CU_ASSERT_FATAL(http("POST", "/submission", ph, body, len, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 201);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "<OpenRosaResponse"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "submit_success"));
    http_free(&r);
    CU_ASSERT_EQUAL(records(W.case_a, "visits"), 1);

    /* ODK resends when it missed the answer: applied once */
    CU_ASSERT_FATAL(http("POST", "/submission", ph, body, len, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 201);
    http_free(&r);
    CU_ASSERT_EQUAL(records(W.case_a, "visits"), 1);
    free(body);

    /* other XML under the same instanceID */
    body = submission("uuid:6c1e3a52-visit-1", "changed afterwards", &len);
    CU_ASSERT_FATAL(http("POST", "/submission", ph, body, len, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 409);
    http_free(&r);
    free(body);
    CU_ASSERT_EQUAL(records(W.case_a, "visits"), 1);
}

/* ---- SSE ---- */

typedef struct {
    char buf[1 << 16];
    size_t len;
    long want; /* stop once this id arrived */
} sse_t;

static long last_id(const char *text)
{
    long id = -1;
    for (const char *p = strstr(text, "id: "); p; p = strstr(p + 1, "\nid: "))
        id = atol(p[0] == '\n' ? p + 5 : p + 4);
    return id;
}

static long first_id(const char *text)
{
    const char *p = strstr(text, "id: ");
    return p ? atol(p + 4) : -1;
}

/* Keeps what the stream sends; ends it (returns 0) once the wanted id is in. */
static size_t sse_write(char *data, size_t size, size_t n, void *cls)
{
    sse_t *s = cls;
    size_t k = size * n;
    if (s->len + k >= sizeof s->buf)
        return 0;
    memcpy(s->buf + s->len, data, k);
    s->len += k;
    s->buf[s->len] = '\0';
    return last_id(s->buf) >= s->want && strstr(s->buf + s->len - k, "\n\n") ? 0 : k;
}

/* GET path as a stream until event id want arrived (or 10 s passed). */
static void sse_read(const char *path, const char *const *headers, sse_t *s)
{
    CURL *c = curl_easy_init();
    char url[300];
    snprintf(url, sizeof url, "%s%s", W.base, path);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_perform(c);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void test_sse_resume(void)
{
    web_login_t s;
    CU_ASSERT_FATAL(web_login("kanya", &s) == 201);
    /* two new events in kanya's province */
    const char *h[] = {s.cookie, s.csrf, "Content-Type: application/json", NULL};
    char path[200];
    snprintf(path, sizeof path, "/api/cases/%s/actions/add_note", W.case_a);
    http_res_t r;
    long seqs[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        const char *note = i ? "{\"data\":{\"note\":\"two\"}}" : "{\"data\":{\"note\":\"one\"}}";
        CU_ASSERT_FATAL(http("POST", path, h, note, strlen(note), &r) == 0);
        CU_ASSERT_EQUAL_FATAL(r.status, 200);
        const char *q = strstr(r.body, "\"seq\":");
        seqs[i] = q ? atol(q + 6) : 0;
        http_free(&r);
    }
    CU_ASSERT_FATAL(seqs[1] == seqs[0] + 1);
    /* resume after the first: the stream starts exactly at the second */
    char last[64];
    snprintf(last, sizeof last, "Last-Event-ID: %ld", seqs[0]);
    const char *sh[] = {s.cookie, last, NULL};
    static sse_t st;
    st.len = 0;
    st.buf[0] = '\0';
    st.want = seqs[1];
    sse_read("/api/events", sh, &st);
    CU_ASSERT_EQUAL(first_id(st.buf), seqs[1]);
    CU_ASSERT_EQUAL(last_id(st.buf), seqs[1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.buf, "event: note"));
    CU_ASSERT_PTR_NOT_NULL(strstr(st.buf, "\"note\": \"two\""));
}

/* ---- /metrics ---- */

static void test_metrics_parse(void)
{
    char auth[300];
    web_basic("boss", auth, sizeof auth);
    const char *h[] = {auth, NULL};
    http_res_t r;
    CU_ASSERT_FATAL(http("GET", "/metrics", h, NULL, 0, &r) == 0);
    CU_ASSERT_EQUAL(r.status, 200);
    char v[200];
    CU_ASSERT(http_header(&r, "Content-Type", v, sizeof v) && !strncmp(v, "text/plain", 10));
    regex_t sample;
    CU_ASSERT_FATAL(
        regcomp(&sample,
                "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\",?)*\\})?"
                " [-+0-9.eE]+(Inf)?$",
                REG_EXTENDED | REG_NOSUB) == 0);
    int samples = 0, bad = 0;
    char *save = NULL;
    for (char *l = strtok_r(r.body, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#') {
            bad += strncmp(l, "# HELP ", 7) != 0 && strncmp(l, "# TYPE ", 7) != 0;
            continue;
        }
        samples++;
        if (regexec(&sample, l, 0, NULL, 0)) {
            fprintf(stderr, "not a sample: %s\n", l);
            bad++;
        }
    }
    regfree(&sample);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(samples > 5);
    http_free(&r);
    CU_ASSERT_FATAL(http("GET", "/metrics", h, NULL, 0, &r) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "logbook_build_info{version=\""));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.body, "logbook_requests_total{op=\"report.summary\",code=\"ok\"}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "logbook_request_duration_seconds_bucket{op="));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "logbook_cases{state=\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "logbook_cases_overdue "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "logbook_lmdb_map_bytes "));
    CU_ASSERT_PTR_NULL(strstr(r.body, "case_id")); /* no per-case labels */
    http_free(&r);
}

static const cu_test_t tests[] = {
    {"login, logout and CSRF", test_login_logout_csrf},
    {"a field user cannot read or write another district", test_other_district_refused},
    {"an Idempotency-Key replay is applied once", test_idempotency_key_replay},
    {"OpenRosa HEAD, POST, a duplicate and the 409", test_openrosa},
    {"SSE resumes with Last-Event-ID", test_sse_resume},
    {"/metrics parses", test_metrics_parse},
};

int main(void)
{
    /* then the casework endpoints (web/casework.c), and last the one that rewrites the users */
    static cu_test_t all[CU_COUNT(tests) + 16];
    size_t n = 0;
    for (size_t i = 0; i < CU_COUNT(tests); i++)
        all[n++] = tests[i];
    for (size_t i = 0; i < web_casework_n && n + 1 < CU_COUNT(all); i++)
        all[n++] = web_casework_tests[i];
    all[n++] = (cu_test_t){"a disabled user is cut off", test_disabled_user_cut_off};
    return cu_run("web", suite_init, suite_clean, all, n);
}
