/*
 * fuzz_holidays.c - libFuzzer target for the holiday file loader
 * (workflow/wf_holidays.c): the input is one holidays.yaml's text, NULs
 * included. When it loads, the working-day arithmetic must keep its promises
 * over the calendar (the result is a working day at the same Bangkok time of
 * day, strictly later, and n + 1 days lands after n); when it is refused, the
 * message names the file and a line. Also built with gcc into replay_holidays
 * for `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-01-01T00:00:00Z, and a step that moves through every hour of the day. */
#define T0 INT64_C(1767225600000)
#define STEP (INT64_C(86400000) * 9 + INT64_C(3600000) * 5)

static void check_add(const wf_calendar_t *cal, int64_t t)
{
    int64_t prev = t;
    for (uint32_t n = 1; n <= 25; n += 3) {
        int64_t due = wf_calendar_add_bd(cal, t, n);
        if (due <= prev || (due - t) % WF_DAY_MS != 0)
            abort();
        if (!wf_calendar_working_day(cal, wf_day_of(due)))
            abort();
        /* n working days never take fewer calendar days than n plus the weekends crossed */
        if ((due - t) / WF_DAY_MS < (int64_t)n)
            abort();
        prev = due;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    wf_calendar_t *cal = NULL;
    int rc = wf_calendar_load_text("h.yaml", (const char *)data, size, &cal, err, sizeof(err));
    if (rc != 0) {
        if (cal || (rc != LB_ECONFIG && rc != LB_ENOMEM) || strncmp(err, "h.yaml:", 7) != 0)
            abort();
        return 0;
    }
    if (!cal || wf_calendar_count(cal) > WF_HOLIDAYS_MAX)
        abort();
    for (int i = 0; i < 60; i++)
        check_add(cal, T0 + i * STEP);
    wf_calendar_destroy(&cal);
    if (cal)
        abort();
    return 0;
}
