/*
 * wf_catalog.c - the indicator catalog (config/indicators.yaml): which
 * indicator codes exist and under which dimension. It is data, not code,
 * because the BMN indicator set changes every five years (DOMAIN.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

typedef struct {
    char code[WF_NAME_MAX];
    int dim;
    char *th;
    char *en;
} wf_indicator_t;

struct wf_catalog {
    wf_indicator_t *v; /* file order, which is also the order describe() lists */
    size_t n;
};

void wf_catalog_destroy(wf_catalog_t **pcat)
{
    if (!pcat || !*pcat)
        return;
    wf_catalog_t *cat = *pcat;
    for (size_t i = 0; i < cat->n; i++) {
        free(cat->v[i].th);
        free(cat->v[i].en);
    }
    free(cat->v);
    free(cat);
    *pcat = NULL;
}

static const char *const cat_top_keys[] = {"indicators", NULL};
static const char *const cat_item_keys[] = {"code", "dimension", "th", "en", NULL};

static int cat_text(const wf_ectx_t *e, const wf_ynode_t *item, const char *key, char **out)
{
    const char *s;
    const wf_ynode_t *n = wf_ymap_get(item, key);
    int rc = wf_ystr(e, n, key, &s);
    if (rc)
        return rc;
    if (!*s)
        return wf_ynerr(e, n, "%s must not be empty", key);
    *out = strdup(s);
    return *out ? 0 : LB_ENOMEM;
}

static int cat_build(const wf_ectx_t *e, const wf_ynode_t *root, wf_catalog_t *cat)
{
    int rc = wf_ymap_check(e, root, "the catalog", cat_top_keys, cat_top_keys);
    if (rc)
        return rc;
    const wf_ynode_t *list = wf_ymap_get(root, "indicators");
    if (list->kind != WF_Y_SEQ)
        return wf_ynerr(e, list, "indicators must be a list");
    if (list->nkids == 0)
        return wf_ynerr(e, list, "no indicators");
    if (list->nkids > WF_CATALOG_MAX)
        return wf_ynerr(e, list, "more than %d indicators", WF_CATALOG_MAX);
    cat->v = calloc(list->nkids, sizeof(*cat->v));
    if (!cat->v)
        return LB_ENOMEM;
    for (size_t i = 0; i < list->nkids; i++) {
        const wf_ynode_t *item = list->kids[i];
        rc = wf_ymap_check(e, item, "an indicator", cat_item_keys, cat_item_keys);
        if (rc)
            return rc;
        const wf_ynode_t *cn = wf_ymap_get(item, "code"), *dn = wf_ymap_get(item, "dimension");
        const char *code, *dim;
        if ((rc = wf_ystr(e, cn, "code", &code)) || (rc = wf_ystr(e, dn, "dimension", &dim)))
            return rc;
        if (!wf_valid_name(code, "_"))
            return wf_ynerr(
                e, cn, "invalid indicator code '%s' (want [a-z0-9_], 1 to 63 characters)", code);
        for (size_t j = 0; j < cat->n; j++)
            if (strcmp(cat->v[j].code, code) == 0)
                return wf_ynerr(e, cn, "duplicate indicator code '%s'", code);
        int d = wf_dimension_index(dim);
        if (d < 0)
            return wf_ynerr(e, dn,
                            "unknown dimension '%s' (want health, living, education, income or "
                            "accessibility)",
                            dim);
        wf_indicator_t *ind = &cat->v[cat->n++];
        snprintf(ind->code, sizeof(ind->code), "%s", code);
        ind->dim = d;
        if ((rc = cat_text(e, item, "th", &ind->th)) || (rc = cat_text(e, item, "en", &ind->en)))
            return rc;
    }
    return 0;
}

int wf_catalog_load(const char *path, wf_catalog_t **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    wf_ynode_t *root = NULL;
    wf_catalog_t *cat = NULL;
    wf_ectx_t e = {path, err, errlen};
    int rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    rc = wf_read_file(path, &text, &len, err, errlen);
    if (rc)
        goto cleanup;
    rc = wf_yaml_parse(&e, text, len, &root);
    if (rc)
        goto cleanup;
    cat = calloc(1, sizeof(*cat));
    if (!cat) {
        rc = LB_ENOMEM;
        goto cleanup;
    }
    rc = cat_build(&e, root, cat);
    if (rc)
        goto cleanup;
    *out = cat;
    cat = NULL;

cleanup:
    if (rc == LB_ENOMEM && err && errlen)
        snprintf(err, errlen, "%s: out of memory", path);
    wf_catalog_destroy(&cat);
    wf_ynode_free(&root);
    free(text);
    return rc;
}

const char *wf_catalog_dimension(const wf_catalog_t *cat, const char *code)
{
    if (!cat || !code)
        return NULL;
    for (size_t i = 0; i < cat->n; i++)
        if (strcmp(cat->v[i].code, code) == 0)
            return wf_dimensions[cat->v[i].dim];
    return NULL;
}

size_t wf_catalog_count(const wf_catalog_t *cat)
{
    return cat ? cat->n : 0;
}

lb_val_t *wf_catalog_describe(const wf_catalog_t *cat)
{
    lb_val_t *arr = lb_arr();
    if (!arr || !cat)
        return arr;
    for (size_t i = 0; i < cat->n; i++) {
        const wf_indicator_t *ind = &cat->v[i];
        lb_val_t *m = lb_map();
        int rc = m ? 0 : LB_ENOMEM;
        if (!rc)
            rc = lb_map_set_str(m, "code", ind->code);
        if (!rc)
            rc = lb_map_set_str(m, "dimension", wf_dimensions[ind->dim]);
        if (!rc)
            rc = lb_map_set_str(m, "th", ind->th);
        if (!rc)
            rc = lb_map_set_str(m, "en", ind->en);
        if (rc) {
            lb_val_free(&m);
            lb_val_free(&arr);
            return NULL;
        }
        /* lb_arr_push frees m itself when it fails. */
        if (lb_arr_push(arr, m)) {
            lb_val_free(&arr);
            return NULL;
        }
    }
    return arr;
}
