/*
 * calendar.c - the holiday file of the config key `holidays` (PROTOCOL.md
 * 9.20): loaded at start and by every reload, handed to the engine for
 * business-day escalation steps. A bad file refuses the start or the reload.
 */
#include <stdio.h>

#include "internal.h"

int lbd_calendar_load(const lbd_config_t *cfg, int64_t now, wf_calendar_t **cal, char *err,
                      size_t errlen)
{
    *cal = NULL;
    if (!cfg->holidays || !cfg->holidays[0]) {
        lbd_log(LBD_LOG_INFO, "no holidays file: working days are Monday to Friday");
        return 0;
    }
    int rc = wf_calendar_load(cfg->holidays, cal, err, errlen);
    if (rc)
        return rc;
    /* A file that stops at last year silently turns working-day clocks into Mon-Fri ones. */
    /* Today's year, and the next one once it is less than 60 days away (timers set now
     * fall due then). */
    int64_t today = wf_day_of(now);
    int year = wf_year_of_day(today), last = wf_year_of_day(today + 60);
    for (int y = year; y <= last; y++)
        if (!wf_calendar_covers(*cal, y))
            lbd_log(LBD_LOG_WARN,
                    "%s does not cover %d: working days in %d count no public holidays (update "
                    "the file: logbookd(8), HOLIDAYS)",
                    cfg->holidays, y, y);
    lbd_log(LBD_LOG_INFO, "%s: %zu public holidays", cfg->holidays, wf_calendar_count(*cal));
    return 0;
}
