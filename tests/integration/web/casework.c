/*
 * casework.c - test_web's tests of the casework endpoints (docs/API.md):
 * POST /api/cases/{id}/transfer, POST /api/reassign, GET /api/duplicates,
 * POST /api/merge, and the reads GET /api/ledger and GET /api/agenda, against
 * a real gateway and logbookd: roles and scope (a case outside the person's
 * areas is 404, an area outside them 403), CSRF, Idempotency-Key replays,
 * the daemon's conflict and forbidden mapped to 409 and 403.
 */
#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "web_casework.h"
#include "web_http.h"

/* The users of base_users plus preeda, a committee of district 6501 only. */
static const char *const users[] = {
    "somchai field 6501 active",
    "suda field 6502 active",
    "mali field 6501 active",
    "kanya committee 65 active",
    "boss admin * active",
    "preeda committee 6501 active",
    NULL,
};

/* Logs name in; preeda is added to the users file first (the gateway polls it twice a second,
 * and a failed login would count against the address's rate limit, so wait rather than retry). */
static void login(const char *name, web_login_t *s)
{
    static bool added;
    if (!added) {
        CU_ASSERT_FATAL(webenv_users(users) == 0);
        usleep(1500000);
        added = true;
    }
    CU_ASSERT_EQUAL_FATAL(web_login(name, s), 201);
}

/* method path as s (with CSRF), body may be NULL, key an Idempotency-Key or NULL. */
static long req(const web_login_t *s, const char *method, const char *path, const char *body,
                const char *key, http_res_t *res)
{
    char k[300];
    snprintf(k, sizeof k, "Idempotency-Key: %s", key ? key : "");
    const char *h[] = {s->cookie, s->csrf, "Content-Type: application/json", key ? k : NULL, NULL};
    CU_ASSERT_FATAL(http(method, path, h, body, body ? strlen(body) : 0, res) == 0);
    return res->status;
}

/* req and free: only the status. */
static long status(const web_login_t *s, const char *method, const char *path, const char *body)
{
    http_res_t r;
    long st = req(s, method, path, body, NULL, &r);
    http_free(&r);
    return st;
}

/* The string at key of the JSON body (top level) into out; "" when absent. */
static const char *jstr(const http_res_t *r, const char *key, char *out, size_t cap)
{
    json_t *j = json_loads(r->body, 0, NULL);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, cap, "%s", v ? v : "");
    json_decref(j);
    return out;
}

static long jint(const http_res_t *r, const char *key)
{
    json_t *j = json_loads(r->body, 0, NULL);
    long v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

/* Opens a case as admin (daemon key) for house in area, on team when not NULL. */
static void open_case(const char *house, const char *area, const char *team, char out[32])
{
    lb_val_t *a = lb_map(), *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    lb_map_set(a, "household", h);
    lb_val_t *r = testd_call(&W.d, "case.open", a);
    CU_ASSERT_FATAL(r && lbc_reply_ok(r));
    snprintf(out, 32, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&r);
    lb_val_free(&a);
    if (!team)
        return;
    a = lb_map();
    lb_val_t *data = lb_map();
    lb_map_set_str(data, "team", team);
    lb_map_set_str(a, "case_id", out);
    lb_map_set_str(a, "action", "schedule_visit");
    lb_map_set(a, "data", data);
    r = testd_call(&W.d, "case.act", a);
    CU_ASSERT_FATAL(r && lbc_reply_ok(r));
    lb_val_free(&r);
    lb_val_free(&a);
}

static void test_transfer(void)
{
    char cid[32], path[200], v[64];
    open_case("65010000101", "65010102", "team-1", cid);
    snprintf(path, sizeof path, "/api/cases/%s/transfer", cid);
    const char *to6502 = "{\"to_area\":\"65020101\",\"reason\":\"moved to her daughter\"}";
    web_login_t field, kanya, preeda, suda;
    login("somchai", &field);
    login("kanya", &kanya);
    login("preeda", &preeda);
    login("suda", &suda);

    /* a field user may not; without the CSRF token nobody may */
    CU_ASSERT_EQUAL(status(&field, "POST", path, to6502), 403);
    http_res_t r, r2, r3;
    const char *no_csrf[] = {kanya.cookie, "Content-Type: application/json", NULL};
    CU_ASSERT_FATAL(http("POST", path, no_csrf, to6502, strlen(to6502), &r) == 0);
    CU_ASSERT_EQUAL(r.status, 403);
    http_free(&r);
    CU_ASSERT_EQUAL(status(&kanya, "POST", path, "{\"to_area\":\"65020101\",\"why\":\"x\"}"), 400);
    CU_ASSERT_EQUAL(status(&kanya, "GET", path, NULL), 404);

    /* the province committee moves it to 6502, once, however often the phone retries */
    CU_ASSERT_EQUAL(req(&kanya, "POST", path, to6502, "transfer-1", &r), 200);
    CU_ASSERT_STRING_EQUAL(jstr(&r, "area", v, sizeof v), "65020101");
    CU_ASSERT_STRING_EQUAL(jstr(&r, "from_area", v, sizeof v), "65010102");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"visible\": true"));
    CU_ASSERT_EQUAL(req(&kanya, "POST", path, to6502, "transfer-1", &r2), 200);
    CU_ASSERT_STRING_EQUAL(r.body, r2.body);
    const char *back = "{\"to_area\":\"65010102\",\"reason\":\"other\"}";
    CU_ASSERT_EQUAL(req(&kanya, "POST", path, back, "transfer-1", &r3), 422);
    http_free(&r);
    http_free(&r2);
    http_free(&r3);

    /* somchai (6501) lost sight of it, suda (6502) sees it */
    snprintf(path, sizeof path, "/api/cases/%s", cid);
    CU_ASSERT_EQUAL(status(&field, "GET", path, NULL), 404);
    CU_ASSERT_EQUAL(status(&suda, "GET", path, NULL), 200);

    /* a committee of 6501 cannot move a case of 6502: it does not exist for it */
    snprintf(path, sizeof path, "/api/cases/%s/transfer", cid);
    CU_ASSERT_EQUAL(req(&preeda, "POST", path, back, NULL, &r), 404);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"code\": \"not_found\""));
    http_free(&r);
    /* moving to its own area is a conflict */
    CU_ASSERT_EQUAL(status(&kanya, "POST", path, to6502), 409);

    /* a move out of the requester's areas is allowed, and then the case is gone for it */
    char c2[32];
    open_case("65010000102", "65010102", NULL, c2);
    snprintf(path, sizeof path, "/api/cases/%s/transfer", c2);
    const char *to66 = "{\"to_area\":\"66010203\",\"reason\":\"moved to Phichit\"}";
    CU_ASSERT_EQUAL(req(&preeda, "POST", path, to66, NULL, &r), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"visible\": false"));
    http_free(&r);
    snprintf(path, sizeof path, "/api/cases/%s", c2);
    CU_ASSERT_EQUAL(status(&preeda, "GET", path, NULL), 404);
    CU_ASSERT_EQUAL(status(&kanya, "POST", "/api/cases/C999999999/transfer", to66), 404);
}

static void test_reassign(void)
{
    char a[32], b[32];
    open_case("65010000201", "65010103", "old-team", a);
    open_case("65010000202", "65010103", "old-team", b);
    web_login_t field, preeda;
    login("somchai", &field);
    login("preeda", &preeda);
    const char *three = "{\"filter\":{\"area\":\"6501\",\"team\":\"old-team\"},"
                        "\"to_team\":\"new-team\",\"expect_count\":3}";
    const char *two = "{\"filter\":{\"area\":\"6501\",\"team\":\"old-team\"},"
                      "\"to_team\":\"new-team\",\"expect_count\":2}";
    CU_ASSERT_EQUAL(status(&field, "POST", "/api/reassign", two), 403);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/reassign", NULL), 405);
    http_res_t r, r2;
    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/reassign", three, NULL, &r), 409);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"field\": \"expect_count\""));
    http_free(&r);
    const char *other = "{\"filter\":{\"area\":\"6502\"},\"to_team\":\"new-team\"}";
    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/reassign", other, NULL, &r), 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"field\": \"filter.area\""));
    http_free(&r);

    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/reassign", two, "reassign-1", &r), 200);
    CU_ASSERT_EQUAL(jint(&r, "matched"), 2);
    CU_ASSERT_EQUAL(jint(&r, "reassigned"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, a));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, b));
    /* the retry is the stored reply, not a second run (which would match nothing: 409) */
    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/reassign", two, "reassign-1", &r2), 200);
    CU_ASSERT_STRING_EQUAL(r.body, r2.body);
    http_free(&r);
    http_free(&r2);
    CU_ASSERT_EQUAL(status(&preeda, "POST", "/api/reassign", two), 409);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/cases?team=new-team", NULL), 200);
}

static void test_duplicates_merge(void)
{
    char nid[14], body[400], keep[32], drop[32], v[64];
    testd_nid(420000000001ULL, nid);
    web_login_t field, kanya, preeda;
    login("somchai", &field);
    login("kanya", &kanya);
    login("preeda", &preeda);
    http_res_t r, r2;

    snprintf(body, sizeof body,
             "{\"household\":{\"house_id\":\"65010000301\",\"area\":\"65010104\","
             "\"members\":[{\"nid\":\"%s\",\"name\":\"Somsri\"}]}}",
             nid);
    CU_ASSERT_EQUAL_FATAL(req(&kanya, "POST", "/api/cases", body, NULL, &r), 201);
    jstr(&r, "case_id", keep, sizeof keep);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"duplicates\": []"));
    http_free(&r);
    snprintf(body, sizeof body,
             "{\"household\":{\"house_id\":\"65010000302\",\"area\":\"65010105\","
             "\"members\":[{\"nid\":\"%s\",\"name\":\"Somsri\"}]}}",
             nid);
    CU_ASSERT_EQUAL_FATAL(req(&kanya, "POST", "/api/cases", body, NULL, &r), 201);
    jstr(&r, "case_id", drop, sizeof drop);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, keep)); /* flagged, not refused */
    http_free(&r);

    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/duplicates?area=6501", NULL, NULL, &r), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, keep));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, drop));
    http_free(&r);
    CU_ASSERT_EQUAL(status(&field, "GET", "/api/duplicates", NULL), 403);
    /* another district's pairs are never named (the daemon answers an empty list) */
    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/duplicates?area=6502", NULL, NULL, &r), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, keep));
    http_free(&r);
    CU_ASSERT_EQUAL(status(&preeda, "POST", "/api/duplicates", "{}"), 405);

    /* merging into or from a case outside the areas: 404, naming the argument */
    snprintf(body, sizeof body, "{\"keep\":\"%s\",\"drop\":\"%s\"}", keep, W.case_b);
    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/merge", body, NULL, &r), 404);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"field\": \"drop\""));
    http_free(&r);
    snprintf(body, sizeof body, "{\"keep\":\"%s\",\"drop\":\"%s\"}", keep, drop);
    CU_ASSERT_EQUAL(status(&field, "POST", "/api/merge", body), 403);

    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/merge", body, "merge-1", &r), 200);
    CU_ASSERT_STRING_EQUAL(jstr(&r, "case_id", v, sizeof v), keep);
    CU_ASSERT_STRING_EQUAL(jstr(&r, "dropped", v, sizeof v), drop);
    CU_ASSERT_EQUAL(req(&preeda, "POST", "/api/merge", body, "merge-1", &r2), 200);
    CU_ASSERT_STRING_EQUAL(r.body, r2.body);
    http_free(&r);
    http_free(&r2);
    /* again under a new key: the dropped case is closed */
    CU_ASSERT_EQUAL(status(&preeda, "POST", "/api/merge", body), 409);
    char path[100];
    snprintf(path, sizeof path, "/api/cases/%s", drop);
    CU_ASSERT_EQUAL(req(&preeda, "GET", path, NULL, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(jstr(&r, "merged_into", v, sizeof v), keep);
    http_free(&r);
    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/duplicates?area=6501", NULL, NULL, &r), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, drop));
    http_free(&r);
}

/* case.act as admin (daemon key); the act result's record_id, or -1. */
static long act(const char *cid, const char *action, const char *data_json)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", cid);
    lb_map_set_str(a, "action", action);
    if (data_json) {
        json_t *j = json_loads(data_json, 0, NULL);
        lb_val_t *d = lb_map();
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (json_is_string(v))
                lb_map_set_str(d, k, json_string_value(v));
            else if (json_is_integer(v))
                lb_map_set_int(d, k, json_integer_value(v));
            else if (json_is_object(v)) /* only {} is used here */
                lb_map_set(d, k, lb_map());
        }
        json_decref(j);
        lb_map_set(a, "data", d);
    } else {
        lb_map_set(a, "data", lb_map());
    }
    lb_val_t *r = testd_call(&W.d, "case.act", a);
    CU_ASSERT(r && lbc_reply_ok(r));
    int64_t id = -1;
    if (r && lbc_reply_ok(r))
        lb_map_int(lbc_reply_result(r), "record_id", &id);
    lb_val_free(&r);
    lb_val_free(&a);
    return (long)id;
}

/* The ledger row of key in the answer's rows: {pledged, delivered, open} or all -1. */
static void ledger_row(const http_res_t *r, const char *key, long out[3])
{
    out[0] = out[1] = out[2] = -1;
    json_t *j = json_loads(r->body, 0, NULL);
    json_t *rows = json_object_get(j, "rows"), *row;
    size_t i;
    json_array_foreach(rows, i, row)
    {
        const char *k = json_string_value(json_object_get(row, "key"));
        if (k && strcmp(k, key) == 0) {
            out[0] = (long)json_integer_value(json_object_get(row, "pledged"));
            out[1] = (long)json_integer_value(json_object_get(row, "delivered"));
            out[2] = (long)json_integer_value(json_object_get(row, "open"));
        }
    }
    json_decref(j);
}

static void test_ledger_agenda(void)
{
    char cid[32], cid2[32], data[300];
    web_login_t field, preeda;
    login("somchai", &field);
    login("preeda", &preeda);
    http_res_t r;
    long row[3];

    open_case("65010000401", "65010106", NULL, cid);
    act(cid, "record_visit", "{\"findings\":{}}");
    act(cid, "plan_assistance", NULL);
    long pid = act(cid, "record_assistance",
                   "{\"agency\":\"web-agency\",\"dimension\":\"income\",\"kind\":\"cash\","
                   "\"amount_thb\":1200,\"status\":\"pledged\"}");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/ledger?area=6501&by=agency", NULL, NULL, &r), 200);
    ledger_row(&r, "web-agency", row);
    CU_ASSERT_EQUAL(row[0], 1);
    CU_ASSERT_EQUAL(row[1], 0);
    CU_ASSERT_EQUAL(row[2], 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"totals\""));
    http_free(&r);
    snprintf(data, sizeof data,
             "{\"agency\":\"web-agency\",\"dimension\":\"income\",\"kind\":\"cash\","
             "\"status\":\"delivered\",\"pledge\":%ld}",
             pid);
    CU_ASSERT(act(cid, "record_assistance", data) > pid);
    /* by defaults to agency; a field user reads the ledger of their own district */
    CU_ASSERT_EQUAL(req(&field, "GET", "/api/ledger?area=6501", NULL, NULL, &r), 200);
    ledger_row(&r, "web-agency", row);
    CU_ASSERT_EQUAL(row[0], 1);
    CU_ASSERT_EQUAL(row[1], 1);
    CU_ASSERT_EQUAL(row[2], 0);
    http_free(&r);
    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/ledger?area=6501&by=dimension", NULL, NULL, &r), 200);
    ledger_row(&r, "income", row);
    CU_ASSERT_EQUAL(row[1], 1);
    http_free(&r);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/ledger?area=6502", NULL), 403);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/ledger?by=team", NULL), 400);
    CU_ASSERT_EQUAL(status(&preeda, "POST", "/api/ledger", "{}"), 405);

    /* a case in follow_up waits for the committee's resolve: on the agenda at any level */
    open_case("65010000402", "65010106", NULL, cid2);
    act(cid2, "record_visit", "{\"findings\":{}}");
    act(cid2, "plan_assistance", NULL);
    act(cid2, "start_follow_up", NULL);
    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/agenda?area=6501&level=district", NULL, NULL, &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, cid2));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"waiting\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"truncated\": false"));
    http_free(&r);
    CU_ASSERT_EQUAL(
        req(&preeda, "GET", "/api/agenda?area=6501&level=district&limit=1", NULL, NULL, &r), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"level\": \"district\""));
    http_free(&r);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/agenda?area=6501&level=district&limit=x", NULL),
                    400);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/agenda?area=6501", NULL), 400);
    CU_ASSERT_EQUAL(status(&field, "GET", "/api/agenda?area=6501&level=district", NULL), 403);
    CU_ASSERT_EQUAL(status(&preeda, "GET", "/api/agenda?area=6502&level=district", NULL), 403);
    /* another district's case is never named */
    CU_ASSERT_EQUAL(req(&preeda, "GET", "/api/agenda?level=district", NULL, NULL, &r), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, W.case_b));
    http_free(&r);
}

const cu_test_t web_casework_tests[] = {
    {"POST /api/cases/{id}/transfer", test_transfer},
    {"POST /api/reassign", test_reassign},
    {"GET /api/duplicates and POST /api/merge", test_duplicates_merge},
    {"GET /api/ledger and GET /api/agenda", test_ledger_agenda},
};
const size_t web_casework_n = CU_COUNT(web_casework_tests);
