/*
 * tval.c - test values from JSON-ish text, comparisons against such text,
 * and a strict JSON syntax check for program output. Test-only code: a
 * syntax error in a test's own text aborts.
 */
#include "tval.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* JSON-ish text to lb_val_t                                               */
/* ---------------------------------------------------------------------- */

typedef struct {
    const char *start;
    const char *p;
} parser_t;

static void die(const parser_t *ps, const char *what)
{
    fprintf(stderr, "tval: %s at offset %ld in: %s\n", what, (long)(ps->p - ps->start), ps->start);
    abort();
}

static void skip_ws(parser_t *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static void put_utf8(lb_buf_t *b, unsigned cp)
{
    unsigned char u[3];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    }
    if (lb_buf_append(b, u, n))
        abort();
}

static char unescape(parser_t *ps, char c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case '"':
    case '\'':
    case '\\':
    case '/':
        return c;
    default:
        die(ps, "unknown escape");
        return 0;
    }
}

/* A quoted string at ps->p; returns it NUL-terminated in b (caller frees b). */
static void parse_string(parser_t *ps, lb_buf_t *b)
{
    char q = *ps->p;
    if (q != '"' && q != '\'')
        die(ps, "string expected");
    ps->p++;
    lb_buf_init(b);
    while (*ps->p && *ps->p != q) {
        if (*ps->p != '\\') {
            if (lb_buf_append(b, ps->p++, 1))
                abort();
            continue;
        }
        ps->p++;
        if (*ps->p == 'u') {
            char hex[5] = {0};
            for (int i = 0; i < 4; i++) {
                if (!isxdigit((unsigned char)ps->p[1 + i]))
                    die(ps, "bad \\u escape");
                hex[i] = ps->p[1 + i];
            }
            put_utf8(b, (unsigned)strtoul(hex, NULL, 16));
            ps->p += 5;
            continue;
        }
        char c = unescape(ps, *ps->p++);
        if (lb_buf_append(b, &c, 1))
            abort();
    }
    if (*ps->p != q)
        die(ps, "unterminated string");
    ps->p++;
    if (lb_buf_append(b, "", 1))
        abort();
}

static lb_val_t *parse_value(parser_t *ps, int depth);

/* A map or an array; ps->p is at its opening bracket. */
static lb_val_t *parse_container(parser_t *ps, int depth)
{
    bool map = *ps->p == '{';
    char close = map ? '}' : ']';
    lb_val_t *c = map ? lb_map() : lb_arr();
    if (!c)
        abort();
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return c;
    }
    for (;;) {
        skip_ws(ps);
        if (map) {
            lb_buf_t key;
            parse_string(ps, &key);
            skip_ws(ps);
            if (*ps->p != ':')
                die(ps, "':' expected");
            ps->p++;
            if (lb_map_set(c, (const char *)key.p, parse_value(ps, depth + 1)))
                die(ps, "duplicate key");
            lb_buf_free(&key);
        } else if (lb_arr_push(c, parse_value(ps, depth + 1))) {
            abort();
        }
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != close)
            die(ps, map ? "',' or '}' expected" : "',' or ']' expected");
        ps->p++;
        return c;
    }
}

static lb_val_t *parse_number(parser_t *ps)
{
    size_t n = strspn(ps->p, "+-0123456789.eE");
    if (n == 0)
        die(ps, "value expected");
    char *end;
    lb_val_t *v;
    if (memchr(ps->p, '.', n) || memchr(ps->p, 'e', n) || memchr(ps->p, 'E', n))
        v = lb_float(strtod(ps->p, &end));
    else
        v = lb_int(strtoll(ps->p, &end, 10));
    if (end != ps->p + n)
        die(ps, "bad number");
    ps->p = end;
    return v;
}

static lb_val_t *parse_value(parser_t *ps, int depth)
{
    if (depth > 64)
        die(ps, "nested too deep");
    skip_ws(ps);
    char c = *ps->p;
    lb_val_t *v;
    if (c == '{' || c == '[') {
        v = parse_container(ps, depth);
    } else if (c == '"' || c == '\'') {
        lb_buf_t s;
        parse_string(ps, &s);
        v = lb_strn((const char *)s.p, s.len - 1);
        lb_buf_free(&s);
    } else if (strncmp(ps->p, "true", 4) == 0) {
        ps->p += 4;
        v = lb_bool(true);
    } else if (strncmp(ps->p, "false", 5) == 0) {
        ps->p += 5;
        v = lb_bool(false);
    } else if (strncmp(ps->p, "null", 4) == 0) {
        ps->p += 4;
        v = lb_nil();
    } else {
        v = parse_number(ps);
    }
    if (!v)
        abort();
    return v;
}

lb_val_t *tval(const char *text)
{
    parser_t ps = {text, text};
    lb_val_t *v = parse_value(&ps, 0);
    skip_ws(&ps);
    if (*ps.p)
        die(&ps, "trailing text");
    return v;
}

lb_val_t *tvalf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    lb_val_t *v = tval(text);
    free(text);
    return v;
}

/* ---------------------------------------------------------------------- */
/* Values freed at teardown                                                */
/* ---------------------------------------------------------------------- */

static lb_val_t **tmp;
static size_t ntmp, captmp;

lb_val_t *tval_tmp(const char *text)
{
    if (ntmp == captmp) {
        size_t cap = captmp ? 2 * captmp : 64;
        lb_val_t **p = realloc(tmp, cap * sizeof *p);
        if (!p)
            abort();
        tmp = p;
        captmp = cap;
    }
    return tmp[ntmp++] = tval(text);
}

void tval_tmp_free(void)
{
    for (size_t i = 0; i < ntmp; i++)
        lb_val_free(&tmp[i]);
    free(tmp);
    tmp = NULL;
    ntmp = captmp = 0;
}

/* ---------------------------------------------------------------------- */
/* Comparisons                                                             */
/* ---------------------------------------------------------------------- */

const char *tval_json(const lb_val_t *v)
{
    static char out[4096];
    lb_buf_t b;
    lb_buf_init(&b);
    if (!v)
        snprintf(out, sizeof out, "(none)");
    else if (lb_val_to_json(v, 0, &b) != 0)
        snprintf(out, sizeof out, "(not printable)");
    else
        snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.p);
    lb_buf_free(&b);
    return out;
}

static void report(const lb_val_t *v, const lb_val_t *want, const char *how)
{
    fprintf(stderr, "\n  value: %s\n", tval_json(v));
    fprintf(stderr, "  %s: %s\n", how, tval_json(want));
}

bool tval_eq(const lb_val_t *v, const char *text)
{
    lb_val_t *want = tval(text);
    bool ok = lb_val_equal(v, want);
    if (!ok)
        report(v, want, "want");
    lb_val_free(&want);
    return ok;
}

static bool contains(const lb_val_t *v, const lb_val_t *pat)
{
    if (!v || v->type != pat->type)
        return false;
    if (pat->type == LB_MAP) {
        for (uint32_t i = 0; i < pat->m.n; i++)
            if (!contains(lb_map_get(v, pat->m.keys[i]), pat->m.vals[i]))
                return false;
        return true;
    }
    if (pat->type == LB_ARR) {
        if (v->a.n != pat->a.n)
            return false;
        for (uint32_t i = 0; i < pat->a.n; i++)
            if (!contains(v->a.items[i], pat->a.items[i]))
                return false;
        return true;
    }
    return lb_val_equal(v, pat);
}

bool tval_match(const lb_val_t *v, const char *text)
{
    lb_val_t *pat = tval(text);
    bool ok = contains(v, pat);
    if (!ok)
        report(v, pat, "to contain");
    lb_val_free(&pat);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* Strict JSON syntax                                                      */
/* ---------------------------------------------------------------------- */

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *json_value(const char *p, int depth);

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i]))
                        return NULL;
                p += 5;
                continue;
            }
            if (!*p || !strchr("\"\\/bfnrt", *p))
                return NULL;
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_digits(const char *p)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    while (isdigit((unsigned char)*p))
        p++;
    return p;
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0' && isdigit((unsigned char)p[1]))
        return NULL;
    p = json_digits(p);
    if (p && *p == '.')
        p = json_digits(p + 1);
    if (p && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = json_digits(p);
    }
    return p;
}

static const char *json_container(const char *p, int depth)
{
    char close = *p == '{' ? '}' : ']';
    bool obj = *p == '{';
    p = json_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (obj) {
            p = json_string(json_ws(p));
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        p = json_value(p, depth + 1);
        if (!p)
            return NULL;
        p = json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

static const char *json_value(const char *p, int depth)
{
    if (!p || depth > 64)
        return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[')
        return json_container(p, depth);
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    return json_number(p);
}

bool tval_json_ok(const char *s)
{
    const char *p = s ? json_value(s, 0) : NULL;
    return p && *json_ws(p) == '\0';
}

bool tval_json_lines_ok(const char *s)
{
    bool ok = true;
    char *copy = strdup(s ? s : "");
    if (!copy)
        return false;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); ok && line;
         line = strtok_r(NULL, "\n", &save))
        ok = tval_json_ok(line);
    free(copy);
    return ok;
}
