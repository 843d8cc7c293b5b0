/*
 * metrics.c - GET /metrics in the Prometheus text format (0.0.4), with no
 * per-case labels: the gateway's own request counters and latency
 * histogram, cases by state, overdue and unacknowledged (report.summary in
 * the scraping person's scope), and for an admin the daemon's escalations
 * and LMDB map use (admin.stats). A scraper logs in like a person: Basic
 * auth (over TLS or behind a TLS proxy) or a session.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

static int line(lb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line(lb_buf_t *b, const char *fmt, ...)
{
    char s[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof s)
        return LB_EINTERNAL;
    return lb_buf_append(b, s, (size_t)n);
}

/* A label value is a state name from a workflow: escape it anyway. */
static void label(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 3 < cap; in++) {
        if (*in == '"' || *in == '\\')
            out[o++] = '\\';
        if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
            continue;
        }
        out[o++] = *in;
    }
    out[o] = '\0';
}

static int cases(web_req_t *r, lb_buf_t *b)
{
    lb_val_t *args = lb_map(), *reply = NULL;
    char err[128];
    int rc = lb_map_set_str(args, "by", "state");
    if (!rc)
        rc = web_call(r, NULL, "report.summary", args, &reply, err, sizeof err);
    lb_val_free(&args);
    if (rc || !lbc_reply_ok(reply)) {
        lb_val_free(&reply);
        return 0; /* the daemon is away or says no: no case figures */
    }
    const lb_val_t *totals = lb_map_get(lbc_reply_result(reply), "totals");
    const lb_val_t *by = lb_map_get(totals, "by_state");
    rc = line(b, "# HELP logbook_cases Cases by state.\n# TYPE logbook_cases gauge\n");
    for (uint32_t i = 0; !rc && by && by->type == LB_MAP && i < by->m.n; i++) {
        char l[256];
        label(by->m.keys[i], l, sizeof l);
        rc = line(b, "logbook_cases{state=\"%s\"} %lld\n", l, (long long)by->m.vals[i]->i);
    }
    int64_t overdue = 0, unacked = 0;
    lb_map_int(totals, "overdue", &overdue);
    lb_map_int(totals, "unacked", &unacked);
    if (!rc)
        rc = line(b,
                  "# HELP logbook_cases_overdue Cases with a fired escalation in their state.\n"
                  "# TYPE logbook_cases_overdue gauge\nlogbook_cases_overdue %lld\n"
                  "# HELP logbook_cases_unacked Cases whose latest escalation is not "
                  "acknowledged.\n# TYPE logbook_cases_unacked gauge\nlogbook_cases_unacked %lld\n",
                  (long long)overdue, (long long)unacked);
    lb_val_free(&reply);
    return rc;
}

static int stats(web_req_t *r, lb_buf_t *b)
{
    if (r->who.role != LB_ROLE_ADMIN)
        return 0;
    lb_val_t *reply = NULL;
    char err[128];
    int rc = web_call(r, NULL, "admin.stats", NULL, &reply, err, sizeof err);
    if (rc || !lbc_reply_ok(reply)) {
        lb_val_free(&reply);
        return 0;
    }
    const lb_val_t *s = lbc_reply_result(reply);
    int64_t fired = 0, db = 0, map = 0;
    lb_map_int(s, "escalations_fired", &fired);
    lb_map_int(s, "db_bytes", &db);
    lb_map_int(s, "map_bytes", &map);
    rc = line(b,
              "# HELP logbook_escalations_total Escalation steps fired since the daemon started.\n"
              "# TYPE logbook_escalations_total counter\nlogbook_escalations_total %lld\n"
              "# HELP logbook_lmdb_used_bytes Bytes of the LMDB map in use.\n"
              "# TYPE logbook_lmdb_used_bytes gauge\nlogbook_lmdb_used_bytes %lld\n"
              "# HELP logbook_lmdb_map_bytes Size of the LMDB map.\n"
              "# TYPE logbook_lmdb_map_bytes gauge\nlogbook_lmdb_map_bytes %lld\n",
              (long long)fired, (long long)db, (long long)map);
    lb_val_free(&reply);
    return rc;
}

web_res_t web_metrics(web_req_t *r)
{
    web_res_t res;
    if (strcmp(r->method, "GET") != 0)
        return web_problem(r, 405, "bad_request", "method not allowed here", NULL);
    if (!web_need_person(r, &res))
        return res;
    lb_buf_t b;
    lb_buf_init(&b);
    int rc = line(&b,
                  "# HELP logbook_build_info The gateway's version.\n"
                  "# TYPE logbook_build_info gauge\nlogbook_build_info{version=\"%s\"} 1\n"
                  "# HELP logbook_web_sessions Live web sessions.\n"
                  "# TYPE logbook_web_sessions gauge\nlogbook_web_sessions %zu\n"
                  "# HELP logbook_web_login_failures_total Failed logins.\n"
                  "# TYPE logbook_web_login_failures_total counter\n"
                  "logbook_web_login_failures_total %llu\n",
                  WEB_VERSION, web_session_count(r->w->people),
                  (unsigned long long)web_login_failures(r->w->people));
    if (!rc)
        rc = cases(r, &b);
    if (!rc)
        rc = stats(r, &b);
    if (!rc)
        rc = web_up_metrics(r->w->up, &b);
    res = rc ? web_problem_rc(r, LB_EINTERNAL, NULL, NULL)
             : web_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len, NULL);
    lb_buf_free(&b);
    return res;
}
