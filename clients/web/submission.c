/*
 * submission.c - an ODK/Enketo submission's XML (an XForms instance) into
 * a form id, an instance id and a tree of fields, with libxml2 set up for
 * hostile input: no DTD (so no entity expansion), no network, bounded size
 * and depth. Fuzzed by tests/fuzz/fuzz_submission.c.
 */
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "web.h"

#define GROUP_DEPTH 4
#define FIELDS_MAX 512

static const char *local(const xmlNode *n)
{
    return (const char *)n->name;
}

static bool has_element_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

/* The element's text, trimmed, as a new value. */
static lb_val_t *text_of(xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    const char *s = t ? (const char *)t : "";
    size_t len = strlen(s);
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        len--;
    }
    lb_val_t *v = lb_strn(s, len);
    xmlFree(t);
    return v;
}

static int meta(xmlNode *m, web_submission_t *out, char *err, size_t errlen)
{
    for (xmlNode *c = m->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp(local(c), "instanceID") != 0)
            continue;
        lb_val_t *v = text_of(c);
        if (!v)
            return LB_ENOMEM;
        int ok = v->s.n > 0 && v->s.n < sizeof out->instance_id;
        if (ok)
            snprintf(out->instance_id, sizeof out->instance_id, "%s", v->s.p);
        lb_val_free(&v);
        if (!ok) {
            lb_set_err(err, errlen, "meta/instanceID must be 1-%zu bytes",
                       sizeof out->instance_id - 1);
            return LB_EBADREQ;
        }
    }
    return 0;
}

static int group(xmlNode *n, int depth, lb_val_t *into, size_t *count, web_submission_t *out,
                 char *err, size_t errlen)
{
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *name = local(c);
        if (depth == 0 && strcmp(name, "meta") == 0) {
            int rc = meta(c, out, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        if (++*count > FIELDS_MAX || depth >= GROUP_DEPTH) {
            lb_set_err(err, errlen, "too many fields or groups nested too deep");
            return LB_EBADREQ;
        }
        if (lb_map_get(into, name)) {
            lb_set_err(err, errlen, "field %s given twice", name);
            return LB_EBADREQ;
        }
        lb_val_t *v = NULL;
        int rc = 0;
        if (has_element_child(c)) {
            v = lb_map();
            rc = v ? group(c, depth + 1, v, count, out, err, errlen) : LB_ENOMEM;
        } else {
            v = text_of(c);
            rc = v ? 0 : LB_ENOMEM;
        }
        if (!rc && !lb_utf8_valid(name, strlen(name)))
            rc = LB_EBADREQ;
        if (rc) {
            lb_val_free(&v);
            return rc;
        }
        if ((rc = lb_map_set(into, name, v)))
            return rc;
    }
    return 0;
}

void web_submission_free(web_submission_t *s)
{
    if (s)
        lb_val_free(&s->fields);
}

int web_submission_parse(const uint8_t *xml, size_t len, web_submission_t *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > WEB_SUBMISSION_MAX || len > INT_MAX) {
        lb_set_err(err, errlen, "the submission is empty or too large");
        return LB_EBADREQ;
    }
    xmlDoc *doc = xmlReadMemory((const char *)xml, (int)len, "submission.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        lb_set_err(err, errlen, "the submission is not well-formed XML");
        rc = LB_EBADREQ;
    } else if (doc->intSubset || doc->extSubset) {
        lb_set_err(err, errlen, "a DOCTYPE is not allowed in a submission");
        rc = LB_EBADREQ;
    }
    xmlChar *id = root && !rc ? xmlGetProp(root, (const xmlChar *)"id") : NULL;
    if (!rc && (!id || !*id || strlen((const char *)id) >= sizeof out->form_id)) {
        lb_set_err(err, errlen, "the root element has no usable id attribute (the form)");
        rc = LB_EBADREQ;
    }
    if (!rc) {
        snprintf(out->form_id, sizeof out->form_id, "%s", (const char *)id);
        size_t count = 0;
        out->fields = lb_map();
        rc = out->fields ? group(root, 0, out->fields, &count, out, err, errlen) : LB_ENOMEM;
    }
    if (!rc && !out->instance_id[0]) {
        lb_set_err(err, errlen, "meta/instanceID is missing");
        rc = LB_EBADREQ;
    }
    xmlFree(id);
    xmlFreeDoc(doc);
    if (rc)
        web_submission_free(out);
    return rc;
}
