/*
 * folder.c - `report -o DIR/`: the HTML report as a folder of pages that
 * drill down from the area asked for (index.html) to each child with cases
 * (KEY.html), down to the pages whose rows are villages. Each page links to
 * its children's pages and up to its parent's. Bounded by
 * LBC_REPORT_PAGES_MAX pages; progress goes to standard error when many.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct {
    char key[LBC_REPORT_KEY_MAX];
    char up[LBC_REPORT_KEY_MAX + 8]; /* the parent's page, "" for index.html itself */
} page_t;

typedef struct {
    page_t *v;
    size_t n, cap, done;
} pages_t;

static bool has_page(const char *key, void *ctx)
{
    const pages_t *p = ctx;
    for (size_t i = 1; i < p->n; i++) /* 0 is index.html */
        if (strcmp(p->v[i].key, key) == 0)
            return true;
    return false;
}

static int plan(pages_t *p, const char *key, const char *up)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        page_t *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    snprintf(p->v[p->n].key, sizeof p->v[p->n].key, "%s", key);
    snprintf(p->v[p->n].up, sizeof p->v[p->n].up, "%s", up);
    p->n++;
    return 0;
}

/* The children of r worth a page of their own: areas above villages that have cases. */
static int plan_children(pages_t *p, const lbc_report_t *r, size_t self)
{
    char up[LBC_REPORT_KEY_MAX + 8];
    snprintf(up, sizeof up, "%s.html", self == 0 ? "index" : p->v[self].key);
    for (size_t i = 0; i < r->nrows; i++) {
        const lbc_report_row_t *w = &r->rows[i];
        if (strlen(w->key) >= 8 || w->cases == 0 || strcmp(w->key, r->area) == 0 ||
            has_page(w->key, p))
            continue;
        if (p->n >= LBC_REPORT_PAGES_MAX)
            return 1;
        int rc = plan(p, w->key, up);
        if (rc)
            return rc;
    }
    return 0;
}

static int write_page(const char *prog, const char *dir, const char *name, const lb_buf_t *b)
{
    char path[4096], err[512] = "";
    mode_t m = umask(0);
    umask(m);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        fprintf(stderr, "%s: %s: path too long\n", prog, dir);
        return LB_EBADREQ;
    }
    if (lb_file_replace(path, b->p, b->len, 0666 & ~m, err, sizeof err) != 0) {
        fprintf(stderr, "%s: cannot write %s\n", prog, err);
        return LB_EIO;
    }
    return 0;
}

/* One page: fetch, plan its children, render with links, write. */
static int one_page(const char *prog, lbc_t *c, const char *dir, pages_t *p, size_t i,
                    const char *by, bool *capped)
{
    char err[512] = "";
    lbc_report_t *r = NULL;
    lb_buf_t out;
    const char *area = p->v[i].key[0] ? p->v[i].key : NULL;
    int rc = lbc_report_fetch(c, area, i == 0 ? by : NULL, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s: %s\n", prog, area ? area : "report", err);
        return rc;
    }
    rc = plan_children(p, r, i);
    if (rc == 1) {
        *capped = true;
        rc = 0;
    }
    r->has_page = has_page;
    r->has_page_ctx = p;
    r->up_href = p->v[i].up[0] ? p->v[i].up : NULL;
    lb_buf_init(&out);
    if (rc == 0)
        rc = lbc_report_render(r, LBC_REPORT_HTML, 0, &out);
    if (rc == 0) {
        char name[LBC_REPORT_KEY_MAX + 8];
        snprintf(name, sizeof name, "%s.html", i == 0 ? "index" : p->v[i].key);
        rc = write_page(prog, dir, name, &out);
    } else {
        fprintf(stderr, "%s: out of memory\n", prog);
    }
    lb_buf_free(&out);
    lbc_report_destroy(&r);
    return rc;
}

int lbc_report_folder(const char *prog, lbc_t *c, const char *dir, const char *area, const char *by)
{
    pages_t p = {0};
    bool capped = false;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
        return LB_EIO;
    }
    int rc = plan(&p, area ? area : "", "");
    for (size_t i = 0; rc == 0 && i < p.n; i++) {
        rc = one_page(prog, c, dir, &p, i, by, &capped);
        if (rc == 0 && p.n > 50 && (i + 1) % 50 == 0)
            fprintf(stderr, "%s: %zu of %zu pages written\n", prog, i + 1, p.n);
    }
    if (rc == 0 && capped)
        fprintf(stderr, "%s: stopped planning pages at %d; the deepest areas have none\n", prog,
                LBC_REPORT_PAGES_MAX);
    free(p.v);
    return rc;
}
