/*
 * xform.c - ODK XForms generated from the daemon's workflow definitions
 * (workflow.get) and the indicator catalog, never written by hand: one form
 * per action that appends a visit, assistance or follow-up record, with
 * the record's fields and the action's `require` keys. The same module turns
 * a submission's fields back into the action's data, typed per record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <libxml/entities.h>
#include <sodium.h>

#include "http.h"

static const char *const kinds[] = {"cash",
                                    "goods",
                                    "occupation",
                                    "training",
                                    "loan",
                                    "housing",
                                    "health_service",
                                    "education_support",
                                    "welfare_registration",
                                    "referral",
                                    "other",
                                    NULL};

/* ---------------------------------------------------------------------- */
/* Writing XML                                                             */
/* ---------------------------------------------------------------------- */

typedef struct {
    lb_buf_t b;
    int rc;
} xw_t;

static void raw(xw_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw(xw_t *x, const char *fmt, ...)
{
    char s[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    if (!x->rc && (n < 0 || (size_t)n >= sizeof s))
        x->rc = LB_EINTERNAL;
    if (!x->rc)
        x->rc = lb_buf_append(&x->b, s, (size_t)n);
}

/* Text escaped for element content and attribute values (libxml2 does the escaping). */
static void text(xw_t *x, const char *s)
{
    xmlChar *e = xmlEncodeSpecialChars(NULL, (const xmlChar *)s);
    if (!e) {
        x->rc = x->rc ? x->rc : LB_ENOMEM;
        return;
    }
    if (!x->rc)
        x->rc = lb_buf_append(&x->b, e, strlen((const char *)e));
    xmlFree(e);
}

static void label(xw_t *x, const char *th, const char *en)
{
    raw(x, "<label>");
    text(x, th);
    if (en && *en) {
        raw(x, " / ");
        text(x, en);
    }
    raw(x, "</label>");
}

static void item(xw_t *x, const char *value, const char *th, const char *en)
{
    raw(x, "<item>");
    label(x, th, en);
    raw(x, "<value>");
    text(x, value);
    raw(x, "</value></item>");
}

/* ---------------------------------------------------------------------- */
/* One form                                                                */
/* ---------------------------------------------------------------------- */

static bool required(const web_form_t *f, const char *key)
{
    for (uint32_t i = 0; f->require && i < f->require->a.n; i++)
        if (f->require->a.items[i]->type == LB_STR && strcmp(f->require->a.items[i]->s.p, key) == 0)
            return true;
    return false;
}

/* The record's own fields, in form order; NULL-terminated. */
static const char *const *record_fields(const char *record)
{
    static const char *const visit[] = {"findings", "team", "note", NULL};
    static const char *const assist[] = {"agency", "dimension", "kind", "amount_thb",
                                         "meets",  "note",      NULL};
    static const char *const follow[] = {"level", "met", "note", NULL};
    static const char *const note[] = {"note", NULL};
    if (strcmp(record, "visit") == 0)
        return visit;
    if (strcmp(record, "assistance") == 0)
        return assist;
    if (strcmp(record, "follow_up") == 0)
        return follow;
    return note;
}

static void catalog_items(xw_t *x, const web_catalog_t *cat, const char *dim)
{
    for (size_t i = 0; i < cat->n; i++)
        if (!dim || strcmp(cat->v[i].dimension, dim) == 0)
            item(x, cat->v[i].code, cat->v[i].th, cat->v[i].en);
}

/* The body control for one field. */
static void control(xw_t *x, const web_catalog_t *cat, const char *field)
{
    if (strcmp(field, "findings") == 0) {
        raw(x, "<group ref=\"/data/findings\">");
        label(x, "ผลการสำรวจ", "Findings");
        for (int d = 0; d < LB_NDIM; d++) {
            raw(x, "<select ref=\"/data/findings/%s\">", lb_dimensions[d]);
            label(x, lb_dimensions[d], NULL);
            catalog_items(x, cat, lb_dimensions[d]);
            raw(x, "</select>");
        }
        raw(x, "</group>");
    } else if (strcmp(field, "meets") == 0 || strcmp(field, "met") == 0) {
        raw(x, "<select ref=\"/data/%s\">", field);
        label(x, "ตัวชี้วัดที่ผ่าน", "Indicators met");
        catalog_items(x, cat, NULL);
        raw(x, "</select>");
    } else if (strcmp(field, "dimension") == 0 || strcmp(field, "kind") == 0 ||
               strcmp(field, "level") == 0) {
        const char *const *vals = strcmp(field, "kind") == 0        ? kinds
                                  : strcmp(field, "dimension") == 0 ? lb_dimensions
                                                                    : lb_progress_levels;
        size_t n = strcmp(field, "kind") == 0        ? sizeof kinds / sizeof *kinds - 1
                   : strcmp(field, "dimension") == 0 ? LB_NDIM
                                                     : LB_NPROGRESS;
        raw(x, "<select1 ref=\"/data/%s\">", field);
        label(x, field, NULL);
        for (size_t i = 0; i < n; i++)
            item(x, vals[i], vals[i], NULL);
        raw(x, "</select1>");
    } else {
        raw(x, "<input ref=\"/data/%s\">", field);
        label(x, strcmp(field, "case_id") == 0 ? "รหัสเคส" : field,
              strcmp(field, "case_id") == 0 ? "Case id" : NULL);
        raw(x, "</input>");
    }
}

static void binds(xw_t *x, const web_form_t *f, const char *const *fields)
{
    raw(x, "<bind nodeset=\"/data/case_id\" type=\"string\" required=\"true()\"/>");
    for (size_t i = 0; fields[i]; i++) {
        const char *k = fields[i];
        if (strcmp(k, "findings") == 0) {
            for (int d = 0; d < LB_NDIM; d++)
                raw(x, "<bind nodeset=\"/data/findings/%s\" type=\"string\"/>", lb_dimensions[d]);
            continue;
        }
        bool req = required(f, k) || strcmp(k, "agency") == 0 || strcmp(k, "kind") == 0 ||
                   strcmp(k, "dimension") == 0 || strcmp(k, "level") == 0 ||
                   strcmp(f->record, "note") == 0;
        raw(x, "<bind nodeset=\"/data/%s\" type=\"%s\"%s/>", k,
            strcmp(k, "amount_thb") == 0 ? "int" : "string", req ? " required=\"true()\"" : "");
    }
    raw(x, "<bind nodeset=\"/data/meta/instanceID\" type=\"string\" readonly=\"true()\" "
           "jr:preload=\"uid\"/>");
}

/* The require keys that are not fields of the record, then the record's fields. */
static size_t all_fields(const web_form_t *f, const char **out, size_t cap)
{
    size_t n = 0;
    const char *const *rec = record_fields(f->record);
    for (uint32_t i = 0; f->require && i < f->require->a.n && n < cap; i++) {
        const lb_val_t *k = f->require->a.items[i];
        bool dup = false;
        for (size_t j = 0; rec[j]; j++)
            dup = dup || (k->type == LB_STR && strcmp(rec[j], k->s.p) == 0);
        if (k->type == LB_STR && !dup && strspn(k->s.p, "abcdefghijklmnopqrstuvwxyz_") == k->s.n)
            out[n++] = k->s.p;
    }
    for (size_t j = 0; rec[j] && n < cap; j++)
        out[n++] = rec[j];
    out[n] = NULL;
    return n;
}

static int form_xml(web_form_t *f, const web_catalog_t *cat, int64_t version)
{
    xw_t x = {.rc = 0};
    lb_buf_init(&x.b);
    const char *fields[40];
    all_fields(f, fields, 39);
    raw(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<h:html xmlns=\"http://www.w3.org/2002/"
            "xforms\" xmlns:h=\"http://www.w3.org/1999/xhtml\" xmlns:jr=\"http://openrosa.org/"
            "javarosa\" xmlns:orx=\"http://openrosa.org/xforms\"><h:head><h:title>");
    text(&x, f->title);
    raw(&x, "</h:title><model><instance><data id=\"");
    text(&x, f->id);
    raw(&x, "\" orx:version=\"%lld\"><case_id/>", (long long)version);
    for (size_t i = 0; fields[i]; i++) {
        if (strcmp(fields[i], "findings") == 0) {
            raw(&x, "<findings>");
            for (int d = 0; d < LB_NDIM; d++)
                raw(&x, "<%s/>", lb_dimensions[d]);
            raw(&x, "</findings>");
        } else {
            raw(&x, "<%s/>", fields[i]);
        }
    }
    raw(&x, "<meta><instanceID/></meta></data></instance>");
    binds(&x, f, fields);
    raw(&x, "</model></h:head><h:body>");
    control(&x, cat, "case_id");
    for (size_t i = 0; fields[i]; i++)
        control(&x, cat, fields[i]);
    raw(&x, "</h:body></h:html>\n");
    if (x.rc) {
        lb_buf_free(&x.b);
        return x.rc;
    }
    f->xml = (char *)x.b.p;
    f->xml_len = x.b.len;
    uint8_t md5[16];
    /* OpenRosa's formList hash is MD5 by its spec: ODK compares it with the file it holds. */
    if (gnutls_hash_fast(GNUTLS_DIG_MD5, f->xml, f->xml_len, md5) < 0)
        return LB_EINTERNAL;
    sodium_bin2hex(f->md5, sizeof f->md5, md5, sizeof md5);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The forms of every workflow                                             */
/* ---------------------------------------------------------------------- */

void web_forms_free(web_forms_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].xml);
    free(f->v);
    lb_val_free(&f->defs);
    memset(f, 0, sizeof *f);
}

const web_form_t *web_forms_find(const web_forms_t *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].id, id) == 0)
            return &f->v[i];
    return NULL;
}

/* A form for each action of def that appends a visit, assistance or follow-up record. */
static int forms_of(const lb_val_t *def, const web_catalog_t *cat, web_forms_t *out)
{
    const char *wf = lb_map_str(def, "name"), *title = lb_map_str(def, "title");
    const lb_val_t *acts = lb_map_get(def, "actions");
    int64_t version = 0;
    lb_map_int(def, "version", &version);
    for (uint32_t i = 0; wf && acts && acts->type == LB_MAP && i < acts->m.n; i++) {
        const char *rec = lb_map_str(acts->m.vals[i], "record");
        if (!rec || (strcmp(rec, "visit") != 0 && strcmp(rec, "assistance") != 0 &&
                     strcmp(rec, "follow_up") != 0))
            continue;
        web_form_t *v = realloc(out->v, (out->n + 1) * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        out->v = v;
        web_form_t *f = &v[out->n];
        memset(f, 0, sizeof *f);
        snprintf(f->id, sizeof f->id, "%s.%s", wf, acts->m.keys[i]);
        snprintf(f->workflow, sizeof f->workflow, "%s", wf);
        snprintf(f->action, sizeof f->action, "%s", acts->m.keys[i]);
        snprintf(f->record, sizeof f->record, "%s", rec);
        snprintf(f->title, sizeof f->title, "%s: %s", title ? title : wf, acts->m.keys[i]);
        f->require = lb_map_get(acts->m.vals[i], "require");
        if (f->require && f->require->type != LB_ARR)
            f->require = NULL;
        int rc = form_xml(f, cat, version);
        if (rc)
            return rc;
        out->n++;
    }
    return 0;
}

static int call_result(web_req_t *r, const char *op, const lb_val_t *args, lb_val_t **result,
                       char *err, size_t errlen)
{
    lb_val_t *reply = NULL;
    int rc = web_call(r, NULL, op, args, &reply, err, errlen);
    if (!rc && !lbc_reply_ok(reply)) {
        const char *msg = "";
        rc = lbc_reply_error(reply, NULL, &msg, NULL);
        lb_set_err(err, errlen, "%s: %s", op, msg);
    }
    *result = rc ? NULL : lb_val_dup(lbc_reply_result(reply));
    lb_val_free(&reply);
    return rc ? rc : *result ? 0 : LB_ENOMEM;
}

int web_forms_build(web_req_t *r, web_forms_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    lb_val_t *list = NULL;
    int rc = call_result(r, "workflow.list", NULL, &list, err, errlen);
    if (!rc && !(out->defs = lb_arr()))
        rc = LB_ENOMEM;
    for (uint32_t i = 0; !rc && list->type == LB_ARR && i < list->a.n; i++) {
        lb_val_t *args = lb_map(), *def = NULL;
        const char *name = lb_map_str(list->a.items[i], "name");
        rc = args && name ? lb_map_set_str(args, "name", name) : LB_ENOMEM;
        if (!rc)
            rc = call_result(r, "workflow.get", args, &def, err, errlen);
        lb_val_free(&args);
        if (!rc)
            rc = lb_arr_push(out->defs, def);
    }
    /* The forms borrow from defs, which no longer grows. */
    for (uint32_t i = 0; !rc && i < out->defs->a.n; i++)
        rc = forms_of(out->defs->a.items[i], &r->w->cat, out);
    lb_val_free(&list);
    if (rc)
        web_forms_free(out);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* A submission back into data                                             */
/* ---------------------------------------------------------------------- */

/* "a b  c" into ["a", "b", "c"]. */
static lb_val_t *split_list(const char *s)
{
    lb_val_t *a = lb_arr();
    int rc = a ? 0 : LB_ENOMEM;
    while (!rc && *s) {
        size_t sp = strspn(s, " \t\n"), n;
        s += sp;
        n = strcspn(s, " \t\n");
        if (n)
            lb_push(a, lb_strn(s, n), &rc);
        s += n;
    }
    if (rc)
        lb_val_free(&a);
    return a;
}

static int put_field(lb_val_t *data, const char *k, const lb_val_t *v, char *err, size_t errlen)
{
    int rc = 0;
    if (strcmp(k, "findings") == 0) {
        if (v->type != LB_MAP)
            goto bad;
        lb_val_t *f = lb_map();
        for (uint32_t i = 0; f && !rc && i < v->m.n; i++) {
            if (v->m.vals[i]->type != LB_STR)
                rc = LB_EBADREQ;
            else if (v->m.vals[i]->s.n)
                lb_put(f, v->m.keys[i], split_list(v->m.vals[i]->s.p), &rc);
        }
        if (rc == LB_EBADREQ) {
            lb_val_free(&f);
            goto bad;
        }
        if (f && f->m.n)
            lb_put(data, k, f, &rc);
        else
            lb_val_free(&f);
        return f || rc ? rc : LB_ENOMEM;
    }
    if (v->type != LB_STR)
        goto bad;
    if (!v->s.n)
        return 0; /* an unanswered question */
    if (strcmp(k, "meets") == 0 || strcmp(k, "met") == 0) {
        lb_put(data, k, split_list(v->s.p), &rc);
    } else if (strcmp(k, "amount_thb") == 0) {
        char *end = NULL;
        long long n = strtoll(v->s.p, &end, 10);
        if (*end)
            goto bad;
        lb_put_int(data, k, n, &rc);
    } else {
        lb_put_str(data, k, v->s.p, &rc);
    }
    return rc;
bad:
    lb_set_err(err, errlen, "%s: not a value this form gives", k);
    return LB_EBADREQ;
}

int web_form_data(const web_form_t *form, const lb_val_t *fields, lb_val_t **data, char *err,
                  size_t errlen)
{
    const char *all[40];
    all_fields(form, all, 39);
    *data = lb_map();
    int rc = *data ? 0 : LB_ENOMEM;
    for (uint32_t i = 0; !rc && i < fields->m.n; i++) {
        const char *k = fields->m.keys[i];
        bool known = strcmp(k, "case_id") == 0;
        for (size_t j = 0; !known && all[j]; j++)
            known = strcmp(all[j], k) == 0;
        if (!known) {
            lb_set_err(err, errlen, "%s is not a field of form %s", k, form->id);
            rc = LB_EBADREQ;
        } else if (strcmp(k, "case_id") != 0) {
            rc = put_field(*data, k, fields->m.vals[i], err, errlen);
        }
    }
    if (rc)
        lb_val_free(data);
    return rc;
}
