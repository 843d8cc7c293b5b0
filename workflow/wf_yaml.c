/*
 * wf_yaml.c - libyaml events into a small node tree that keeps every node's
 * source position, so that the definition and catalog loaders can refuse a
 * file with "file:line:column: message" pointing at the offending node; and
 * the same tree as an lb_val_t for the daemon's config files. This is the
 * only file of the project that includes <yaml.h>.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "wf_internal.h"

/* "file:line:col: " and the message into e->err, when there is one. */
static void yerr_v(const wf_ectx_t *e, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    if (e->err && e->errlen) {
        int n = snprintf(e->err, e->errlen, "%s:%u:%u: ", e->file, line, col);
        if (n >= 0 && (size_t)n < e->errlen)
            vsnprintf(e->err + n, e->errlen - (size_t)n, fmt, ap);
    }
}

int wf_yerr(const wf_ectx_t *e, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    yerr_v(e, line, col, fmt, ap);
    va_end(ap);
    return LB_ECONFIG;
}

int wf_ynerr(const wf_ectx_t *e, const wf_ynode_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    yerr_v(e, n->line, n->col, fmt, ap);
    va_end(ap);
    return LB_ECONFIG;
}

void wf_ynode_free(wf_ynode_t **pn)
{
    if (!pn || !*pn)
        return;
    wf_ynode_t *n = *pn;
    /* Depth is bounded by WF_YAML_DEPTH at parse time, so recursion is too. */
    for (size_t i = 0; i < n->nkids; i++)
        wf_ynode_free(&n->kids[i]);
    free(n->kids);
    free(n->s);
    free(n);
    *pn = NULL;
}

static wf_ynode_t *ynode_new(wf_ykind_t kind, const yaml_mark_t *m)
{
    wf_ynode_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (unsigned)m->line + 1;
    n->col = (unsigned)m->column + 1;
    return n;
}

/* Appends kid to a container; on failure kid is freed. */
static int ynode_push(wf_ynode_t *parent, wf_ynode_t *kid)
{
    if (parent->nkids == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        wf_ynode_t **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k) {
            wf_ynode_free(&kid);
            return LB_ENOMEM;
        }
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->nkids++] = kid;
    return 0;
}

/*
 * Attaches a finished or just-opened node to its parent. A map's keys must be
 * scalars and unique: libyaml accepts duplicates, but a repeated key in a
 * definition is almost always a copy-and-paste mistake that would silently
 * drop half of a state.
 */
static int yattach(const wf_ectx_t *e, wf_ynode_t *parent, wf_ynode_t *kid)
{
    if (parent->kind == WF_Y_MAP && parent->nkids % 2 == 0) {
        int rc = 0;
        if (kid->kind != WF_Y_SCALAR)
            rc = wf_ynerr(e, kid, "map keys must be scalars");
        for (size_t i = 0; !rc && i < parent->nkids; i += 2)
            if (strcmp(parent->kids[i]->s, kid->s) == 0)
                rc = wf_ynerr(e, kid, "duplicate key '%s' (first at line %u)", kid->s,
                              parent->kids[i]->line);
        if (rc) {
            wf_ynode_free(&kid);
            return rc;
        }
    }
    return ynode_push(parent, kid);
}

/* libyaml reader errors carry a byte offset instead of a mark. */
static void offset_to_mark(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int syntax_error(const wf_ectx_t *e, const yaml_parser_t *p, const char *text, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR) {
        wf_yerr(e, 1, 1, "out of memory");
        return LB_ENOMEM;
    }
    unsigned line, col;
    if (p->error == YAML_READER_ERROR) {
        offset_to_mark(text, len, p->problem_offset, &line, &col);
    } else {
        line = (unsigned)p->problem_mark.line + 1;
        col = (unsigned)p->problem_mark.column + 1;
    }
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        return wf_yerr(e, line, col, "syntax error: %s %s", p->context, problem);
    return wf_yerr(e, line, col, "syntax error: %s", problem);
}

/* A parse in progress: the tree so far, its open containers and the counts that bound it. */
typedef struct {
    wf_ynode_t *doc; /* the root, owning everything below */
    wf_ynode_t *stack[WF_YAML_DEPTH];
    size_t depth, nodes;
    int ndocs;
} yparse_t;

/*
 * A new node for a scalar, sequence-start or mapping-start event. Anchors
 * and tags are refused: aliases would let a small file expand into a huge
 * tree, and tags would type scalars behind the schema's back. The node, or
 * NULL with *rc set.
 */
static wf_ynode_t *ynode_from_event(const wf_ectx_t *e, const yaml_event_t *ev, int *rc)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    const yaml_char_t *anchor, *tag;
    wf_ykind_t kind;

    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        kind = WF_Y_SCALAR;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        kind = WF_Y_SEQ;
    } else {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        kind = WF_Y_MAP;
    }
    if (anchor || tag) {
        *rc = wf_yerr(e, line, col, "%s are not supported", anchor ? "anchors" : "tags");
        return NULL;
    }

    wf_ynode_t *n = ynode_new(kind, &ev->start_mark);
    if (!n) {
        *rc = LB_ENOMEM;
        return NULL;
    }
    if (kind == WF_Y_SCALAR) {
        size_t sl = ev->data.scalar.length;
        if (memchr(ev->data.scalar.value, '\0', sl)) {
            wf_ynode_free(&n);
            *rc = wf_yerr(e, line, col, "NUL character in a string");
            return NULL;
        }
        n->s = malloc(sl + 1);
        if (!n->s) {
            wf_ynode_free(&n);
            *rc = LB_ENOMEM;
            return NULL;
        }
        memcpy(n->s, ev->data.scalar.value, sl);
        n->s[sl] = '\0';
        n->n = sl;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    return n;
}

/* Adds the node of a scalar or container-start event to the tree; a container becomes open. */
static int yparse_node(const wf_ectx_t *e, yparse_t *ps, const yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    int rc = 0;

    if (++ps->nodes > WF_YAML_NODES)
        return wf_yerr(e, line, col, "more than %d YAML nodes", WF_YAML_NODES);
    wf_ynode_t *n = ynode_from_event(e, ev, &rc);
    if (!n)
        return rc;
    if (ps->depth == 0) {
        ps->doc = n;
    } else {
        rc = yattach(e, ps->stack[ps->depth - 1], n);
        if (rc)
            return rc;
    }
    /* From here n belongs to the tree. */
    if (n->kind != WF_Y_SCALAR) {
        if (ps->depth == WF_YAML_DEPTH)
            return wf_yerr(e, line, col, "nesting deeper than %d", WF_YAML_DEPTH);
        ps->stack[ps->depth++] = n;
    }
    return 0;
}

/* One parser event; *done at the end of the stream. */
static int yparse_event(const wf_ectx_t *e, yparse_t *ps, const yaml_event_t *ev, bool *done)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++ps->ndocs > 1)
            return wf_yerr(e, line, col, "only one YAML document per file");
        return 0;
    case YAML_ALIAS_EVENT:
        return wf_yerr(e, line, col, "aliases are not supported");
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return yparse_node(e, ps, ev);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (ps->depth > 0)
            ps->depth--;
        return 0;
    default:
        return 0;
    }
}

int wf_yaml_parse(const wf_ectx_t *e, const char *text, size_t len, wf_ynode_t **root)
{
    yaml_parser_t p;
    yaml_event_t ev;
    yparse_t ps = {.doc = NULL};
    bool done = false;
    int rc = 0;

    *root = NULL;
    if (len > WF_FILE_MAX)
        return wf_yerr(e, 1, 1, "file larger than %u bytes", WF_FILE_MAX);
    if (!yaml_parser_initialize(&p)) {
        wf_yerr(e, 1, 1, "out of memory");
        return LB_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);

    while (!done && rc == 0) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(e, &p, text, len);
            break;
        }
        rc = yparse_event(e, &ps, &ev, &done);
        yaml_event_delete(&ev);
    }
    if (rc == 0 && !ps.doc)
        rc = wf_yerr(e, 1, 1, "empty file");
    if (rc == 0) {
        *root = ps.doc;
        ps.doc = NULL;
    }

    yaml_parser_delete(&p);
    wf_ynode_free(&ps.doc);
    if (rc == LB_ENOMEM && e->err && e->errlen)
        snprintf(e->err, e->errlen, "%s: out of memory", e->file);
    return rc;
}

int wf_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *buf = NULL;
    int rc = 0;
    struct stat st;

    *text = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        rc = LB_ECONFIG;
        goto cleanup;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        rc = LB_ECONFIG;
        goto cleanup;
    }
    if (st.st_size > (off_t)WF_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, WF_FILE_MAX);
        rc = LB_ECONFIG;
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = LB_ENOMEM;
        goto cleanup;
    }
    /* Read what is there now; the size may have changed since fstat. */
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = LB_ECONFIG;
        goto cleanup;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    buf = NULL;

cleanup:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

/* ---- YAML as values ---- */

/* The tree below n as a value; scalars stay strings. Depth is bounded by the parse. */
static int ynode_to_val(const wf_ynode_t *n, lb_val_t **out)
{
    lb_val_t *v = NULL;
    int rc = 0;

    *out = NULL;
    switch (n->kind) {
    case WF_Y_SCALAR:
        v = lb_strn(n->s, n->n);
        rc = v ? 0 : LB_ENOMEM;
        break;
    case WF_Y_SEQ:
        v = lb_arr();
        rc = v ? 0 : LB_ENOMEM;
        for (size_t i = 0; rc == 0 && i < n->nkids; i++) {
            lb_val_t *item;
            rc = ynode_to_val(n->kids[i], &item);
            if (rc == 0)
                rc = lb_arr_push(v, item);
        }
        break;
    case WF_Y_MAP:
        v = lb_map();
        rc = v ? 0 : LB_ENOMEM;
        /* The parse refused non-scalar and duplicate keys already. */
        for (size_t i = 0; rc == 0 && i + 1 < n->nkids; i += 2) {
            lb_val_t *item;
            rc = ynode_to_val(n->kids[i + 1], &item);
            if (rc == 0)
                rc = lb_map_set(v, n->kids[i]->s, item);
        }
        break;
    }
    if (rc) {
        lb_val_free(&v);
        return rc;
    }
    *out = v;
    return 0;
}

int wf_yaml_load_val(const char *path, lb_val_t **out, char *err, size_t errlen)
{
    wf_ectx_t e = {.file = path, .err = err, .errlen = errlen};
    wf_ynode_t *root = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (!out || !path)
        return LB_EINTERNAL;
    *out = NULL;
    rc = wf_read_file(path, &text, &len, err, errlen);
    if (rc == 0)
        rc = wf_yaml_parse(&e, text, len, &root);
    if (rc == 0 && !root) /* not so; said for clang-tidy, which does not follow wf_yerr */
        rc = LB_EINTERNAL;
    if (rc == 0) {
        rc = ynode_to_val(root, out);
        if (rc)
            lb_set_err(err, errlen, "%s: out of memory", path);
    }
    wf_ynode_free(&root);
    free(text);
    return rc;
}

const wf_ynode_t *wf_ymap_get(const wf_ynode_t *map, const char *key)
{
    if (!map || map->kind != WF_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->nkids; i += 2)
        if (strcmp(map->kids[i]->s, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

int wf_ymap_check(const wf_ectx_t *e, const wf_ynode_t *map, const char *what,
                  const char *const *allowed, const char *const *required)
{
    if (map->kind != WF_Y_MAP)
        return wf_ynerr(e, map, "%s must be a map", what);
    for (size_t i = 0; i + 1 < map->nkids; i += 2)
        if (!in_list(allowed, map->kids[i]->s))
            return wf_ynerr(e, map->kids[i], "unknown key '%s' in %s", map->kids[i]->s, what);
    for (size_t i = 0; required && required[i]; i++)
        if (!wf_ymap_get(map, required[i]))
            return wf_ynerr(e, map, "%s: missing '%s'", what, required[i]);
    return 0;
}

bool wf_yis_null(const wf_ynode_t *n)
{
    return n->kind == WF_Y_SCALAR && n->plain &&
           (n->n == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
            strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0);
}

int wf_ystr(const wf_ectx_t *e, const wf_ynode_t *n, const char *what, const char **out)
{
    if (n->kind != WF_Y_SCALAR || wf_yis_null(n))
        return wf_ynerr(e, n, "%s must be a string", what);
    *out = n->s;
    return 0;
}

int wf_yint(const wf_ectx_t *e, const wf_ynode_t *n, const char *what, int64_t *out)
{
    if (n->kind != WF_Y_SCALAR || !n->plain || n->n == 0)
        return wf_ynerr(e, n, "%s must be an integer", what);
    const char *s = n->s;
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (!*s)
        return wf_ynerr(e, n, "%s must be an integer", what);
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return wf_ynerr(e, n, "%s must be an integer", what);
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return wf_ynerr(e, n, "%s is out of range", what);
        v = v * 10 + d;
    }
    *out = neg ? -v : v;
    return 0;
}

int wf_ybool(const wf_ectx_t *e, const wf_ynode_t *n, const char *what, bool *out)
{
    if (n->kind == WF_Y_SCALAR && n->plain) {
        if (!strcmp(n->s, "true") || !strcmp(n->s, "True") || !strcmp(n->s, "TRUE")) {
            *out = true;
            return 0;
        }
        if (!strcmp(n->s, "false") || !strcmp(n->s, "False") || !strcmp(n->s, "FALSE")) {
            *out = false;
            return 0;
        }
    }
    return wf_ynerr(e, n, "%s must be true or false", what);
}
