/*
 * http.h - the request context and response helpers every handler of
 * logbook-web uses (http.c), and the handlers themselves: the JSON API
 * (api.c, api_cases.c), Server-Sent Events (sse.c), OpenRosa (openrosa.c,
 * xform.c), /metrics (metrics.c) and static files (static.c).
 */
#ifndef WEB_HTTP_H
#define WEB_HTTP_H

#include <microhttpd.h>

#include "web.h"

typedef struct {
    web_t *w;
    struct MHD_Connection *conn;
    const char *url, *method;
    lb_buf_t body;
    size_t limit;
    bool too_large;
    char addr[64];    /* the peer, or the proxy's X-Forwarded-For when behind_tls_proxy */
    web_person_t who; /* filled by web_need_session / web_need_basic */
} web_req_t;

typedef enum MHD_Result web_res_t;

/* The headers every response carries, as name, value pairs ending in NULL. */
extern const char *const web_security_headers[];

/*
 * Queues a response with the security headers (CSP, nosniff, frame
 * ancestors, Referrer-Policy, no-store) and the extra headers given as a
 * NULL-terminated list of name, value pairs (may be NULL). body is copied.
 */
web_res_t web_respond(web_req_t *r, unsigned status, const char *ctype, const void *body,
                      size_t len, const char *const *headers);
/* An RFC 9457 application/problem+json response: code and field as the daemon's. */
web_res_t web_problem(web_req_t *r, unsigned status, const char *code, const char *detail,
                      const char *field);
/* web_problem with extra headers (NULL-terminated name, value pairs). */
web_res_t web_problem_h(web_req_t *r, unsigned status, const char *code, const char *detail,
                        const char *field, const char *const *headers);
/* Adds the query parameter name to args as a string when present and not empty. */
void web_arg_str(web_req_t *r, lb_val_t *args, const char *name, int *rc);
/* web_problem for an LB_E* code (status from the table). */
web_res_t web_problem_rc(web_req_t *r, int rc, const char *detail, const char *field);
/*
 * The response for a daemon reply: its result as JSON with ok_status, or its
 * error as a problem. case_scoped: a forbidden case_id (or case.merge's keep
 * or drop) is answered 404 not_found (no existence oracle).
 */
web_res_t web_reply(web_req_t *r, int rc, const lb_val_t *reply, const char *err,
                    unsigned ok_status, bool case_scoped);
/* A value as application/json. */
web_res_t web_json(web_req_t *r, unsigned status, const lb_val_t *v, const char *const *headers);

/* The status for an LB_E* code. */
unsigned web_status(int rc);
const char *web_header(web_req_t *r, const char *name);
const char *web_query(web_req_t *r, const char *name);

/*
 * Requires a session cookie (and, when csrf, a matching X-CSRF-Token). true
 * with r->who filled; false when a 401/403 problem was queued into *res.
 */
bool web_need_session(web_req_t *r, bool csrf, web_res_t *res);
/*
 * Requires HTTP Basic credentials, accepted only over TLS or behind a TLS
 * proxy; the same login rate limit applies. true with r->who filled; false
 * when a 401/403/429 was queued into *res.
 */
bool web_need_basic(web_req_t *r, web_res_t *res);
/* web_need_session when a session cookie came, else web_need_basic. */
bool web_need_person(web_req_t *r, web_res_t *res);

/* A daemon call as r->who: web_up_call with the person's name. */
int web_call(web_req_t *r, const char *id, const char *op, const lb_val_t *args, lb_val_t **reply,
             char *err, size_t errlen);

/* Runs a write op as the person (CSRF already checked) with its Idempotency-Key; ok_status on
 * success. case_scoped as web_reply. */
web_res_t web_write_op(web_req_t *r, const char *op, const lb_val_t *args, unsigned ok_status,
                       bool case_scoped);
/* Runs a read op as the person; 200 on success. */
web_res_t web_read_op(web_req_t *r, const char *op, const lb_val_t *args, bool case_scoped);
/* Parses the body as a JSON object into *out; false when a problem was queued into *res. */
bool web_body_json(web_req_t *r, lb_val_t **out, web_res_t *res);

/* Handlers: each returns the result of queueing its response. */
web_res_t web_api(web_req_t *r);
web_res_t web_api_cases(web_req_t *r, const char *rest);
/* casework.c: POST /api/cases/{id}/transfer (after the session and CSRF checks). */
web_res_t web_casework_transfer(web_req_t *r, const char *case_id);
/* casework.c: /api/reassign, /api/duplicates, /api/merge, /api/ledger, /api/agenda; false when
 * path is none of them. */
bool web_casework(web_req_t *r, const char *path, web_res_t *res);
web_res_t web_sse(web_req_t *r);
web_res_t web_openrosa(web_req_t *r);
web_res_t web_metrics(web_req_t *r);
web_res_t web_static(web_req_t *r);

/* XForms (xform.c): the forms of the loaded workflows, generated. */
typedef struct {
    char id[WEB_FORM_ID_MAX]; /* WORKFLOW "." ACTION */
    char workflow[64], action[64], record[16];
    char title[256];
    lb_val_t *require; /* the action's require list (borrowed from the definition) */
    char *xml;
    size_t xml_len;
    char md5[33];
} web_form_t;

typedef struct {
    web_form_t *v;
    size_t n;
    lb_val_t *defs; /* the workflow.get results the forms were made from */
} web_forms_t;

/* Builds the forms of every workflow the person can read. 0 or an LB_E* (rc of the daemon). */
int web_forms_build(web_req_t *r, web_forms_t *out, char *err, size_t errlen);
void web_forms_free(web_forms_t *f);
const web_form_t *web_forms_find(const web_forms_t *f, const char *id);
/* The case.act data a submission's fields make for form (typed per the record). */
int web_form_data(const web_form_t *form, const lb_val_t *fields, lb_val_t **data, char *err,
                  size_t errlen);

#endif
