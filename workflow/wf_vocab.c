/*
 * wf_vocab.c - the module's own vocabularies (roles, record kinds), name rules
 * and durations, so that every other file of the module checks them the same
 * way. Dimensions and levels come from proto/lb.h.
 */
#include <string.h>

#include "wf_internal.h"

/* Dimensions and levels are proto/lb.c's lb_* lists (wf_* are aliases of them). */
const char *const wf_roles[4] = {"field", "committee", "reporter", "admin"};
const char *const wf_record_names[WF_NREC] = {"visit", "assistance", "follow_up",
                                              "note",  "member",     "decision"};

int wf_name_index(const char *const *names, size_t n, const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

int wf_dimension_index(const char *dim)
{
    return wf_name_index(wf_dimensions, WF_NDIM, dim);
}

bool wf_valid_name(const char *s, const char *extra)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (extra && strchr(extra, ch))))
            return false;
    }
    return n >= 1 && n < WF_NAME_MAX;
}

int wf_parse_duration(const char *s, int64_t *ms)
{
    if (!s)
        return LB_ECONFIG;
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return LB_ECONFIG;
        v = v * 10 + d;
    }
    if (i == 0 || s[i] == '\0' || s[i + 1] != '\0')
        return LB_ECONFIG;
    int64_t unit;
    switch (s[i]) {
    case 's':
        unit = 1000;
        break;
    case 'm':
        unit = 60 * 1000;
        break;
    case 'h':
        unit = 3600 * 1000;
        break;
    case 'd':
        unit = 86400 * 1000;
        break;
    default:
        return LB_ECONFIG;
    }
    if (v <= 0 || v > INT64_MAX / unit)
        return LB_ECONFIG;
    if (ms)
        *ms = v * unit;
    return 0;
}

int wf_parse_after(const char *s, int64_t *ms, uint32_t *bd)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 2 && strcmp(s + n - 2, "bd") == 0) {
        uint32_t v = 0;
        size_t i = 0;
        for (; i < n - 2 && s[i] >= '0' && s[i] <= '9' && v <= WF_BD_MAX; i++)
            v = v * 10 + (uint32_t)(s[i] - '0');
        if (i != n - 2 || v < 1 || v > WF_BD_MAX)
            return LB_ECONFIG;
        if (ms) /* the shortest span: from a Sunday, N days plus two per weekend crossed */
            *ms = ((int64_t)v + 2 * (((int64_t)v - 1) / 5)) * WF_DAY_MS;
        if (bd)
            *bd = v;
        return 0;
    }
    if (bd)
        *bd = 0;
    return wf_parse_duration(s, ms);
}
