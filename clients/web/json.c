/*
 * json.c - JSON request bodies into the shared value tree (jansson does the
 * parsing), with the protocol's rules applied early: no null, no duplicate
 * keys, bounded depth and size. Fuzzed by tests/fuzz/fuzz_json.c.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "web.h"

static int convert(json_t *j, int depth, lb_val_t **out, char *path, size_t cap, char *err,
                   size_t errlen);

static int convert_object(json_t *j, int depth, lb_val_t **out, char *path, size_t cap, char *err,
                          size_t errlen)
{
    const char *k;
    json_t *v;
    size_t keep = strlen(path);
    *out = lb_map();
    if (!*out)
        return LB_ENOMEM;
    json_object_foreach(j, k, v)
    {
        lb_val_t *item = NULL;
        snprintf(path + keep, cap - keep, "%s%s", keep ? "." : "", k);
        int rc = convert(v, depth + 1, &item, path, cap, err, errlen);
        if (!rc)
            rc = lb_map_set(*out, k, item);
        if (rc) {
            lb_val_free(out);
            return rc;
        }
        path[keep] = '\0';
    }
    return 0;
}

static int convert_array(json_t *j, int depth, lb_val_t **out, char *path, size_t cap, char *err,
                         size_t errlen)
{
    size_t i, keep = strlen(path);
    json_t *v;
    *out = lb_arr();
    if (!*out)
        return LB_ENOMEM;
    json_array_foreach(j, i, v)
    {
        lb_val_t *item = NULL;
        snprintf(path + keep, cap - keep, "%s%zu", keep ? "." : "", i);
        int rc = convert(v, depth + 1, &item, path, cap, err, errlen);
        if (!rc)
            rc = lb_arr_push(*out, item);
        if (rc) {
            lb_val_free(out);
            return rc;
        }
        path[keep] = '\0';
    }
    return 0;
}

static int convert(json_t *j, int depth, lb_val_t **out, char *path, size_t cap, char *err,
                   size_t errlen)
{
    *out = NULL;
    if (depth > WEB_JSON_DEPTH) {
        lb_set_err(err, errlen, "%s: nested deeper than %d", path, WEB_JSON_DEPTH);
        return LB_ETOOLARGE;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return convert_object(j, depth, out, path, cap, err, errlen);
    case JSON_ARRAY:
        return convert_array(j, depth, out, path, cap, err, errlen);
    case JSON_STRING:
        *out = lb_strn(json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        *out = lb_int((int64_t)json_integer_value(j));
        break;
    case JSON_REAL:
        *out = lb_float(json_real_value(j));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = lb_bool(json_is_true(j));
        break;
    case JSON_NULL:
        lb_set_err(err, errlen, "%s: null is not a value (leave the key out)", path);
        return LB_EBADREQ;
    }
    return *out ? 0 : LB_ENOMEM;
}

int web_json_parse(const char *body, size_t len, lb_val_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > WEB_BODY_MAX) {
        lb_set_err(err, errlen, "body over %d bytes", WEB_BODY_MAX);
        return LB_ETOOLARGE;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        lb_set_err(err, errlen, "JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return LB_EBADREQ;
    }
    char path[256] = "";
    int rc = 0;
    if (!json_is_object(j)) {
        lb_set_err(err, errlen, "the body must be a JSON object");
        rc = LB_EBADREQ;
    } else {
        rc = convert(j, 0, out, path, sizeof path, err, errlen);
    }
    json_decref(j);
    return rc;
}
