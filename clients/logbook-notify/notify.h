/*
 * notify.h - what logbook-notify's files share: its options, the notifier's
 * state, logging, and the entry points of options.c (the command line),
 * command.c (running CMD or printing a line) and deliver.c (the delivery
 * loop and its cursor file). Private to this program.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../proto/lb.h"
#include "../lib/client.h"
#include "../lib/conn.h"
#include "../lib/cursor.h"

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

#define AREAS_MAX 64
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* How long one lbc_sub_next waits: also the worst delay before a SIGTERM is seen when idle. */
#define POLL_MS 250
/* Progress over events that need no delivery is saved at most this often. */
#define PROGRESS_SAVE_MS 5000
#define DEFAULT_CMD_TIMEOUT_S 300
/* Short request timeouts keep a SIGTERM from waiting behind a daemon that is down. */
#define REQ_TIMEOUT_MS 3000
#define REQ_RETRIES 1

/* syslog priorities, used as journald's "<N>" line prefixes under systemd */
enum { PRIO_CRIT = 2, PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_INFO = 6 };

typedef struct {
    lbc_conn_opts_t conn; /* endpoint: requests (-r); events_endpoint (-e); -k, -s, --no-curve */
    const char *areas[AREAS_MAX];
    size_t nareas;
    int min_rank; /* index into lb_esc_levels, the ladder: this rank and above */
    const char *exec_cmd;
    const char *state_path;
    bool from_seq_set;
    uint64_t from_seq;
    uint32_t max_tries; /* 0 = unlimited */
    int cmd_timeout_s;  /* 0 = none */
} opts_t;

typedef struct {
    opts_t o;
    lbc_t *req;
    lbc_sub_t *sub;
    lbc_cursor_t saved; /* what the state file says now */
    int64_t saved_at;   /* monotonic ms of the last save */
    int lock_fd;
    sigset_t stop_set; /* SIGTERM, SIGINT */
    sigset_t wait_set; /* the same and SIGCHLD */
    bool stop;
    bool has_audit_key; /* audit.pub found beside the server certificate */
    uint8_t audit_pk[32];
} notifier_t;

/* ---------------------------------------------------------------------- */
/* main.c                                                                  */
/* ---------------------------------------------------------------------- */

/* true when stderr goes to journald: say() then prefixes lines with "<N>". */
extern bool log_journal;

void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* m's string member key, or dflt when absent or not a string. */
static inline const char *str_or(const lb_val_t *m, const char *key, const char *dflt)
{
    const char *s = lb_map_str(m, key);
    return s ? s : dflt;
}

/* ---------------------------------------------------------------------- */
/* options.c                                                               */
/* ---------------------------------------------------------------------- */

/* The --help text. */
void notify_usage(FILE *f);

/* The rank of level on the ladder, or -1. */
int notify_rank_of(const char *level);

/* Returns 0, or EX_USAGE after saying why; *help set for --help. */
int notify_parse_opts(int argc, char **argv, opts_t *o, bool *help);

/* ---------------------------------------------------------------------- */
/* command.c                                                               */
/* ---------------------------------------------------------------------- */

/* Prints one line for the event. 0, or LB_EIO when stdout fails. */
int notify_print_line(uint64_t seq, const lb_val_t *body);

/*
 * Runs CMD once and waits for it (a SIGTERM meanwhile is remembered, not
 * acted on: the delivery in hand is finished first). Returns 0 when it exited
 * 0, 1 when it failed (why says how), < 0 when it could not be prepared.
 */
int notify_run_command(notifier_t *n, uint64_t seq, const lb_val_t *body, uint32_t attempt,
                       char *why, size_t whylen);

/* ---------------------------------------------------------------------- */
/* deliver.c                                                               */
/* ---------------------------------------------------------------------- */

/* Blocks SIGTERM, SIGINT and SIGCHLD (taken with sigtimedwait), ignores SIGPIPE. 0 or LB_EIO. */
int notify_signals_setup(notifier_t *n);

/* Locks and loads the cursor, connects, subscribes and delivers until stopped. An exit status. */
int notify_run(notifier_t *n);

#endif
