/*
 * client/requests.c - requests and replies through the client library against the fake daemon:
 * retries, timeouts, pipelining, CURVE.
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

#include "../../../clients/lib/report.h"
#include "client_test.h"

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static void test_call_reply(void)
{
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *args = lb_map(), *reply = NULL;
    char err[256] = "";
    lb_map_set_str(args, "name", "สมชาย ใจดี");
    lb_map_set_int(args, "n", 42);
    CU_ASSERT_EQUAL(lbc_call(c, "echo", args, &reply, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    CU_ASSERT_TRUE(lbc_reply_ok(reply));
    CU_ASSERT_TRUE(lb_val_equal(lbc_reply_result(reply), args));
    CU_ASSERT_EQUAL(strlen(lbc_reply_id(reply)), LBC_ID_LEN);
    const char *code = NULL;
    CU_ASSERT_EQUAL(lbc_reply_error(reply, &code, NULL, NULL), 0);
    CU_ASSERT_STRING_EQUAL(code, "");
    lb_val_free(&reply);

    /* The request on the wire: {v: 1, id, op, args}, args omitted when NULL. */
    CU_ASSERT_EQUAL(lbc_call_id(c, "my-own-id", "ping", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(lbc_reply_id(reply), "my-own-id");
    int64_t last = -1;
    CU_ASSERT_EQUAL(lb_map_int(lbc_reply_result(reply), "last_seq", &last), 0);
    CU_ASSERT_EQUAL(last, 0);
    lb_val_free(&reply);

    /* Bad calls are refused before anything is sent. */
    CU_ASSERT_EQUAL(lbc_call(c, "", NULL, &reply, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_call_id(c, "", "ping", NULL, &reply, err, sizeof err), LB_EBADREQ);
    lb_val_t *notmap = lb_arr();
    CU_ASSERT_EQUAL(lbc_call(c, "echo", notmap, &reply, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_PTR_NULL(reply);
    lb_val_free(&notmap);
    lb_val_free(&args);
    lbc_destroy(&c);
    CU_ASSERT_PTR_NULL(c);
    fake_stop(&f);
}

static void test_error_reply(void)
{
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call(c, "fail", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_FALSE(lbc_reply_ok(reply));
    CU_ASSERT_PTR_NULL(lbc_reply_result(reply));
    const char *code, *msg, *field;
    CU_ASSERT_EQUAL(lbc_reply_error(reply, &code, &msg, &field), LB_ENOTFOUND);
    CU_ASSERT_STRING_EQUAL(code, "not_found");
    CU_ASSERT_STRING_EQUAL(msg, "no case C000000042");
    CU_ASSERT_STRING_EQUAL(field, "case_id");
    lb_val_free(&reply);
    CU_ASSERT_EQUAL(lbc_errcode_parse("guard_failed"), LB_EGUARD);
    CU_ASSERT_EQUAL(lbc_errcode_parse("what"), LB_EINTERNAL);
    CU_ASSERT_EQUAL(lbc_reply_error(NULL, &code, NULL, NULL), LB_EINTERNAL);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_reply_without_delimiter_and_stale(void)
{
    fake_t f;
    fake_init(&f);
    f.no_delim = true;
    f.stale_first = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256];
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), 0);
        CU_ASSERT_TRUE(lbc_reply_ok(reply));
        /* The stale reply for another id came first and was dropped. */
        CU_ASSERT_PTR_NULL(lb_map_get(lbc_reply_result(reply), "stale"));
        CU_ASSERT_PTR_NOT_NULL(lb_map_get(lbc_reply_result(reply), "version"));
        lb_val_free(&reply);
    }
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_retry_keeps_id(void)
{
    fake_t f;
    fake_init(&f);
    f.drop_first = 1;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 300, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256] = "";
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_TRUE(lbc_reply_ok(reply));
    CU_ASSERT_EQUAL(atomic_load(&f.nreq), 2);
    pthread_mutex_lock(&f.mu);
    CU_ASSERT_STRING_EQUAL(f.ids[0], f.ids[1]);
    CU_ASSERT_STRING_EQUAL(f.ids[1], lbc_reply_id(reply));
    /* The retry came over a new connection, so a new routing id. */
    CU_ASSERT_FALSE(f.route_len[0] == f.route_len[1] &&
                    memcmp(f.routes[0], f.routes[1], f.route_len[0]) == 0);
    pthread_mutex_unlock(&f.mu);
    lb_val_free(&reply);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_timeout_unavailable(void)
{
    fake_t f;
    fake_init(&f);
    f.silent = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 100, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256] = "";
    int64_t t0 = mono_ms();
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    int64_t took = mono_ms() - t0;
    CU_ASSERT_PTR_NULL(reply);
    CU_ASSERT_TRUE(took >= 200 && took < 2000);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "2 tries"));
    CU_ASSERT_TRUE(fake_wait_requests(&f, 2));
    pthread_mutex_lock(&f.mu);
    CU_ASSERT_STRING_EQUAL(f.ids[0], f.ids[1]);
    pthread_mutex_unlock(&f.mu);
    lbc_destroy(&c);

    /* Nobody listening at all. */
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = "tcp://127.0.0.1:1";
    o.timeout_ms = 50;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    lbc_destroy(&c);
    o.endpoint = "nonsense://x";
    CU_ASSERT_EQUAL(lbc_connect(&o, &c, err, sizeof err), LB_EIO);
    fake_stop(&f);
}

static void test_pipeline(void)
{
    enum { N = 200 };
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    static char ids[N][LBC_ID_LEN + 1];
    bool seen[N] = {false};
    for (int i = 0; i < N; i++) {
        lbc_new_id(ids[i]);
        lb_val_t *args = lb_map();
        lb_map_set_int(args, "i", i);
        CU_ASSERT_EQUAL(lbc_send(c, ids[i], "echo", args), 0);
        lb_val_free(&args);
    }
    for (int k = 0; k < N; k++) {
        lb_val_t *reply = NULL;
        CU_ASSERT_EQUAL_FATAL(lbc_recv(c, 5000, &reply), 0);
        int64_t i = -1;
        CU_ASSERT_EQUAL(lb_map_int(lbc_reply_result(reply), "i", &i), 0);
        CU_ASSERT_FATAL(i >= 0 && i < N);
        CU_ASSERT_STRING_EQUAL(lbc_reply_id(reply), ids[i]);
        CU_ASSERT_FALSE(seen[i]);
        seen[i] = true;
        lb_val_free(&reply);
    }
    lb_val_t *reply = NULL;
    CU_ASSERT_EQUAL(lbc_recv(c, 0, &reply), LB_EUNAVAIL);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_curve_handshake(void)
{
    char *dir = make_tmpdir();
    char err[256] = "", ccert[512], scert[512];
    lb_cert_t *server = NULL, *client = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&server), 0);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&client), 0);
    CU_ASSERT_EQUAL(lb_cert_save(server, dir, "server", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lb_cert_save(client, dir, "admin", err, sizeof err), 0);
    snprintf(ccert, sizeof ccert, "%s/admin.key_secret", dir);
    snprintf(scert, sizeof scert, "%s/server.key", dir);

    fake_t f;
    fake_init(&f);
    fake_add_event(&f, "case", "65010101");
    atomic_store(&f.visible, 1);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, server), 0);

    lbc_opts_t o;
    lbc_t *c = NULL;
    lbc_opts_init(&o);
    o.endpoint = f.endpoint;
    o.client_cert = ccert;
    o.server_cert = scert;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    lb_val_t *reply = NULL;
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_TRUE(lbc_reply_ok(reply));
    lb_val_free(&reply);

    /* The events socket uses the same keys. */
    lbc_sub_opts_t so = {.endpoint = f.events_endpoint};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    uint64_t seq = 0;
    lb_val_t *body = NULL;
    CU_ASSERT_EQUAL(lbc_sub_next(sub, 5000, &seq, &body, NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(seq, 1);
    lb_val_free(&body);
    lbc_sub_destroy(&sub);
    lbc_destroy(&c);

    /* A client that does not know the server's key never gets an answer. */
    lb_cert_t *wrong = NULL;
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&wrong), 0);
    o.server_cert = NULL;
    o.server_key = wrong;
    o.timeout_ms = 200;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    lbc_destroy(&c);
    lb_cert_destroy(&wrong);

    fake_stop(&f);
    lb_cert_destroy(&server);
    lb_cert_destroy(&client);
    remove_tmpdir(dir);
}

static void test_curve_refused_key_reported(void)
{
    lb_cert_t *server = NULL, *client = NULL;
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&server), 0);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&client), 0);
    fake_t f;
    fake_init(&f);
    f.zap_deny = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, server), 0);
    lbc_opts_t o;
    lbc_t *c = NULL;
    char err[256] = "";
    lbc_opts_init(&o);
    o.endpoint = f.endpoint;
    o.client_key = client;
    o.server_key = server;
    o.timeout_ms = 500;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    lb_val_t *reply = NULL;
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    if (!strstr(err, "refused this client's key"))
        fprintf(stderr, "\n  error was: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "refused this client's key"));
    CU_ASSERT_EQUAL(atomic_load(&f.nreq), 0);
    lbc_destroy(&c);
    fake_stop(&f);
    lb_cert_destroy(&server);
    lb_cert_destroy(&client);
}

static void test_default_paths(void)
{
    unsetenv("LOGBOOK_ENDPOINT");
    unsetenv("LOGBOOK_CERT");
    setenv("LOGBOOK_SERVER_CERT", "", 1);
    lbc_paths_t p = lbc_default_paths();
    CU_ASSERT_STRING_EQUAL(p.endpoint, "tcp://127.0.0.1:5560");
    CU_ASSERT_STRING_EQUAL(p.client_cert, "var/data/keys/admin.key_secret");
    CU_ASSERT_STRING_EQUAL(p.server_cert, "var/data/keys/server.key");
    setenv("LOGBOOK_ENDPOINT", "ipc:///run/logbook.sock", 1);
    setenv("LOGBOOK_CERT", "/etc/logbook/me.key_secret", 1);
    p = lbc_default_paths();
    CU_ASSERT_STRING_EQUAL(p.endpoint, "ipc:///run/logbook.sock");
    CU_ASSERT_STRING_EQUAL(p.client_cert, "/etc/logbook/me.key_secret");
    unsetenv("LOGBOOK_ENDPOINT");
    unsetenv("LOGBOOK_CERT");
    unsetenv("LOGBOOK_SERVER_CERT");

    char a[LBC_ID_LEN + 1], b[LBC_ID_LEN + 1];
    lbc_new_id(a);
    lbc_new_id(b);
    CU_ASSERT_EQUAL(strlen(a), LBC_ID_LEN);
    CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef"), LBC_ID_LEN);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

/* ---------------------------------------------------------------------- */
/* The report's agency ledger                                              */
/* ---------------------------------------------------------------------- */

static char *render(const lbc_report_t *r, lbc_report_format_t f)
{
    lb_buf_t b;
    lb_buf_init(&b);
    CU_ASSERT_EQUAL(lbc_report_render(r, f, 0, &b), 0);
    CU_ASSERT_EQUAL(lb_buf_append(&b, "", 1), 0);
    return (char *)b.p;
}

static void test_report_ledger(void)
{
    lb_val_t *summary = tvalf("{'rows':[{'key':'6501','cases':3,'open':3}],"
                              "'totals':{'key':'65','cases':3,'open':3}}");
    lbc_report_t *r = NULL;
    CU_ASSERT_EQUAL_FATAL(lbc_report_parse(summary, "65", "district", &r), 0);
    lb_val_free(&summary);

    /* a daemon without report.ledger answers unknown_op: no section, no error */
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char err[256] = "";
    CU_ASSERT_EQUAL(lbc_report_fetch_ledger(c, r, err, sizeof err), 0);
    CU_ASSERT_FALSE(r->has_ledger);
    lbc_destroy(&c);
    fake_stop(&f);
    char *text = render(r, LBC_REPORT_TEXT), *html = render(r, LBC_REPORT_HTML);
    CU_ASSERT_PTR_NULL(strstr(text, "Agency ledger"));
    CU_ASSERT_PTR_NULL(strstr(html, "Agency ledger"));
    free(text);
    free(html);

    /* a ledger with no pledges says so */
    lb_val_t *empty = tvalf("{'by':'agency','rows':[],'totals':{'pledged':0,'pledged_thb':0.0,"
                            "'delivered':0,'delivered_thb':0.0,'open':0,'open_thb':0.0}}");
    CU_ASSERT_EQUAL(lbc_report_ledger_parse(r, empty), 0);
    lb_val_free(&empty);
    CU_ASSERT_TRUE(r->has_ledger);
    text = render(r, LBC_REPORT_TEXT);
    html = render(r, LBC_REPORT_HTML);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "Agency ledger"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "No pledges yet"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Agency ledger"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "No pledges yet"));
    CU_ASSERT_PTR_NULL(strstr(html, "<table class=\"ledger\">"));
    free(text);
    free(html);

    /* rows: most open first, amounts rounded to the baht, names escaped */
    lb_val_t *res = tvalf(
        "{'by':'agency','rows':["
        "{'key':'A&B office','pledged':1,'pledged_thb':500.0,'delivered':1,'delivered_thb':450.5,"
        "'open':0,'open_thb':0.0},"
        "{'key':'อบต.ควนโดน','pledged':3,'pledged_thb':12000.0,'delivered':1,"
        "'delivered_thb':3000.0,'open':2,'open_thb':9000.0}],"
        "'totals':{'pledged':4,'pledged_thb':12500.0,'delivered':2,'delivered_thb':3450.5,"
        "'open':2,'open_thb':9000.0}}");
    CU_ASSERT_EQUAL(lbc_report_ledger_parse(r, res), 0);
    lb_val_free(&res);
    CU_ASSERT_EQUAL_FATAL(r->nledger, 2);
    CU_ASSERT_STRING_EQUAL(r->ledger[0].key, "อบต.ควนโดน");
    CU_ASSERT_EQUAL(r->ledger[0].open, 2);
    CU_ASSERT_EQUAL(r->ledger_totals.pledged, 4);
    text = render(r, LBC_REPORT_TEXT);
    html = render(r, LBC_REPORT_HTML);
    CU_ASSERT_PTR_NULL(strstr(text, "No pledges yet"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "12,000"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "3,451")); /* 3450.5 rounded */
    CU_ASSERT_TRUE(strstr(text, "อบต.ควนโดน") < strstr(text, "A&B office"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<table class=\"ledger\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "A&amp;B office"));
    CU_ASSERT_PTR_NULL(strstr(html, "A&B office"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "<td data-col=\"open_thb\">9,000</td>"));
    free(text);
    free(html);
    lbc_report_destroy(&r);
}

static const cu_test_t tests[] = {
    {"call and reply", test_call_reply},
    {"error reply", test_error_reply},
    {"no delimiter, stale replies dropped", test_reply_without_delimiter_and_stale},
    {"retry keeps the request id", test_retry_keeps_id},
    {"timeout gives LB_EUNAVAIL", test_timeout_unavailable},
    {"pipelined sends", test_pipeline},
    {"CURVE with generated certificates", test_curve_handshake},
    {"refused key is reported", test_curve_refused_key_reported},
    {"default paths and ids", test_default_paths},
    {"report: the agency ledger, and a daemon without it", test_report_ledger},
};
const cu_suite_t client_requests_suite = {.name = "requests", .tests = tests, .n = CU_COUNT(tests)};
