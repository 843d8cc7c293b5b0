/*
 * wf_holidays.c - the public holiday calendar (config/holidays.yaml) and the
 * working-day arithmetic of `after: Nbd` escalation steps (PROTOCOL.md 9.20).
 * Dates are Bangkok calendar days, computed in fixed UTC+7: Thailand keeps no
 * daylight saving time, so no time zone database is needed or consulted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_internal.h"

#define WF_YEARS_MAX 100
#define WF_YEAR_MIN 1970
#define WF_YEAR_MAX 9999
/* 9999-12-31T23:59:59.999Z: past it a Bangkok date would leave the years above. */
#define WF_TIME_MAX INT64_C(253402300799999)

struct wf_calendar {
    int64_t *days; /* Bangkok day numbers of the holidays, ascending */
    size_t n;
    int *years; /* the years the file covers, ascending */
    size_t nyears;
};

void wf_calendar_destroy(wf_calendar_t **pcal)
{
    if (!pcal || !*pcal)
        return;
    free((*pcal)->days);
    free((*pcal)->years);
    free(*pcal);
    *pcal = NULL;
}

/* ---------------------------------------------------------------------- */
/* Dates                                                                   */
/* ---------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Howard Hinnant's days_from_civil: the proleptic Gregorian calendar, exact for any year. */
int64_t wf_day_from_ymd(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void ymd_of_day(int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = (int)m;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
}

int wf_year_of_day(int64_t day)
{
    int y, m, d;
    ymd_of_day(day, &y, &m, &d);
    return y;
}

int64_t wf_day_of(int64_t t)
{
    if (t > WF_TIME_MAX)
        t = WF_TIME_MAX;
    else if (t < -WF_TIME_MAX)
        t = -WF_TIME_MAX;
    return floor_div(t + WF_TZ_OFFSET_MS, WF_DAY_MS);
}

/* 0 = Sunday ... 6 = Saturday; day 0 (1970-01-01) was a Thursday. */
static int weekday(int64_t day)
{
    return (int)(((day % 7) + 7 + 4) % 7);
}

static bool is_holiday(const wf_calendar_t *cal, int64_t day)
{
    size_t lo = 0, hi = cal ? cal->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->days[mid] == day)
            return true;
        if (cal->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool wf_calendar_working_day(const wf_calendar_t *cal, int64_t day)
{
    int wd = weekday(day);
    return wd != 0 && wd != 6 && !is_holiday(cal, day);
}

int64_t wf_calendar_add_bd(const wf_calendar_t *cal, int64_t t, uint32_t n)
{
    if (n == 0)
        return t;
    if (t < 0 || t > WF_TIME_MAX)
        return INT64_MAX;
    int64_t day = wf_day_of(t);
    int64_t time_of_day = t + WF_TZ_OFFSET_MS - day * WF_DAY_MS;
    /* At most WF_HOLIDAYS_MAX listed days and two weekend days in seven: this ends. */
    for (uint32_t left = n; left > 0;)
        if (wf_calendar_working_day(cal, ++day))
            left--;
    return day * WF_DAY_MS + time_of_day - WF_TZ_OFFSET_MS;
}

size_t wf_calendar_count(const wf_calendar_t *cal)
{
    return cal ? cal->n : 0;
}

bool wf_calendar_covers(const wf_calendar_t *cal, int year)
{
    for (size_t i = 0; cal && i < cal->nyears; i++)
        if (cal->years[i] == year)
            return true;
    return false;
}

/* ---------------------------------------------------------------------- */
/* The file                                                                */
/* ---------------------------------------------------------------------- */

static const char *const top_keys[] = {"source", "years", "holidays", NULL};
static const char *const item_keys[] = {"date", "th", "en", "confirmed", "note", NULL};
static const char *const item_required[] = {"date", "th", "en", NULL};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* A non-empty text value under key (present: the key lists checked it). */
static int text_value(const wf_ectx_t *e, const wf_ynode_t *map, const char *key)
{
    const wf_ynode_t *n = wf_ymap_get(map, key);
    const char *s;
    if (!n)
        return 0;
    int rc = wf_ystr(e, n, key, &s);
    if (rc == 0 && !*s)
        rc = wf_ynerr(e, n, "%s must not be empty", key);
    return rc;
}

static int parse_years(const wf_ectx_t *e, const wf_ynode_t *list, wf_calendar_t *cal)
{
    if (list->kind != WF_Y_SEQ || list->nkids == 0)
        return wf_ynerr(e, list, "years must be a list of one or more years");
    if (list->nkids > WF_YEARS_MAX)
        return wf_ynerr(e, list, "more than %d years", WF_YEARS_MAX);
    cal->years = calloc(list->nkids, sizeof(*cal->years));
    if (!cal->years)
        return LB_ENOMEM;
    for (size_t i = 0; i < list->nkids; i++) {
        int64_t y;
        int rc = wf_yint(e, list->kids[i], "a year", &y);
        if (rc)
            return rc;
        if (y < WF_YEAR_MIN || y > WF_YEAR_MAX)
            return wf_ynerr(e, list->kids[i], "year %lld out of range (want %d to %d)",
                            (long long)y, WF_YEAR_MIN, WF_YEAR_MAX);
        if (wf_calendar_covers(cal, (int)y))
            return wf_ynerr(e, list->kids[i], "year %lld listed twice", (long long)y);
        cal->years[cal->nyears++] = (int)y;
    }
    qsort(cal->years, cal->nyears, sizeof(*cal->years), cmp_int);
    return 0;
}

/* "YYYY-MM-DD" of a real date into its Bangkok day number. */
static bool parse_date(const char *s, int *year, int64_t *day)
{
    int y = 0, m = 0, d = 0;
    for (int i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    }
    if (s[10] != '\0')
        return false;
    for (int i = 0; i < 4; i++)
        y = y * 10 + (s[i] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    *day = wf_day_from_ymd(y, m, d);
    int yy, mm, dd;
    ymd_of_day(*day, &yy, &mm, &dd);
    *year = y;
    return yy == y && mm == m && dd == d; /* 2026-02-30 is not a date */
}

static int parse_holiday(const wf_ectx_t *e, const wf_ynode_t *item, wf_calendar_t *cal)
{
    int rc = wf_ymap_check(e, item, "a holiday", item_keys, item_required);
    if (rc)
        return rc;
    const wf_ynode_t *dn = wf_ymap_get(item, "date"), *cn = wf_ymap_get(item, "confirmed");
    const char *date;
    if ((rc = wf_ystr(e, dn, "date", &date)))
        return rc;
    int year;
    int64_t day;
    if (!parse_date(date, &year, &day))
        return wf_ynerr(e, dn, "bad date '%s' (want YYYY-MM-DD, a day of the calendar)", date);
    if (!wf_calendar_covers(cal, year))
        return wf_ynerr(e, dn, "%s is in %d, which is not among years", date, year);
    for (size_t i = 0; i < cal->n; i++)
        if (cal->days[i] == day)
            return wf_ynerr(e, dn, "%s listed twice", date);
    bool confirmed;
    if (cn && (rc = wf_ybool(e, cn, "confirmed", &confirmed)))
        return rc;
    if ((rc = text_value(e, item, "th")) || (rc = text_value(e, item, "en")) ||
        (rc = text_value(e, item, "note")))
        return rc;
    cal->days[cal->n++] = day;
    return 0;
}

static int cal_build(const wf_ectx_t *e, const wf_ynode_t *root, wf_calendar_t *cal)
{
    int rc = wf_ymap_check(e, root, "the holiday file", top_keys, top_keys);
    if (rc || (rc = text_value(e, root, "source")) ||
        (rc = parse_years(e, wf_ymap_get(root, "years"), cal)))
        return rc;
    const wf_ynode_t *list = wf_ymap_get(root, "holidays");
    if (wf_yis_null(list))
        return 0;
    if (list->kind != WF_Y_SEQ)
        return wf_ynerr(e, list, "holidays must be a list");
    if (list->nkids > WF_HOLIDAYS_MAX)
        return wf_ynerr(e, list, "more than %d holidays", WF_HOLIDAYS_MAX);
    if (list->nkids && !(cal->days = calloc(list->nkids, sizeof(*cal->days))))
        return LB_ENOMEM;
    for (size_t i = 0; i < list->nkids; i++)
        if ((rc = parse_holiday(e, list->kids[i], cal)))
            return rc;
    if (cal->n) /* qsort's pointer must not be NULL, even for no elements */
        qsort(cal->days, cal->n, sizeof(*cal->days), cmp_i64);
    return 0;
}

static int cal_parse(const wf_ectx_t *e, const char *text, size_t len, wf_calendar_t **out)
{
    wf_ynode_t *root = NULL;
    wf_calendar_t *cal = NULL;
    int rc = wf_yaml_parse(e, text, len, &root);
    if (rc)
        goto cleanup;
    if (!(cal = calloc(1, sizeof(*cal)))) {
        rc = LB_ENOMEM;
        goto cleanup;
    }
    if ((rc = cal_build(e, root, cal)))
        goto cleanup;
    *out = cal;
    cal = NULL;

cleanup:
    if (rc == LB_ENOMEM && e->err && e->errlen)
        snprintf(e->err, e->errlen, "%s: out of memory", e->file);
    wf_calendar_destroy(&cal);
    wf_ynode_free(&root);
    return rc;
}

int wf_calendar_load_text(const char *name, const char *text, size_t len, wf_calendar_t **out,
                          char *err, size_t errlen)
{
    wf_ectx_t e = {name ? name : "(text)", err, errlen};
    if (!out)
        return LB_EINTERNAL;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    return cal_parse(&e, text ? text : "", text ? len : 0, out);
}

int wf_calendar_load(const char *path, wf_calendar_t **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (!out || !path)
        return LB_EINTERNAL;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    int rc = wf_read_file(path, &text, &len, err, errlen);
    if (rc == 0) {
        wf_ectx_t e = {path, err, errlen};
        rc = cal_parse(&e, text, len, out);
    }
    free(text);
    return rc;
}
