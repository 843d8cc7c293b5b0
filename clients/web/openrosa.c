/*
 * openrosa.c - OpenRosa 1.0 for ODK Collect and Enketo: GET /formList (with
 * md5: hashes), GET /forms/ID.xml (the generated XForms), HEAD and POST
 * /submission. A submission's meta/instanceID is its idempotency key: the
 * same XML again is applied once, other XML under the same instanceID is
 * 409. Authentication is HTTP Basic, over TLS or behind a TLS proxy only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http.h"

#define ACCEPT_LEN "10485760" /* WEB_SUBMISSION_MAX */

static const char *const or_headers[] = {"X-OpenRosa-Version", "1.0",
                                         "X-OpenRosa-Accept-Content-Length", ACCEPT_LEN, NULL};

/* "https://HOST" or "http://HOST" as the client reached us. */
static void base_url(web_req_t *r, char *out, size_t cap)
{
    const char *host = web_header(r, "Host");
    bool https = r->w->tls || r->w->cfg.behind_tls_proxy;
    snprintf(out, cap, "%s://%s", https ? "https" : "http", host ? host : "localhost");
}

static web_res_t xml(web_req_t *r, unsigned status, const char *body, size_t len)
{
    return web_respond(r, status, "text/xml; charset=utf-8", body, len, or_headers);
}

static web_res_t form_list(web_req_t *r, const web_forms_t *forms)
{
    lb_buf_t b;
    lb_buf_init(&b);
    char base[300], line[1024];
    base_url(r, base, sizeof base);
    static const char open[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<xforms xmlns=\"http://openrosa.org/xforms/xformsList\">\n";
    int rc = lb_buf_append(&b, open, sizeof open - 1);
    for (size_t i = 0; !rc && i < forms->n; i++) {
        const web_form_t *f = &forms->v[i];
        /* ids, titles and hosts hold no markup: workflow names are [a-z0-9-], actions too */
        int n = snprintf(line, sizeof line,
                         "<xform><formID>%s</formID><name>%s</name><version>%s</version>"
                         "<hash>md5:%s</hash><downloadUrl>%s/forms/%s.xml</downloadUrl></xform>\n",
                         f->id, f->id, f->md5, f->md5, base, f->id);
        rc = n > 0 && (size_t)n < sizeof line ? lb_buf_append(&b, line, (size_t)n) : LB_EINTERNAL;
    }
    if (!rc)
        rc = lb_buf_append(&b, "</xforms>\n", 10);
    web_res_t res = rc ? web_problem_rc(r, rc, NULL, NULL) : xml(r, 200, (char *)b.p, b.len);
    lb_buf_free(&b);
    return res;
}

static web_res_t or_response(web_req_t *r, unsigned status, const char *nature, const char *msg)
{
    lb_buf_t b;
    lb_buf_init(&b);
    char head[200];
    int n = snprintf(head, sizeof head,
                     "<OpenRosaResponse xmlns=\"http://openrosa.org/http/response\">"
                     "<message nature=\"%s\">",
                     nature);
    int rc = lb_buf_append(&b, head, (size_t)n);
    for (const char *p = msg; !rc && *p; p++) {
        const char *e = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : NULL;
        rc = e ? lb_buf_append(&b, e, strlen(e)) : lb_buf_append(&b, p, 1);
    }
    if (!rc)
        rc = lb_buf_append(&b, "</message></OpenRosaResponse>\n", 30);
    web_res_t res = rc ? MHD_NO : xml(r, status, (char *)b.p, b.len);
    lb_buf_free(&b);
    return res;
}

/* The daemon's answer to a submission, as an OpenRosaResponse. */
static web_res_t act_reply(web_req_t *r, int rc, const lb_val_t *reply, const char *err)
{
    if (rc)
        return or_response(r, web_status(rc), "error", err);
    if (lbc_reply_ok(reply)) {
        const lb_val_t *res = lbc_reply_result(reply);
        char msg[200];
        snprintf(msg, sizeof msg, "%s is now %s", lb_map_str(res, "case_id"),
                 lb_map_str(res, "state") ? lb_map_str(res, "state") : "?");
        return or_response(r, 201, "submit_success", msg);
    }
    const char *code = "", *message = "", *field = "";
    int erc = lbc_reply_error(reply, &code, &message, &field);
    char msg[512];
    if (erc == LB_EFORBIDDEN && strcmp(field, "case_id") == 0)
        return or_response(r, 404, "error", "not_found: no such case");
    snprintf(msg, sizeof msg, "%s: %s%s%s", code, message, *field ? " field " : "", field);
    return or_response(r, web_status(erc), "error", msg);
}

/* Parses the submission and builds case.act's args; an OpenRosaResponse is queued on error. */
static bool submission_args(web_req_t *r, const web_forms_t *forms, web_submission_t *sub,
                            lb_val_t **args, uint8_t digest[16], web_res_t *res)
{
    char err[256] = "";
    const uint8_t *part;
    size_t plen;
    int rc = web_multipart_find(web_header(r, "Content-Type"), r->body.p, r->body.len,
                                "xml_submission_file", &part, &plen, err, sizeof err);
    if (rc == LB_ENOTFOUND)
        lb_set_err(err, sizeof err, "no xml_submission_file part");
    if (!rc)
        rc = web_submission_parse(part, plen, sub, err, sizeof err);
    const web_form_t *form = rc ? NULL : web_forms_find(forms, sub->form_id);
    if (!rc && !form) {
        lb_set_err(err, sizeof err, "no form %s", sub->form_id);
        rc = LB_ENOTFOUND;
    }
    const char *case_id = rc ? NULL : lb_map_str(sub->fields, "case_id");
    if (!rc && !case_id) {
        lb_set_err(err, sizeof err, "case_id is missing");
        rc = LB_EBADREQ;
    }
    lb_val_t *data = NULL;
    if (!rc)
        rc = web_form_data(form, sub->fields, &data, err, sizeof err);
    if (!rc) {
        crypto_generichash(digest, 16, part, plen, NULL, 0);
        *args = lb_map();
        lb_put_str(*args, "case_id", case_id, &rc);
        lb_put_str(*args, "action", form->action, &rc);
        lb_put(*args, "data", data, &rc);
        if (rc)
            lb_val_free(args);
    }
    if (rc)
        *res = or_response(r, web_status(rc == LB_ENOMEM ? LB_EINTERNAL : rc), "error", err);
    return rc == 0;
}

static web_res_t submit(web_req_t *r, const web_forms_t *forms)
{
    web_res_t res;
    web_submission_t sub;
    lb_val_t *args = NULL, *reply = NULL;
    uint8_t digest[16];
    char id[65], err[256] = "";
    if (!submission_args(r, forms, &sub, &args, digest, &res))
        return res;
    if (web_request_id(r->who.name, sub.instance_id, id))
        res = or_response(r, 400, "error", "meta/instanceID is not usable");
    else if (web_idem_check(r->w->idem, id, digest))
        res = or_response(r, 409, "error",
                          "conflict: another submission with this instanceID was different");
    else {
        int rc = web_call(r, id, "case.act", args, &reply, err, sizeof err);
        res = act_reply(r, rc, reply, err);
    }
    lb_val_free(&reply);
    lb_val_free(&args);
    web_submission_free(&sub);
    return res;
}

web_res_t web_openrosa(web_req_t *r)
{
    web_res_t res;
    bool head = strcmp(r->method, "HEAD") == 0, get = strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    bool sub = strcmp(r->url, "/submission") == 0;
    if (!(sub ? head || post : get))
        return web_problem(r, 405, "bad_request", "method not allowed here", NULL);
    if (!web_need_basic(r, &res))
        return res;
    if (head)
        return web_respond(r, 204, NULL, NULL, 0, or_headers);
    web_forms_t forms;
    char err[256] = "";
    int rc = web_forms_build(r, &forms, err, sizeof err);
    if (rc)
        return or_response(r, web_status(rc), "error", err);
    if (sub) {
        res = submit(r, &forms);
    } else if (strcmp(r->url, "/formList") == 0) {
        res = form_list(r, &forms);
    } else {
        char id[WEB_FORM_ID_MAX];
        const web_form_t *f = NULL;
        size_t n = strlen(r->url + 7);
        if (n > 4 && n - 4 < sizeof id && strcmp(r->url + 7 + n - 4, ".xml") == 0) {
            snprintf(id, sizeof id, "%.*s", (int)(n - 4), r->url + 7);
            f = web_forms_find(&forms, id);
        }
        res = f ? xml(r, 200, f->xml, f->xml_len)
                : web_problem(r, 404, "not_found", "no such form", NULL);
    }
    web_forms_free(&forms);
    return res;
}
