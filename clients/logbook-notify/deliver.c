/*
 * deliver.c - the delivery loop: the subscription to escalations, one
 * delivery at a time in seq order with retries and backoff, and the cursor
 * file that makes a restart resume where the last run stopped. Signals are
 * taken with sigtimedwait, so every wait here can be cut short by SIGTERM.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "notify.h"

/* ---------------------------------------------------------------------- */
/* Signals and waiting                                                     */
/* ---------------------------------------------------------------------- */

/*
 * Signals are blocked in every thread (before libzmq starts its own) and
 * taken with sigtimedwait, so no handler runs inside library code and a
 * SIGTERM can wake the retry pause or the wait for CMD at once.
 */
int notify_signals_setup(notifier_t *n)
{
    sigemptyset(&n->stop_set);
    sigaddset(&n->stop_set, SIGTERM);
    sigaddset(&n->stop_set, SIGINT);
    n->wait_set = n->stop_set;
    sigaddset(&n->wait_set, SIGCHLD);
    if (pthread_sigmask(SIG_BLOCK, &n->wait_set, NULL) != 0)
        return LB_EIO;
    /* A closed stdout must be an error from write, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static bool stop_requested(notifier_t *n)
{
    struct timespec zero = {0, 0};
    while (sigtimedwait(&n->stop_set, NULL, &zero) > 0)
        n->stop = true;
    return n->stop;
}

/* Waits ms, or less when SIGTERM/SIGINT arrives. Returns true when told to stop. */
static bool pause_ms(notifier_t *n, int64_t ms)
{
    int64_t end = lbc_mono_ms() + ms;
    while (!stop_requested(n)) {
        int64_t left = end - lbc_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        if (sigtimedwait(&n->stop_set, NULL, &ts) > 0)
            n->stop = true;
    }
    return n->stop;
}

static int64_t next_backoff(int64_t ms)
{
    return ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : ms * 2;
}

/* ---------------------------------------------------------------------- */
/* State                                                                   */
/* ---------------------------------------------------------------------- */

/*
 * The newest signed head the heartbeats carried (PROTOCOL.md 9.12) goes into
 * every save beside the cursor, so the state file is a witness of the
 * daemon's log too (logbook verify --witness FILE). With the audit key at
 * hand only heads that verify are kept.
 */
static void attach_head(notifier_t *n, lbc_cursor_t *c)
{
    lbc_head_t h;
    c->has_head = n->saved.has_head;
    c->head = n->saved.head;
    if (n->sub && lbc_sub_head(n->sub, &h) == 0 && (!c->has_head || h.seq > c->head.seq) &&
        (!n->has_audit_key || lbc_head_verify(&h, n->audit_pk))) {
        c->head = h;
        c->has_head = true;
    }
}

/* One save; 0 or the LB_E* of lbc_cursor_save (logged). */
static int save_once(notifier_t *n, const lbc_cursor_t *c_in)
{
    char err[512] = "";
    lbc_cursor_t withhead = *c_in, *c = &withhead;
    attach_head(n, c);
    if (n->o.state_path) {
        int rc = lbc_cursor_save(n->o.state_path, c, err, sizeof err);
        if (rc) {
            say(PRIO_ERR, "cannot save the cursor: %s", err);
            return rc;
        }
    }
    n->saved = *c;
    n->saved_at = lbc_mono_ms();
    return 0;
}

/*
 * Saves, retrying with backoff while the disk refuses: going on without the
 * record would break the promise the file makes. Returns 0, or 1 when told
 * to stop before it could save.
 */
static int save(notifier_t *n, const lbc_cursor_t *c)
{
    int64_t backoff = BACKOFF_FIRST_MS;
    while (save_once(n, c) != 0) {
        if (pause_ms(n, backoff))
            return 1;
        backoff = next_backoff(backoff);
    }
    return 0;
}

/*
 * Records progress over events that needed no delivery, at most every
 * PROGRESS_SAVE_MS unless forced, so a restart does not fetch them again.
 */
static int save_progress(notifier_t *n, bool force)
{
    uint64_t cur = lbc_sub_cursor(n->sub);
    if (cur <= n->saved.seq || (!force && lbc_mono_ms() - n->saved_at < PROGRESS_SAVE_MS))
        return 0;
    lbc_cursor_t c = {.seq = cur};
    /* A pending seq left by the last run that the stream has not reached yet stays pending. */
    if (n->saved.pending > cur) {
        c.pending = n->saved.pending;
        c.attempts = n->saved.attempts;
    }
    return force ? save(n, &c) : save_once(n, &c);
}

/* ---------------------------------------------------------------------- */
/* Delivery                                                                */
/* ---------------------------------------------------------------------- */

static bool wanted(const notifier_t *n, const lb_val_t *body)
{
    const char *kind = lb_map_str(body, "kind"), *type = lb_map_str(body, "type");
    if (!kind || strcmp(kind, "escalation") != 0 || !type || strcmp(type, "fired") != 0)
        return false;
    if (n->o.min_rank > 0 && notify_rank_of(lb_map_str(body, "level")) < n->o.min_rank)
        return false;
    /* The subscription filters by topic already; the body is what the command sees. */
    if (n->o.nareas == 0)
        return true;
    const char *area = str_or(body, "area", "");
    for (size_t i = 0; i < n->o.nareas; i++)
        if (strncmp(area, n->o.areas[i], strlen(n->o.areas[i])) == 0)
            return true;
    return false;
}

/*
 * Records seq handled. The subscriber's cursor is >= seq: it also covers
 * events after seq that were not ours. Returns as save.
 */
static int save_handled(notifier_t *n, uint64_t seq)
{
    lbc_cursor_t done = {.seq = lbc_sub_cursor(n->sub)};
    if (done.seq < seq)
        done.seq = seq;
    return save(n, &done);
}

/*
 * Delivers one escalation: marks it pending with the run counted, runs CMD
 * (or prints), records it handled. Retries failures with backoff.
 * Returns 0 when handled (delivered, or given up after --max-tries); 1 when
 * told to stop first (it stays pending in the state file); < 0 on a fatal
 * error.
 */
static int deliver(notifier_t *n, uint64_t seq, const lb_val_t *body)
{
    /* Runs started by an earlier process for this seq count: LOGBOOK_ATTEMPT goes on from them. */
    uint32_t attempts = n->saved.pending == seq ? n->saved.attempts : 0;
    int64_t backoff = BACKOFF_FIRST_MS;
    const char *case_id = str_or(body, "case_id", "?");
    for (;;) {
        if (attempts < UINT32_MAX)
            attempts++;
        /* Everything before seq is handled: events are taken one by one in seq order. */
        lbc_cursor_t c = {.seq = seq - 1, .pending = seq, .attempts = attempts};
        if (save(n, &c))
            return 1;
        char why[256] = "";
        int rc;
        if (n->o.exec_cmd) {
            rc = notify_run_command(n, seq, body, attempts, why, sizeof why);
            if (rc < 0) {
                say(PRIO_ERR, "seq %" PRIu64 ": %s", seq, why);
                return rc;
            }
        } else {
            rc = notify_print_line(seq, body);
            if (rc) {
                say(PRIO_ERR, "cannot write to standard output: %s", strerror(errno));
                return rc;
            }
        }
        if (rc == 0)
            return save_handled(n, seq);
        if (n->o.max_tries && attempts >= n->o.max_tries) {
            say(PRIO_CRIT,
                "GAVE UP on seq %" PRIu64 " (case %s, level %s, area %s) after %" PRIu32
                " failed runs, the last %s: this alert was NOT delivered",
                seq, case_id, str_or(body, "level", "?"), str_or(body, "area", "?"), attempts, why);
            return save_handled(n, seq);
        }
        say(PRIO_WARNING,
            "seq %" PRIu64 " (case %s): the command %s (run %" PRIu32 "); retrying in %" PRId64
            " s",
            seq, case_id, why, attempts, backoff / 1000);
        if (pause_ms(n, backoff))
            return 1;
        backoff = next_backoff(backoff);
    }
}
/* Opens the subscription; on a first start without a daemon it keeps trying. 0, 1 stop, < 0. */
static int open_sub(notifier_t *n, uint64_t after)
{
    const char *topics[AREAS_MAX];
    char bufs[AREAS_MAX][32];
    size_t nt = 0;
    static const char *const all[] = {"escalation."};
    for (size_t i = 0; i < n->o.nareas; i++) {
        snprintf(bufs[i], sizeof bufs[i], "escalation.%s", n->o.areas[i]);
        topics[nt++] = bufs[i];
    }
    lbc_sub_opts_t so = {
        .endpoint = n->o.conn.events_endpoint,
        .topics = nt ? topics : all,
        .ntopics = nt ? nt : 1,
        .after_seq = after,
    };
    int64_t backoff = BACKOFF_FIRST_MS;
    bool warned = false;
    for (;;) {
        char err[512] = "";
        int rc = lbc_sub_open(n->req, &so, &n->sub, err, sizeof err);
        if (rc == 0)
            return 0;
        if (rc != LB_EUNAVAIL) {
            say(PRIO_ERR, "cannot subscribe to %s: %s (%s)", n->o.conn.events_endpoint, err,
                lb_strerror(rc));
            return rc;
        }
        if (!warned)
            say(PRIO_WARNING, "cannot reach the daemon at %s: %s; retrying", n->o.conn.endpoint,
                err);
        warned = true;
        if (pause_ms(n, backoff))
            return 1;
        backoff = next_backoff(backoff);
    }
}

/*
 * A daemon whose last_seq is behind the cursor has a different store (restored
 * from an old backup, or new): its seqs below the cursor would be taken for
 * delivered ones and their alerts lost without a word. Returns true when that
 * is so; a daemon that cannot be asked now is not held against it.
 */
static bool daemon_behind(notifier_t *n)
{
    char err[256] = "";
    uint64_t last = 0;
    if (lbc_last_seq(n->req, &last, err, sizeof err) != 0 || last >= n->saved.seq)
        return false;
    say(PRIO_CRIT,
        "the daemon's last seq is %" PRIu64 " but %s says seq %" PRIu64
        " was handled: is this another store? Not starting; remove the state file (with "
        "--from-seq N if needed) once you know where to resume",
        last, n->o.state_path, n->saved.seq);
    return true;
}

/* start's return when a signal came first: not an exit status. */
enum { STOPPED = -1 };

/*
 * Locks the state file and loads the cursor. *first_start: no state file yet
 * (or none asked for). Returns EX_OK, or the exit status after saying why.
 */
static int load_state(notifier_t *n, bool *first_start)
{
    char err[512] = "";
    *first_start = true;
    if (!n->o.state_path)
        return EX_OK;
    int rc = lbc_cursor_lock(n->o.state_path, &n->lock_fd, err, sizeof err);
    if (rc) {
        say(PRIO_ERR, "%s%s", err,
            rc == LB_ECONFLICT ? ": is another logbook-notify using this state file?" : "");
        return EX_FAIL;
    }
    rc = lbc_cursor_load(n->o.state_path, &n->saved, err, sizeof err);
    if (rc == 0) {
        *first_start = false;
    } else if (rc == LB_ECORRUPT) {
        say(PRIO_ERR,
            "%s; not guessing where to resume: fix the file, or remove it to start from "
            "the daemon's last seq (or --from-seq)",
            err);
        return EX_USAGE;
    } else if (rc != LB_ENOTFOUND) {
        say(PRIO_ERR, "%s", err);
        return EX_FAIL;
    }
    if (!*first_start && n->o.from_seq_set)
        say(PRIO_INFO, "state file %s exists: --from-seq ignored", n->o.state_path);
    return EX_OK;
}

/*
 * Connects and subscribes after the saved cursor, or on a first start after
 * --from-seq or the daemon's last seq, which is saved at once. Returns EX_OK;
 * STOPPED when told to stop first; else the exit status after saying why.
 */
static int start(notifier_t *n, bool first_start)
{
    char err[512] = "";
    int rc = lbc_conn_open(&n->o.conn, &n->req, err, sizeof err);
    if (rc) {
        say(PRIO_ERR, "cannot connect to %s: %s", n->o.conn.endpoint, err);
        return rc == LB_EBADREQ || rc == LB_ECONFIG ? EX_USAGE : EX_FAIL;
    }
    if (!first_start && daemon_behind(n))
        return EX_USAGE;
    n->has_audit_key =
        lbc_audit_key_beside(n->o.conn.server_cert, n->audit_pk, err, sizeof err) == 0;
    uint64_t after = first_start ? (n->o.from_seq_set ? n->o.from_seq : LBC_SEQ_NOW) : n->saved.seq;
    rc = open_sub(n, after);
    if (rc)
        return rc == 1 ? STOPPED : EX_FAIL;
    /* Record the starting point at once: alerts fired from now on must survive a crash. */
    if (first_start) {
        /* With --from-seq the catch-up queue is not delivered yet: the cursor stops before it. */
        lbc_cursor_t c = {.seq = lbc_sub_cursor(n->sub)};
        if (save(n, &c))
            return STOPPED;
    }
    char where[AREAS_MAX * 10 + 16] = "";
    for (size_t i = 0; i < n->o.nareas; i++) {
        size_t l = strlen(where);
        snprintf(where + l, sizeof where - l, "%s%s", i ? "," : " in ", n->o.areas[i]);
    }
    say(PRIO_INFO, "delivering escalations at level %s or higher%s after seq %" PRIu64 "%s",
        lb_esc_levels[n->o.min_rank], where, n->saved.seq,
        n->saved.pending ? " (one delivery pending from the last run)" : "");
    return EX_OK;
}

/*
 * Takes events until told to stop, delivering the wanted ones. Returns the
 * exit status; *inflight when a delivery was left pending mid-retry.
 */
static int event_loop(notifier_t *n, bool *inflight)
{
    char err[512] = "";
    bool unreachable = false;
    int64_t backoff = BACKOFF_FIRST_MS;
    int exit_code = EX_OK;
    *inflight = false;
    while (!stop_requested(n)) {
        uint64_t seq = 0;
        lb_val_t *body = NULL;
        int rc = lbc_sub_next(n->sub, POLL_MS, &seq, &body, NULL, err, sizeof err);
        if (rc == LB_ENOTFOUND) {
            save_progress(n, false);
            continue;
        }
        if (rc == LB_EUNAVAIL) {
            if (!unreachable)
                say(PRIO_WARNING, "cannot reach the daemon: %s; retrying", err);
            unreachable = true;
            continue; /* lbc_call waited its timeout already */
        }
        if (rc == LB_ECORRUPT) {
            say(PRIO_ERR, "event stream: %s", err);
            pause_ms(n, backoff);
            backoff = next_backoff(backoff);
            continue;
        }
        if (rc) {
            say(PRIO_ERR, "event stream: %s (%s)", err, lb_strerror(rc));
            return EX_FAIL;
        }
        if (unreachable)
            say(PRIO_INFO, "the daemon answers again");
        unreachable = false;
        backoff = BACKOFF_FIRST_MS;
        if (seq <= n->saved.seq) {
            /* The file says it was handled: never again, whatever the stream says. */
            say(PRIO_WARNING, "seq %" PRIu64 " came again after seq %" PRIu64 "; ignored", seq,
                n->saved.seq);
        } else if (wanted(n, body)) {
            rc = deliver(n, seq, body);
            if (rc == 1)
                *inflight = true;
            else if (rc < 0)
                exit_code = EX_FAIL;
        } else {
            save_progress(n, false);
        }
        lb_val_free(&body);
        if (*inflight || exit_code != EX_OK)
            break;
    }
    return exit_code;
}

int notify_run(notifier_t *n)
{
    bool first_start, inflight;
    int rc = load_state(n, &first_start);
    if (rc == EX_OK)
        rc = start(n, first_start);
    if (rc == STOPPED)
        return EX_OK;
    if (rc)
        return rc;
    int exit_code = event_loop(n, &inflight);
    /* A seq abandoned mid-retry stays pending in the file: it is the first thing run next time. */
    if (!inflight && exit_code == EX_OK)
        save_progress(n, true);
    say(PRIO_INFO, "stopped; cursor at seq %" PRIu64 "%s", n->saved.seq,
        n->saved.pending ? " (one delivery pending)" : "");
    return exit_code;
}
