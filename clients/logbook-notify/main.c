/*
 * main.c - logbook-notify: tells a committee about cases that sat too long:
 * for every fired escalation in its areas (at or above a ladder level) it runs
 * a command, or prints a line, once per event seq, resuming after any downtime
 * from a crash-safe cursor file. Exit codes: 0 stopped by SIGTERM/SIGINT,
 * 1 a runtime failure (systemd restarts it), 2 a usage or state-file error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

/* ---------------------------------------------------------------------- */
/* Logging                                                                 */
/* ---------------------------------------------------------------------- */

bool log_journal;

void say(int prio, const char *fmt, ...)
{
    static const char *const words[] = {"", "", "CRITICAL", "error", "warning", "", "info"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* journald reads the priority from the prefix; a terminal gets a word instead. */
    if (log_journal)
        fprintf(stderr, "<%d>%s\n", prio, line);
    else
        fprintf(stderr, "logbook-notify: %s: %s\n", words[prio], line);
}

/* ---------------------------------------------------------------------- */
/* Main                                                                    */
/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    notifier_t n;
    bool help;
    memset(&n, 0, sizeof n);
    n.lock_fd = -1;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
    int rc = notify_parse_opts(argc, argv, &n.o, &help);
    if (rc) {
        fprintf(stderr, "(see: logbook-notify --help)\n");
        return rc;
    }
    if (help) {
        notify_usage(stdout);
        return EX_OK;
    }
    if (notify_signals_setup(&n) != 0) {
        say(PRIO_ERR, "cannot block signals");
        return EX_FAIL;
    }
    rc = notify_run(&n);
    lbc_sub_destroy(&n.sub);
    lbc_destroy(&n.req);
    lbc_cursor_unlock(&n.lock_fd);
    return rc;
}
