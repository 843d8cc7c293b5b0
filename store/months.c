/*
 * months.c - the month counters (store.h, store_months): what happened to
 * cases in each month, per scope, counted by cases.c's store_case_put in
 * the same write transaction through the counter cache, and read back one
 * scope and a range of months at a time, never by scanning events.
 */
#include "store_int.h"

#include <string.h>

#define STORE_MONTH_TZ_S (7 * 3600) /* Asia/Bangkok: UTC+7 all year */

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void store_civil(int64_t days, int64_t *y, int *m)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void store_month_of(int64_t at, char out[8])
{
    int64_t s = at / 1000 - (at % 1000 < 0) + STORE_MONTH_TZ_S;
    int64_t days = s / 86400 - (s % 86400 < 0), y;
    int m;
    store_civil(days, &y, &m);
    if (y < 0)
        y = 0, m = 1;
    if (y > 9999)
        y = 9999, m = 12;
    /* "%04d-%02d" by hand: once per case written */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '\0';
}

static bool store_month_ok(const char *s)
{
    if (!s || strlen(s) != 7 || s[4] != '-')
        return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return false;
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    return m >= 1 && m <= 12;
}

/* scope | 0 | "m:" month ":" name; returns the length. */
static size_t store_month_key(uint8_t *k, const char *scope, size_t sl, const char *month,
                              const char *name)
{
    /* month is 7 bytes (store_month_ok or store_month_of), names are short: within
     * STORE_MONTH_NAME_MAX, as the snprintf this replaces cut them. */
    size_t ml = strnlen(month, 7), nl = name ? strlen(name) : 0;
    if (3 + ml + nl > STORE_MONTH_NAME_MAX)
        nl = STORE_MONTH_NAME_MAX - 3 - ml;
    uint8_t *p = k + sl + 1;
    memcpy(k, scope, sl);
    k[sl] = 0;
    memcpy(p, "m:", 2);
    memcpy(p + 2, month, ml);
    p += 2 + ml;
    if (name) {
        *p++ = ':';
        memcpy(p, name, nl);
        p += nl;
    }
    return (size_t)(p - k);
}

static int store_month_add(store_txn_t *t, const char *area, const char *month, const char *name)
{
    size_t al = strlen(area);
    for (size_t l = 0; l <= al && l <= STORE_MONTH_AREA_MAX; l += 2) {
        uint8_t k[STORE_MONTH_AREA_MAX + 1 + STORE_MONTH_NAME_MAX + 1];
        int ret = store_cnt_add_delta(t, k, store_month_key(k, area, l, month, name), 1);
        if (ret)
            return ret;
    }
    return 0;
}

int store_months_count(store_txn_t *t, const store_case_meta_t *old, const store_case_meta_t *meta)
{
    char month[8];
    if (meta->at == 0)
        return 0;
    store_month_of(meta->at, month);
    bool esc = meta->esc_level[0] && (!old || strcmp(old->esc_level, meta->esc_level) != 0 ||
                                      strcmp(old->state, meta->state) != 0);
    const struct {
        const char *name;
        bool happened;
    } ev[] = {
        {"opened", !old},
        {"visited", meta->visited && !(old && old->visited)},
        {"assisted", meta->assisted && !(old && old->assisted)},
        {"resolved",
         strcmp(meta->outcome, "resolved") == 0 && !(old && strcmp(old->outcome, "resolved") == 0)},
        {"closed",
         strcmp(meta->outcome, "closed") == 0 && !(old && strcmp(old->outcome, "closed") == 0)},
        {"escalated", esc},
    };
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
        if (!ev[i].happened)
            continue;
        int ret = store_month_add(t, meta->area, month, ev[i].name);
        if (ret)
            return ret;
    }
    return 0;
}

bool store_is_month_name(const void *name, size_t n)
{
    return n >= 2 && memcmp(name, "m:", 2) == 0;
}

int store_months(store_txn_t *txn, const char *scope, const char *from, const char *to,
                 store_month_fn fn, void *ctx)
{
    uint8_t seek[STORE_MONTH_AREA_MAX + 1 + STORE_MONTH_NAME_MAX + 1];
    MDB_cursor *cur = NULL;

    if (!txn || !fn)
        return LB_EINTERNAL;
    if (!scope)
        scope = "";
    size_t sl = strlen(scope);
    if (sl > STORE_MONTH_AREA_MAX || !store_month_ok(from) || !store_month_ok(to))
        return LB_EBADREQ;
    int ret = store_db_cursor(txn, STORE_DB_COUNTS, &cur);
    if (ret)
        return ret;
    size_t plen = sl + 3; /* scope | 0 | "m:" */
    MDB_val k = {store_month_key(seek, scope, sl, from, NULL), seek}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *p = k.mv_data;
        if (k.mv_size < plen || memcmp(p, seek, plen) != 0)
            break;
        /* m:YYYY-MM:name */
        size_t nl = k.mv_size - sl - 1;
        if (nl < 11 || nl > STORE_MONTH_NAME_MAX || p[sl + 10] != ':' || v.mv_size != 8) {
            ret = LB_ECORRUPT;
            break;
        }
        char month[8], name[STORE_MONTH_NAME_MAX];
        memcpy(month, p + sl + 3, 7);
        month[7] = '\0';
        if (strcmp(month, to) > 0)
            break;
        memcpy(name, p + sl + 11, nl - 10);
        name[nl - 10] = '\0';
        int r = fn(scope, month, name, store_get_be64(v.mv_data), ctx);
        if (r) {
            ret = r < 0 ? r : 0;
            break;
        }
    }
    if (ret == 0 && rc && rc != MDB_NOTFOUND)
        ret = store_lmdb_err(txn->s, rc);
    mdb_cursor_close(cur);
    return ret;
}
