/*
 * args.c - text helpers the command-line tools share: KEY=VALUE arguments
 * into nested maps, times in unix ms or ISO-8601, and the display width of
 * UTF-8 (Thai) text for aligned tables. Pure functions, so unit-testable.
 */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------- */
/* KEY=VALUE                                                               */
/* ---------------------------------------------------------------------- */

/* A decimal integer without leading zeros ("0065" is an area code, not 65). */
static bool parse_int(const char *s, size_t n, int64_t *out)
{
    char tmp[24];
    size_t i = 0;
    if (n == 0 || n >= sizeof tmp)
        return false;
    if (s[0] == '-')
        i = 1;
    if (i == n || (s[i] == '0' && n - i > 1) || (s[i] == '0' && i == 1))
        return false;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = (int64_t)v;
    return true;
}

static lb_val_t *scalar(const char *s, size_t n)
{
    int64_t i;
    if (parse_int(s, n, &i))
        return lb_int(i);
    return lb_strn(s, n);
}

static lb_val_t *kv_value(const char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        return lb_strn(v + 1, n - 2);
    if (!strchr(v, ','))
        return scalar(v, n);
    lb_val_t *a = lb_arr();
    const char *p = v;
    while (a) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *b = p;
        while (b < end && isspace((unsigned char)*b))
            b++;
        const char *e = end;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b && lb_arr_push(a, scalar(b, (size_t)(e - b))) != 0)
            lb_val_free(&a);
        if (!comma)
            break;
        p = comma + 1;
    }
    return a;
}

int lbc_kv_parse(lb_val_t *map, const char *arg, char *err, size_t errlen)
{
    int rc = 0;
    char *key = NULL;
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!map || map->type != LB_MAP || !eq) {
        lb_set_err(err, errlen, "expected KEY=VALUE, got '%s'", arg ? arg : "");
        rc = LB_EBADREQ;
        goto done;
    }
    key = strndup(arg, (size_t)(eq - arg));
    if (!key) {
        rc = LB_ENOMEM;
        goto done;
    }
    lb_val_t *m = map;
    char *seg = key;
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot)
            *dot = '\0';
        if (!*seg) {
            lb_set_err(err, errlen, "empty key segment in '%s'", arg);
            rc = LB_EBADREQ;
            goto done;
        }
        lb_val_t *cur = lb_map_get(m, seg);
        if (!dot) {
            if (cur) {
                lb_set_err(err, errlen, "%.*s given twice (or both as a value and a map)",
                           (int)(eq - arg), arg);
                rc = LB_EBADREQ;
                goto done;
            }
            lb_val_t *v = kv_value(eq + 1);
            rc = v ? lb_map_set(m, seg, v) : LB_ENOMEM;
            goto done;
        }
        if (!cur) {
            rc = lb_map_set(m, seg, lb_map());
            if (rc)
                goto done;
            cur = lb_map_get(m, seg);
        } else if (cur->type != LB_MAP) {
            lb_set_err(err, errlen, "%s is a value and cannot hold %s", seg, dot + 1);
            rc = LB_EBADREQ;
            goto done;
        }
        m = cur;
        seg = dot + 1;
    }
done:
    free(key);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Time                                                                    */
/* ---------------------------------------------------------------------- */

/* Reads exactly n digits at *p, advancing it. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int lbc_parse_time(const char *s, int64_t *ms)
{
    if (!s || !*s || !ms)
        return LB_EBADREQ;
    size_t n = strlen(s);
    if (strspn(s, "0123456789") == n) {
        int64_t v;
        if (n > 18 || !parse_int(s, n, &v))
            return LB_EBADREQ;
        *ms = v;
        return 0;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return LB_EBADREQ;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return LB_EBADREQ;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return LB_EBADREQ;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return LB_EBADREQ;
            if (*p == '.' || *p == ',') {
                p++;
                int nd = 0;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3)
                        frac = frac * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return LB_EBADREQ;
                for (; nd < 3; nd++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return LB_EBADREQ;
    }
    struct tm tmv = {.tm_year = y - 1900,
                     .tm_mon = mo - 1,
                     .tm_mday = d,
                     .tm_hour = h,
                     .tm_min = mi,
                     .tm_sec = sec};
    time_t t;
    if (*p == '\0') {
        tmv.tm_isdst = -1;
        t = mktime(&tmv);
    } else {
        int off = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (!digits(&p, 2, &oh))
                return LB_EBADREQ;
            if (*p == ':')
                p++;
            if (*p && !digits(&p, 2, &om))
                return LB_EBADREQ;
            if (oh > 14 || om > 59)
                return LB_EBADREQ;
            off = sign * (oh * 3600 + om * 60);
        } else {
            return LB_EBADREQ;
        }
        if (*p)
            return LB_EBADREQ;
        t = timegm(&tmv) - off;
    }
    if (t == (time_t)-1 && !(y == 1969 || y == 1970))
        return LB_EBADREQ;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

void lbc_format_time(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tmv;
    if (!out || outlen == 0)
        return;
    if (!localtime_r(&t, &tmv) || strftime(out, outlen, "%Y-%m-%d %H:%M", &tmv) == 0)
        snprintf(out, outlen, "%" PRId64, ms);
}

/* ---------------------------------------------------------------------- */
/* Display width                                                           */
/* ---------------------------------------------------------------------- */

/* Thai vowel and tone marks that sit above or below their consonant. */
static bool thai_combining(uint32_t cp)
{
    return cp == 0x0E31 || (cp >= 0x0E34 && cp <= 0x0E3A) || (cp >= 0x0E47 && cp <= 0x0E4E);
}

size_t lbc_display_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        uint32_t cp;
        int len;
        if (*p < 0x80) {
            cp = *p;
            len = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            len = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            len = 3;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07;
            len = 4;
        } else {
            w++;
            p++;
            continue;
        }
        int k = 1;
        for (; k < len; k++) {
            if ((p[k] & 0xC0) != 0x80)
                break;
            cp = cp << 6 | (p[k] & 0x3F);
        }
        if (k < len) {
            /* Truncated sequence: one column for the lead byte, go on at the next. */
            w++;
            p++;
            continue;
        }
        if (!thai_combining(cp))
            w++;
        p += len;
    }
    return w;
}
