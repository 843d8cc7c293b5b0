/*
 * wf_areas.c - the gazetteer (config/areas.tsv, PROTOCOL.md 9.16): the Thai
 * and English names of every province, district and subdistrict by DOPA
 * code, and the check that an area code names a real place. Like the
 * indicator catalog it is data, not code: districts and subdistricts are
 * created and renamed every few years.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

_Static_assert(WF_AREAS_FILE_MAX <= WF_FILE_MAX, "wf_read_file must accept a gazetteer file");

typedef struct {
    char code[8];   /* 2, 4 or 6 digits */
    const char *th; /* both point into wf_areas.text */
    const char *en;
} wf_area_t;

struct wf_areas {
    char *text;   /* the file's bytes with tabs and line ends made NULs: the names live here */
    wf_area_t *v; /* code order (strcmp), which puts every parent before its children */
    size_t n, cap;
    size_t count[3]; /* provinces, districts, subdistricts */
};

/* Where a load's messages go, and the line it is on. */
typedef struct {
    const char *file;
    char *err;
    size_t errlen;
    unsigned line;
    unsigned prev_line; /* the line of the last area read, for duplicate messages */
} areas_parse_t;

static const char *const level_names[] = {"province", "district", "subdistrict"};

void wf_areas_destroy(wf_areas_t **pa)
{
    if (!pa || !*pa)
        return;
    free((*pa)->v);
    free((*pa)->text);
    free(*pa);
    *pa = NULL;
}

/* Cuts a message that snprintf truncated inside a UTF-8 sequence back to whole characters. */
static void utf8_trim(char *s)
{
    size_t i = strlen(s), k = 0;
    while (i > 0 && k < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        k++;
    }
    if (i == 0) {
        s[0] = '\0';
        return;
    }
    unsigned char c = (unsigned char)s[i - 1];
    size_t need = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (c < 0x80)
        s[i] = '\0';
    else if (need != k + 1)
        s[i - 1] = '\0';
}

static void set_msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n < 0)
        err[0] = '\0';
    else if ((size_t)n >= errlen)
        utf8_trim(err);
}

/* Writes "file:line: message" and returns LB_ECONFIG. */
static int line_err(const areas_parse_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int line_err(const areas_parse_t *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    set_msg(p->err, p->errlen, "%s:%u: %s", p->file, p->line, msg);
    return LB_ECONFIG;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Binary search of the first n areas (sorted) for an exact code. */
static const wf_area_t *area_find(const wf_area_t *v, size_t n, const char *code)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid].code, code);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */
/* ---------------------------------------------------------------------- */

static int check_code(const areas_parse_t *p, const char *code)
{
    size_t len = strlen(code);
    if (!all_digits(code, len) || len > 16)
        return line_err(p, "bad code: want 2, 4 or 6 digits");
    if (len != 2 && len != 4 && len != 6)
        return line_err(p, "bad code %s: want 2, 4 or 6 digits", code);
    if (code[0] == '0')
        return line_err(p, "bad code %s: provinces are 10 to 99", code);
    for (size_t i = 2; i < len; i += 2)
        if (code[i] == '0' && code[i + 1] == '0')
            return line_err(p, "bad code %s: %s number 00", code, level_names[i / 2]);
    return 0;
}

static int check_name(const areas_parse_t *p, const char *name, const char *what)
{
    size_t n = strlen(name);
    if (n == 0)
        return line_err(p, "empty %s name", what);
    if (n >= WF_AREA_NAME_MAX)
        return line_err(p, "%s name longer than %d bytes", what, WF_AREA_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return line_err(p, "control character in the %s name", what);
    return 0;
}

/* Order, duplicates and parents: the areas before this one are sorted, so one search. */
static int check_place(const areas_parse_t *p, const wf_areas_t *a, const char *code)
{
    if (a->n > 0) {
        const wf_area_t *last = &a->v[a->n - 1];
        int c = strcmp(code, last->code);
        if (c == 0)
            return line_err(p, "duplicate code %s, first on line %u", code, p->prev_line);
        if (c < 0)
            return line_err(p, "code %s out of order (after %s): sort the file by code", code,
                            last->code);
    }
    size_t len = strlen(code);
    if (len > 2) {
        char parent[8];
        memcpy(parent, code, len - 2);
        parent[len - 2] = '\0';
        if (!area_find(a->v, a->n, parent))
            return line_err(p, "%s %s: its %s %s is not in the file", level_names[len / 2 - 1],
                            code, level_names[len / 2 - 2], parent);
    }
    return 0;
}

static int area_push(wf_areas_t *a, const char *code, const char *th, const char *en)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        wf_area_t *v = realloc(a->v, cap * sizeof(*v));
        if (!v)
            return LB_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    wf_area_t *e = &a->v[a->n++];
    snprintf(e->code, sizeof(e->code), "%s", code);
    e->th = th;
    e->en = en;
    a->count[strlen(code) / 2 - 1]++;
    return 0;
}

/* One area line of n bytes at s, NUL-terminated at s[n]; its tabs become NULs. */
static int parse_line(areas_parse_t *p, wf_areas_t *a, char *s, size_t n)
{
    if (!lb_utf8_valid(s, n))
        return line_err(p, "invalid UTF-8 or a NUL byte");
    char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t2 || strchr(t2 + 1, '\t'))
        return line_err(p, "want three fields: CODE<TAB>NAME_TH<TAB>NAME_EN");
    *t1 = *t2 = '\0';
    const char *code = s, *th = t1 + 1, *en = t2 + 1;
    int rc;
    if ((rc = check_code(p, code)) || (rc = check_name(p, th, "Thai")) ||
        (rc = check_name(p, en, "English")) || (rc = check_place(p, a, code)))
        return rc;
    if (a->n >= WF_AREAS_MAX)
        return line_err(p, "more than %d areas", WF_AREAS_MAX);
    if ((rc = area_push(a, code, th, en)))
        return rc;
    p->prev_line = p->line;
    return 0;
}

/* Every line of a->text (len bytes, NUL at len). */
static int parse_text(areas_parse_t *p, wf_areas_t *a, size_t len)
{
    char *s = a->text, *end = a->text + len;
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - s);
        p->line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        s[n] = '\0';
        if (s[0] == '#') {
            if (!lb_utf8_valid(s, n))
                return line_err(p, "invalid UTF-8 or a NUL byte");
        } else if (n > 0) {
            int rc = parse_line(p, a, s, n);
            if (rc)
                return rc;
        }
        s = eol + 1;
    }
    if (a->n == 0) {
        set_msg(p->err, p->errlen, "%s: no areas", p->file);
        return LB_ECONFIG;
    }
    return 0;
}

/* Takes text (len bytes plus a NUL, malloc'd) over, whatever happens. */
static int areas_build(const char *file, char *text, size_t len, wf_areas_t **out, char *err,
                       size_t errlen)
{
    areas_parse_t p = {file, err, errlen, 0, 0};
    wf_areas_t *a = calloc(1, sizeof(*a));
    int rc;
    if (!a) {
        free(text);
        rc = LB_ENOMEM;
        goto cleanup;
    }
    a->text = text;
    rc = parse_text(&p, a, len);
    if (rc)
        goto cleanup;
    /* Give back what the doubling left over; keeping the bigger block is harmless. */
    if (a->n > 0 && a->n < a->cap) {
        wf_area_t *v = realloc(a->v, a->n * sizeof(*v));
        if (v) {
            a->v = v;
            a->cap = a->n;
        }
    }
    *out = a;
    a = NULL;

cleanup:
    if (rc == LB_ENOMEM)
        set_msg(err, errlen, "%s: out of memory", file);
    wf_areas_destroy(&a);
    return rc;
}

int wf_areas_load_text(const char *name, const char *text, size_t len, wf_areas_t **out, char *err,
                       size_t errlen)
{
    set_msg(err, errlen, "%s", "");
    if (!out)
        return LB_EINTERNAL;
    *out = NULL;
    if (!name || (!text && len > 0))
        return LB_EINTERNAL;
    if (len > WF_AREAS_FILE_MAX) {
        set_msg(err, errlen, "%s: larger than %u bytes", name, WF_AREAS_FILE_MAX);
        return LB_ECONFIG;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        set_msg(err, errlen, "%s: out of memory", name);
        return LB_ENOMEM;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    return areas_build(name, copy, len, out, err, errlen);
}

int wf_areas_load(const char *path, wf_areas_t **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    set_msg(err, errlen, "%s", "");
    if (!out)
        return LB_EINTERNAL;
    *out = NULL;
    if (!path)
        return LB_EINTERNAL;
    int rc = wf_read_file(path, &text, &len, err, errlen);
    if (rc)
        return rc;
    if (len > WF_AREAS_FILE_MAX) {
        free(text);
        set_msg(err, errlen, "%s: larger than %u bytes", path, WF_AREAS_FILE_MAX);
        return LB_ECONFIG;
    }
    return areas_build(path, text, len, out, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* Lookups                                                                 */
/* ---------------------------------------------------------------------- */

size_t wf_areas_count(const wf_areas_t *a, int digits)
{
    if (!a)
        return 0;
    switch (digits) {
    case 0:
        return a->n;
    case 2:
    case 4:
    case 6:
        return a->count[digits / 2 - 1];
    default:
        return 0;
    }
}

int wf_areas_at(const wf_areas_t *a, size_t i, const char **code, const char **th, const char **en)
{
    const wf_area_t *e = a && i < a->n ? &a->v[i] : NULL;
    if (code)
        *code = e ? e->code : NULL;
    if (th)
        *th = e ? e->th : NULL;
    if (en)
        *en = e ? e->en : NULL;
    return e ? 0 : LB_ENOTFOUND;
}

/* The length of a well-formed code (2, 4, 6 or 8 digits), or 0. */
static size_t code_len(const char *code)
{
    if (!code)
        return 0;
    size_t len = strnlen(code, 9);
    if ((len != 2 && len != 4 && len != 6 && len != 8) || !all_digits(code, len))
        return 0;
    return len;
}

int wf_areas_name(const wf_areas_t *a, const char *code, const char **th, const char **en)
{
    if (th)
        *th = NULL;
    if (en)
        *en = NULL;
    size_t len = code_len(code);
    if (len == 0)
        return LB_EBADREQ;
    int village = 0;
    if (len == 8) {
        village = (code[6] - '0') * 10 + (code[7] - '0');
        if (village == 0)
            return LB_EBADREQ;
        len = 6;
    }
    char key[8];
    memcpy(key, code, len);
    key[len] = '\0';
    const wf_area_t *e = a ? area_find(a->v, a->n, key) : NULL;
    if (!e)
        return LB_ENOTFOUND;
    if (th)
        *th = e->th;
    if (en)
        *en = e->en;
    return village;
}

int wf_areas_label(const wf_areas_t *a, const char *code, char *th, size_t thlen, char *en,
                   size_t enlen)
{
    const char *t, *e;
    int rc = wf_areas_name(a, code, &t, &e);
    if (rc < 0) {
        set_msg(th, thlen, "%s", "");
        set_msg(en, enlen, "%s", "");
        return rc;
    }
    if (rc > 0) {
        set_msg(th, thlen, "%s หมู่ %d", t, rc);
        set_msg(en, enlen, "%s Moo %d", e, rc);
    } else {
        set_msg(th, thlen, "%s", t);
        set_msg(en, enlen, "%s", e);
    }
    return 0;
}

int wf_areas_check(const wf_areas_t *a, const char *code, char *err, size_t errlen)
{
    set_msg(err, errlen, "%s", "");
    if (!a)
        return LB_EINTERNAL;
    size_t len = code_len(code);
    if (len == 0) {
        size_t n = code ? strnlen(code, 17) : 0;
        if (n > 0 && n <= 16 && all_digits(code, n))
            set_msg(err, errlen, "area code %s must be 2, 4, 6 or 8 digits", code);
        else
            set_msg(err, errlen, "area code must be 2, 4, 6 or 8 digits");
        return LB_EBADREQ;
    }
    const wf_area_t *parent = NULL;
    for (size_t k = 2; k <= len && k <= 6; k += 2) {
        char key[8];
        memcpy(key, code, k);
        key[k] = '\0';
        const wf_area_t *e = area_find(a->v, a->n, key);
        if (!e) {
            if (!parent)
                set_msg(err, errlen, "province %s does not exist", key);
            else
                set_msg(err, errlen, "%s %s does not exist in %s %s %s (%s)",
                        level_names[k / 2 - 1], key, level_names[k / 2 - 2], parent->code,
                        parent->en, parent->th);
            return LB_EBADREQ;
        }
        parent = e;
    }
    if (len == 8 && code[6] == '0' && code[7] == '0') {
        set_msg(err, errlen,
                "village 00 does not exist in subdistrict %s %s (%s): villages are numbered "
                "01 to 99",
                parent->code, parent->en, parent->th);
        return LB_EBADREQ;
    }
    return 0;
}
