/*
 * test_notify.c - logbook-notify against a real manual-clock logbookd: every
 * fired escalation of its areas is delivered once, in seq order, across
 * SIGKILLs and daemon-side activity during its downtime; failing commands
 * are retried; --level, --max-tries, print mode; and the cursor file itself.
 * Subprocesses are stopped by pid; conditions are polled with a bound.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../clients/lib/cursor.h"
#include "../../proto/proto.h"
#include "../lib/testd.h"
#include "../lib/cu.h"

extern char **environ;

#define DAY (24 * 3600)
#define WAIT_MS 30000 /* bound on every poll: the slowest case is a 1 s + 2 s retry */
#define MAX_SEQS 256

static testd_t D;
static char script[400];
static unsigned long next_house = 20000000000UL;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static void nap_ms(long ms)
{
    /* poll interval only: every caller re-checks its condition */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *bin_dir(void)
{
    const char *b = getenv("LOGBOOK_BIN");
    return b && *b ? b : "bin";
}

static int write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    return chmod(path, mode);
}

/* The whole file as a NUL-terminated string (caller frees), or NULL when absent. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    lb_buf_t b;
    lb_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        lb_buf_append(&b, chunk, n);
    fclose(f);
    lb_buf_append(&b, "", 1);
    return (char *)b.p;
}

static size_t count_lines(const char *path)
{
    char *s = slurp(path);
    size_t n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* A per-notifier scratch folder under the daemon's. */
typedef struct {
    char dir[400];
    char state[460];
    char out[460];  /* the command's deliveries: "SEQ CASE LEVEL AREA STATE HOUSE JSON" */
    char runs[460]; /* every run of the command: "SEQ ATTEMPT" */
    char stdout_path[460];
    char log[460];
    pid_t pid;
} notifier_t;

static void notifier_init(notifier_t *n, const char *name)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "%s/%s", D.dir, name);
    mkdir(n->dir, 0755);
    snprintf(n->state, sizeof n->state, "%s/cursor", n->dir);
    snprintf(n->out, sizeof n->out, "%s/out", n->dir);
    snprintf(n->runs, sizeof n->runs, "%s/runs", n->dir);
    snprintf(n->stdout_path, sizeof n->stdout_path, "%s/stdout", n->dir);
    snprintf(n->log, sizeof n->log, "%s/notify.log", n->dir);
}

/*
 * Starts bin/logbook-notify with the daemon's endpoints and admin keys, the
 * given options and NOTIFY_DIR (plus extra "NAME=value" entries) in its
 * environment; stdout to n->stdout_path, stderr to n->log.
 */
static pid_t notifier_start(notifier_t *n, const char *const *opts, const char *const *extra_env)
{
    char exe[400], cert[400], server[400], envdir[480];
    snprintf(exe, sizeof exe, "%s/logbook-notify", bin_dir());
    snprintf(cert, sizeof cert, "%s/keys/admin.key_secret", D.data);
    snprintf(server, sizeof server, "%s/keys/server.key", D.data);
    snprintf(envdir, sizeof envdir, "NOTIFY_DIR=%s", n->dir);
    const char *argv[64] = {
        "logbook-notify", "-e", D.ev_ep, "-r", D.req_ep, "-k", cert, "-s", server};
    size_t argc = 9;
    for (size_t i = 0; opts && opts[i] && argc < 63; i++)
        argv[argc++] = opts[i];
    argv[argc] = NULL;
    /* Built before fork: the test process has ZeroMQ threads. */
    const char *envp[256];
    size_t ne = 0;
    envp[ne++] = envdir;
    for (size_t i = 0; extra_env && extra_env[i] && ne < 200; i++)
        envp[ne++] = extra_env[i];
    for (char **e = environ; *e && ne < 255; e++)
        if (strncmp(*e, "NOTIFY_", 7) != 0)
            envp[ne++] = *e;
    envp[ne] = NULL;
    int out = open(n->stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        execve(exe, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(out);
    close(err);
    n->pid = pid > 0 ? pid : 0;
    return n->pid;
}

static void notifier_kill(notifier_t *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, NULL, 0);
    }
    n->pid = 0;
}

/* SIGTERM and wait (bounded); returns the exit status, or -1. */
static int notifier_stop(notifier_t *n)
{
    int status = -1;
    if (n->pid <= 0)
        return -1;
    kill(n->pid, SIGTERM);
    int64_t end = mono_ms() + WAIT_MS;
    for (;;) {
        pid_t w = waitpid(n->pid, &status, WNOHANG);
        if (w == n->pid)
            break;
        if (mono_ms() > end) {
            notifier_kill(n);
            return -1;
        }
        nap_ms(10);
    }
    n->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Waits (bounded) for the process to exit on its own; returns its exit status or -1. */
static int notifier_wait_exit(notifier_t *n)
{
    int status = -1;
    int64_t end = mono_ms() + WAIT_MS;
    while (waitpid(n->pid, &status, WNOHANG) != n->pid) {
        if (mono_ms() > end) {
            notifier_kill(n);
            return -1;
        }
        nap_ms(10);
    }
    n->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Polls until path has at least want lines; false on timeout or when the notifier died. */
static bool wait_lines(notifier_t *n, const char *path, size_t want)
{
    int64_t end = mono_ms() + WAIT_MS;
    for (;;) {
        size_t have = count_lines(path);
        if (have >= want)
            return true;
        if (n->pid > 0 && waitpid(n->pid, NULL, WNOHANG) == n->pid) {
            fprintf(stderr, "notifier died; log %s\n", n->log);
            n->pid = 0;
            return false;
        }
        if (mono_ms() > end) {
            fprintf(stderr, "waited for %zu lines in %s, have %zu; log %s\n", want, path, have,
                    n->log);
            return false;
        }
        nap_ms(20);
    }
}

/* Polls until the notifier has written its first cursor: it is subscribed from then on. */
static bool wait_started(notifier_t *n)
{
    int64_t end = mono_ms() + WAIT_MS;
    while (access(n->state, F_OK) != 0) {
        if (mono_ms() > end || (n->pid > 0 && waitpid(n->pid, NULL, WNOHANG) == n->pid)) {
            fprintf(stderr, "notifier did not start; log %s\n", n->log);
            return false;
        }
        nap_ms(20);
    }
    return true;
}

static void open_case(const char *area, char out[LB_CASE_ID_MAX])
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(next_house++, area));
    lb_val_t *r = testd_call(&D, "case.open", a);
    out[0] = '\0';
    if (r && lbc_reply_ok(r))
        snprintf(out, LB_CASE_ID_MAX, "%s", lb_map_str(lbc_reply_result(r), "case_id"));
    lb_val_free(&a);
    lb_val_free(&r);
}

static void advance_days(int days)
{
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", (int64_t)days * DAY);
    lb_val_t *r = testd_call(&D, "admin.clock", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
}

static void ack(const char *case_id)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "case_id", case_id);
    lb_val_t *r = testd_call(&D, "case.ack", a);
    CU_ASSERT_STRING_EQUAL(testd_code(r), "");
    lb_val_free(&r);
    lb_val_free(&a);
}

static int rank(const char *level)
{
    static const char *const l[] = {"team", "subdistrict", "district", "province"};
    for (int i = 0; level && i < 4; i++)
        if (strcmp(level, l[i]) == 0)
            return i;
    return -1;
}

/*
 * The truth from the daemon: seqs after `after` of fired escalations whose
 * area starts with prefix, at level rank >= min_rank. Returns how many.
 */
static size_t expected(const char *prefix, int min_rank, uint64_t after, uint64_t *out, size_t max)
{
    size_t n = 0;
    for (;;) {
        lb_val_t *a = lb_map();
        lb_map_set_int(a, "seq", (int64_t)after);
        lb_map_set_int(a, "limit", 10000);
        lb_val_t *r = testd_call(&D, "events.since", a);
        lb_val_free(&a);
        const lb_val_t *evs = lb_map_get(lbc_reply_result(r), "events");
        if (!evs || evs->a.n == 0) {
            lb_val_free(&r);
            return n;
        }
        for (uint32_t i = 0; i < evs->a.n; i++) {
            lb_val_t *dec = NULL;
            const lb_val_t *e = evs->a.items[i];
            if (e->type == LB_BIN) {
                proto_err_t perr;
                proto_unpack(e->s.p, e->s.n, &proto_default_limits, &dec, &perr);
                e = dec;
            }
            int64_t seq = 0;
            lb_map_int(e, "seq", &seq);
            const char *kind = lb_map_str(e, "kind"), *type = lb_map_str(e, "type");
            const char *area = lb_map_str(e, "area");
            if (kind && strcmp(kind, "escalation") == 0 && type && strcmp(type, "fired") == 0 &&
                area && strncmp(area, prefix, strlen(prefix)) == 0 &&
                rank(lb_map_str(e, "level")) >= min_rank && n < max)
                out[n++] = (uint64_t)seq;
            after = (uint64_t)seq;
            lb_val_free(&dec);
        }
        lb_val_free(&r);
    }
}

/* The first field of each line of path (a seq), in file order. */
static size_t seqs_of(const char *path, uint64_t *out, size_t max)
{
    char *s = slurp(path);
    size_t n = 0;
    for (char *line = s; line && *line && n < max;) {
        out[n++] = strtoull(line, NULL, 10);
        char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    free(s);
    return n;
}

/* Asserts the delivered seqs are exactly the expected ones, in order, none twice. */
static void assert_exactly(const uint64_t *got, size_t ngot, const uint64_t *want, size_t nwant)
{
    CU_ASSERT_EQUAL(ngot, nwant);
    for (size_t i = 1; i < ngot; i++)
        CU_ASSERT_TRUE(got[i] > got[i - 1]); /* seq order, so also no duplicates */
    for (size_t i = 0; i < ngot && i < nwant; i++)
        CU_ASSERT_EQUAL(got[i], want[i]);
    if (ngot != nwant || (ngot && memcmp(got, want, ngot * sizeof *got) != 0)) {
        fprintf(stderr, "\n  delivered:");
        for (size_t i = 0; i < ngot; i++)
            fprintf(stderr, " %" PRIu64, got[i]);
        fprintf(stderr, "\n  expected: ");
        for (size_t i = 0; i < nwant; i++)
            fprintf(stderr, " %" PRIu64, want[i]);
        fprintf(stderr, "\n");
    }
}

/* Releases a command blocked reading the gate FIFO (bounded wait for it to get there). */
static bool open_gate(const char *fifo)
{
    int64_t end = mono_ms() + WAIT_MS;
    for (;;) {
        /* O_NONBLOCK write-open fails with ENXIO until a reader has the FIFO open. */
        int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        if (errno != ENXIO || mono_ms() > end)
            return false;
        nap_ms(10);
    }
}

/* ---------------------------------------------------------------------- */
/* Suites                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * The test command: logs each run; de-duplicates a re-run by LOGBOOK_SEQ as
 * logbook-notify --help asks (only when LOGBOOK_ATTEMPT > 1); may fail on
 * purpose; may block on a FIFO after delivering, to be caught mid-run.
 */
static const char script_text[] =
    "#!/bin/sh\n"
    "d=\"$NOTIFY_DIR\"\n"
    "printf '%s %s\\n' \"$LOGBOOK_SEQ\" \"$LOGBOOK_ATTEMPT\" >> \"$d/runs\"\n"
    "json=$(cat)\n"
    "if [ \"$LOGBOOK_ATTEMPT\" -gt 1 ] && grep -q \"^$LOGBOOK_SEQ \" \"$d/out\" 2>/dev/null; then\n"
    "  exit 0\n"
    "fi\n"
    "if [ -n \"$NOTIFY_FAIL_CASE\" ] && [ \"$LOGBOOK_CASE_ID\" = \"$NOTIFY_FAIL_CASE\" ]; then\n"
    "  exit 5\n"
    "fi\n"
    "if [ -n \"$NOTIFY_FAIL_FIRST\" ]; then\n"
    "  c=\"$d/count-$LOGBOOK_SEQ\"\n"
    "  n=$(( $(cat \"$c\" 2>/dev/null || echo 0) + 1 ))\n"
    "  echo \"$n\" > \"$c\"\n"
    "  [ \"$n\" -le \"$NOTIFY_FAIL_FIRST\" ] && exit 3\n"
    "fi\n"
    "printf '%s %s %s %s %s %s %s\\n' \"$LOGBOOK_SEQ\" \"$LOGBOOK_CASE_ID\" \"$LOGBOOK_LEVEL\" "
    "\"$LOGBOOK_AREA\" \"$LOGBOOK_STATE\" \"$LOGBOOK_HOUSE_ID\" \"$json\" >> \"$d/out\"\n"
    "if [ -f \"$d/block\" ]; then\n"
    "  rm -f \"$d/block\"\n"
    "  cat \"$d/gate\" > /dev/null\n"
    "fi\n"
    "exit 0\n";

static int suite_init(void)
{
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o) != 0)
        return -1;
    snprintf(script, sizeof script, "%s/notify.sh", D.dir);
    return write_file(script, script_text, 0755);
}

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/*
 * Checks each line "SEQ CASE LEVEL AREA STATE HOUSE JSON" the test command
 * wrote to out: one of the cases in mine, in district 6501, with its event's
 * JSON. Returns the number of lines.
 */
static int check_delivered_lines(const char *out, char mine[3][LB_CASE_ID_MAX])
{
    char *text = slurp(out);
    int lines = 0;
    for (char *line = text; line && *line; lines++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        uint64_t seq = 0;
        char cid[32] = "", level[32] = "", area[16] = "", state[64] = "", house[16] = "";
        int used = 0;
        CU_ASSERT_EQUAL(sscanf(line, "%" SCNu64 " %31s %31s %15s %63s %15s %n", &seq, cid, level,
                               area, state, house, &used),
                        6);
        CU_ASSERT_EQUAL(strncmp(area, "6501", 4), 0);
        CU_ASSERT_TRUE(strcmp(cid, mine[0]) == 0 || strcmp(cid, mine[1]) == 0 ||
                       strcmp(cid, mine[2]) == 0);
        CU_ASSERT_STRING_EQUAL(state, "identified");
        CU_ASSERT_EQUAL(strlen(house), 11);
        CU_ASSERT_TRUE(rank(level) >= 0);
        char seqkey[40];
        snprintf(seqkey, sizeof seqkey, "\"seq\": %" PRIu64 ",", seq);
        CU_ASSERT_PTR_NOT_NULL(strstr(line + used, seqkey));
        CU_ASSERT_PTR_NOT_NULL(strstr(line + used, "\"type\": \"fired\""));
        CU_ASSERT_EQUAL(line[used], '{');
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    return lines;
}

/*
 * Checks the command's runs log ("SEQ ATTEMPT" per run): per seq the
 * attempts count up from 1. Returns how often seq `caught` ran.
 */
static int count_runs(const char *runs, uint64_t caught)
{
    uint64_t rseq[MAX_SEQS];
    size_t nr = 0;
    char *r = slurp(runs);
    int caught_runs = 0;
    for (char *line = r; line && *line && nr < MAX_SEQS;) {
        uint64_t s = 0;
        unsigned att = 0;
        CU_ASSERT_EQUAL(sscanf(line, "%" SCNu64 " %u", &s, &att), 2);
        unsigned prev = 0;
        for (size_t i = 0; i < nr; i++)
            if (rseq[i] == s)
                prev++;
        CU_ASSERT_EQUAL(att, prev + 1);
        if (s == caught)
            caught_runs++;
        rseq[nr++] = s;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(r);
    return caught_runs;
}

/*
 * Two districts; the notifier follows 6501. Batches fire while it runs, while
 * it is SIGKILLed between deliveries and while it is SIGKILLed with the
 * command caught after delivering but before exiting (the one window the
 * notifier cannot settle alone; it re-runs with LOGBOOK_ATTEMPT 2 and the
 * command drops the repeat). Every escalation of 6501 arrives once, in order.
 */
static void test_exactly_once_across_kills(void)
{
    notifier_t n;
    notifier_init(&n, "n1");
    char mine[3][LB_CASE_ID_MAX], other[3][LB_CASE_ID_MAX];
    const char *villages[3] = {"65010101", "65010203", "65011001"};
    for (int i = 0; i < 3; i++) {
        open_case(villages[i], mine[i]);
        open_case("65020101", other[i]);
        CU_ASSERT_FATAL(mine[i][0] && other[i][0]);
    }
    const char *opts[] = {"--area", "6501", "--exec", script, "--state", n.state, NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    lbc_cursor_t start;
    CU_ASSERT_EQUAL_FATAL(lbc_cursor_load(n.state, &start, NULL, 0), 0);
    CU_ASSERT_EQUAL(start.pending, 0);

    /* batch 1 (team level, day 8) while it runs */
    advance_days(8);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 3));
    notifier_kill(&n);

    /* batch 2 (subdistrict, day 15) while it is down, and an ack (not an alert) */
    advance_days(7);
    ack(mine[0]);
    ack(other[0]);

    /* restart; the first delivery blocks after writing its line: SIGKILL it right there */
    char block[480], gate[480];
    snprintf(block, sizeof block, "%s/block", n.dir);
    snprintf(gate, sizeof gate, "%s/gate", n.dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(gate, 0600), 0);
    CU_ASSERT_EQUAL_FATAL(write_file(block, "", 0644), 0);
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 4));
    notifier_kill(&n);
    lbc_cursor_t mid;
    CU_ASSERT_EQUAL(lbc_cursor_load(n.state, &mid, NULL, 0), 0);
    uint64_t caught[8];
    CU_ASSERT_EQUAL_FATAL(seqs_of(n.out, caught, 8), 4);
    CU_ASSERT_EQUAL(mid.pending, caught[3]); /* recorded as started, not as done */
    CU_ASSERT_EQUAL(mid.attempts, 1);
    CU_ASSERT_TRUE(open_gate(gate)); /* the orphaned command may exit now */

    /* restart: the caught seq runs again as attempt 2 and is dropped by the command */
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 6));

    /* batch 3 (district, day 31) while it runs again */
    advance_days(16);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 9));
    CU_ASSERT_EQUAL(notifier_stop(&n), 0);

    uint64_t want[MAX_SEQS], got[MAX_SEQS];
    size_t nwant = expected("6501", 0, start.seq, want, MAX_SEQS);
    size_t ngot = seqs_of(n.out, got, MAX_SEQS);
    CU_ASSERT_EQUAL(nwant, 9);
    assert_exactly(got, ngot, want, nwant);

    /* every line is one of ours, with its JSON */
    CU_ASSERT_EQUAL(check_delivered_lines(n.out, mine), 9);

    /* runs: per seq the attempts count up from 1; the caught one ran exactly twice */
    CU_ASSERT_EQUAL(count_runs(n.runs, caught[3]), 2);

    /* stopped cleanly: nothing pending, cursor at or past the last delivery */
    lbc_cursor_t end;
    CU_ASSERT_EQUAL(lbc_cursor_load(n.state, &end, NULL, 0), 0);
    CU_ASSERT_EQUAL(end.pending, 0);
    CU_ASSERT_TRUE(ngot > 0 && end.seq >= got[ngot - 1]);
}

/* A command failing twice for a seq is run a third time after 1 s and 2 s, and delivers once. */
static void test_failing_command_is_retried(void)
{
    notifier_t n;
    notifier_init(&n, "n2");
    char cid[LB_CASE_ID_MAX];
    open_case("65040101", cid);
    CU_ASSERT_FATAL(cid[0]);
    const char *opts[] = {"--area", "6504", "--exec", script, "--state", n.state, NULL};
    const char *env[] = {"NOTIFY_FAIL_FIRST=2", NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, env) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    uint64_t from = 0;
    lbc_cursor_t c;
    CU_ASSERT_EQUAL(lbc_cursor_load(n.state, &c, NULL, 0), 0);
    from = c.seq;
    int64_t t0 = mono_ms();
    advance_days(8);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 1));
    int64_t took = mono_ms() - t0;
    CU_ASSERT_TRUE(took >= 2900); /* backoff 1 s then 2 s */
    CU_ASSERT_EQUAL(notifier_stop(&n), 0);
    uint64_t want[4], got[4];
    size_t nwant = expected("6504", 0, from, want, 4);
    CU_ASSERT_EQUAL(nwant, 1);
    size_t ngot = seqs_of(n.out, got, 4);
    assert_exactly(got, ngot, want, nwant);
    char *runs = slurp(n.runs);
    char expect[128];
    snprintf(expect, sizeof expect, "%" PRIu64 " 1\n%" PRIu64 " 2\n%" PRIu64 " 3\n", want[0],
             want[0], want[0]);
    CU_ASSERT_STRING_EQUAL(runs ? runs : "", expect);
    free(runs);
    char *log = slurp(n.log);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "exited with status 3"));
    free(log);
}

/* --max-tries: a command that always fails for one case is given up on loudly; the next goes on. */
static void test_max_tries_gives_up(void)
{
    notifier_t n;
    notifier_init(&n, "n3");
    char bad[LB_CASE_ID_MAX], good[LB_CASE_ID_MAX];
    open_case("65050101", bad);
    open_case("65050102", good);
    CU_ASSERT_FATAL(bad[0] && good[0]);
    char failenv[64];
    snprintf(failenv, sizeof failenv, "NOTIFY_FAIL_CASE=%s", bad);
    const char *env[] = {failenv, NULL};
    const char *opts[] = {"--area", "6505",        "--exec", script, "--state",
                          n.state,  "--max-tries", "2",      NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, env) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    advance_days(8);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 1));
    CU_ASSERT_EQUAL(notifier_stop(&n), 0);
    char *out = slurp(n.out);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, good));
    CU_ASSERT_PTR_NULL(out ? strstr(out, bad) : NULL);
    free(out);
    CU_ASSERT_EQUAL(count_lines(n.runs), 3); /* two for the bad case, one for the good */
    char *log = slurp(n.log);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "GAVE UP"));
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, bad));
    free(log);
}

/*
 * --level subdistrict without --exec: lines on stdout, team-level alerts
 * passed over. A second notifier started afterwards with --from-seq replays
 * the same lines from history.
 */
static void test_level_filter_and_stdout(void)
{
    notifier_t n, replay;
    notifier_init(&n, "n4");
    notifier_init(&replay, "n4-replay");
    char cid[2][LB_CASE_ID_MAX];
    open_case("65060101", cid[0]);
    open_case("65069999", cid[1]);
    CU_ASSERT_FATAL(cid[0][0] && cid[1][0]);
    const char *opts[] = {"--area", "6506", "--level", "subdistrict", "--state", n.state, NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    lbc_cursor_t c;
    CU_ASSERT_EQUAL(lbc_cursor_load(n.state, &c, NULL, 0), 0);
    advance_days(8);  /* team: not delivered */
    advance_days(7);  /* subdistrict */
    advance_days(16); /* district */
    CU_ASSERT_FATAL(wait_lines(&n, n.stdout_path, 4));
    CU_ASSERT_EQUAL(notifier_stop(&n), 0);
    uint64_t want[8], got[8];
    size_t nwant = expected("6506", 1, c.seq, want, 8);
    CU_ASSERT_EQUAL(nwant, 4);
    size_t ngot = seqs_of(n.stdout_path, got, 8);
    assert_exactly(got, ngot, want, nwant);
    uint64_t all[8];
    CU_ASSERT_EQUAL(expected("6506", 0, c.seq, all, 8), 6); /* the team level fired too */

    char *text = slurp(n.stdout_path);
    int lines = 0;
    for (char *line = text; line && *line; lines++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        uint64_t seq;
        char at[40], level[32], area[16], case_id[32], house[16], state[64], extra[8] = "";
        int k = sscanf(line, "%" SCNu64 " %39s %31s %15s %31s %15s %63s %7s", &seq, at, level, area,
                       case_id, house, state, extra);
        CU_ASSERT_EQUAL(k, 7);
        CU_ASSERT_TRUE(strcmp(level, "subdistrict") == 0 || strcmp(level, "district") == 0);
        CU_ASSERT_EQUAL(strncmp(area, "6506", 4), 0);
        CU_ASSERT_EQUAL(strlen(at), 20);
        CU_ASSERT_EQUAL(at[10], 'T');
        CU_ASSERT_EQUAL(at[19], 'Z');
        CU_ASSERT_EQUAL(strlen(house), 11);
        CU_ASSERT_STRING_EQUAL(state, "identified");
        line = nl ? nl + 1 : line + strlen(line);
    }
    CU_ASSERT_EQUAL(lines, 4);

    /* the same lines again from history */
    char from[32];
    snprintf(from, sizeof from, "%" PRIu64, c.seq);
    const char *ropts[] = {"--area",     "6506",       "--level", "subdistrict", "--state",
                           replay.state, "--from-seq", from,      NULL};
    CU_ASSERT_FATAL(notifier_start(&replay, ropts, NULL) > 0);
    CU_ASSERT_FATAL(wait_lines(&replay, replay.stdout_path, 4));
    CU_ASSERT_EQUAL(notifier_stop(&replay), 0);
    char *again = slurp(replay.stdout_path);
    char *orig = slurp(n.stdout_path);
    CU_ASSERT_STRING_EQUAL(again ? again : "", orig ? orig : "x");
    free(again);
    free(orig);
    free(text);
}

/* SIGTERM while the command runs: it finishes, the delivery is recorded, exit 0. */
static void test_sigterm_finishes_delivery(void)
{
    notifier_t n;
    notifier_init(&n, "n5");
    char cid[LB_CASE_ID_MAX];
    open_case("65070101", cid);
    CU_ASSERT_FATAL(cid[0]);
    char block[480], gate[480];
    snprintf(block, sizeof block, "%s/block", n.dir);
    snprintf(gate, sizeof gate, "%s/gate", n.dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(gate, 0600), 0);
    CU_ASSERT_EQUAL_FATAL(write_file(block, "", 0644), 0);
    const char *opts[] = {"--area", "6507", "--exec", script, "--state", n.state, NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    advance_days(8);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 1)); /* delivered, now blocked on the gate */
    kill(n.pid, SIGTERM);
    /* still running: it waits for the command */
    CU_ASSERT_EQUAL(waitpid(n.pid, NULL, WNOHANG), 0);
    CU_ASSERT_TRUE(open_gate(gate));
    int64_t end = mono_ms() + WAIT_MS;
    int status = -1;
    while (waitpid(n.pid, &status, WNOHANG) != n.pid && mono_ms() < end)
        nap_ms(10);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    n.pid = 0;
    uint64_t got[2];
    CU_ASSERT_EQUAL_FATAL(seqs_of(n.out, got, 2), 1);
    lbc_cursor_t c;
    CU_ASSERT_EQUAL(lbc_cursor_load(n.state, &c, NULL, 0), 0);
    CU_ASSERT_EQUAL(c.pending, 0);
    CU_ASSERT_TRUE(c.seq >= got[0]);
}

/*
 * The daemon restarts under a running notifier: it reconnects, and what was
 * published before its subscription came back is fetched with events.since.
 */
static void test_daemon_restart(void)
{
    notifier_t n;
    notifier_init(&n, "n7");
    char cid[2][LB_CASE_ID_MAX];
    open_case("65080101", cid[0]);
    open_case("65080202", cid[1]);
    CU_ASSERT_FATAL(cid[0][0] && cid[1][0]);
    const char *opts[] = {"--area", "6508", "--exec", script, "--state", n.state, NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    lbc_cursor_t c;
    CU_ASSERT_EQUAL(lbc_cursor_load(n.state, &c, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(testd_stop(&D), 0);
    CU_ASSERT_EQUAL_FATAL(testd_restart(&D), 0);
    advance_days(8);
    CU_ASSERT_FATAL(wait_lines(&n, n.out, 2));
    CU_ASSERT_EQUAL(notifier_stop(&n), 0);
    uint64_t want[4], got[4];
    size_t nwant = expected("6508", 0, c.seq, want, 4);
    CU_ASSERT_EQUAL(nwant, 2);
    size_t ngot = seqs_of(n.out, got, 4);
    assert_exactly(got, ngot, want, nwant);
}

/* Refusals: a damaged state file (exit 2), a state file in use (exit 1), bad options (exit 2). */
static void test_refusals(void)
{
    notifier_t n, twin;
    notifier_init(&n, "n6");
    notifier_init(&twin, "n6");
    CU_ASSERT_EQUAL_FATAL(write_file(n.state, "logbook-cursor 1\nseq banana\n", 0600), 0);
    const char *opts[] = {"--state", n.state, NULL};
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_EQUAL(notifier_wait_exit(&n), 2);
    char *log = slurp(n.log);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "not guessing"));
    free(log);

    /* a cursor ahead of the daemon: another store, alerts would be skipped silently */
    CU_ASSERT_EQUAL_FATAL(write_file(n.state, "logbook-cursor 1\nseq 999999\n", 0600), 0);
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_EQUAL(notifier_wait_exit(&n), 2);
    log = slurp(n.log);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "another store"));
    free(log);

    unlink(n.state);
    CU_ASSERT_FATAL(notifier_start(&n, opts, NULL) > 0);
    CU_ASSERT_FATAL(wait_started(&n));
    CU_ASSERT_FATAL(notifier_start(&twin, opts, NULL) > 0);
    CU_ASSERT_EQUAL(notifier_wait_exit(&twin), 1);
    CU_ASSERT_EQUAL(notifier_stop(&n), 0);

    const char *bad[][3] = {
        {"--level", "village", NULL}, {"--area", "650", NULL},   {"--area", "65a1", NULL},
        {"--max-tries", "-1", NULL},  {"--from-seq", "x", NULL}, {"extra", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_FATAL(notifier_start(&n, bad[i], NULL) > 0);
        CU_ASSERT_EQUAL(notifier_wait_exit(&n), 2);
    }
}

/* The cursor file on its own: round trip, absent, damaged, locked. */
static void test_cursor_file(void)
{
    char dir[] = "/tmp/logbook-cursor-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/c", dir);
    lbc_cursor_t c = {.seq = 7}, r;
    CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), LB_ENOTFOUND);
    CU_ASSERT_EQUAL(lbc_cursor_save(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.seq, 7);
    CU_ASSERT_EQUAL(r.pending, 0);
    c = (lbc_cursor_t){.seq = UINT64_MAX - 1, .pending = UINT64_MAX, .attempts = 3};
    CU_ASSERT_EQUAL(lbc_cursor_save(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), 0);
    CU_ASSERT_TRUE(r.seq == c.seq && r.pending == c.pending && r.attempts == 3);
    /* a signed head (version 2), with and without pending; a version 1 file has none */
    for (int p = 0; p < 2; p++) {
        c = (lbc_cursor_t){.seq = 8, .pending = p ? 9 : 0, .attempts = p ? 1 : 0, .has_head = true};
        c.head.seq = 12;
        memset(c.head.chain, 0xab, 32);
        memset(c.head.sig, 0x0c, 64);
        CU_ASSERT_EQUAL(lbc_cursor_save(path, &c, err, sizeof err), 0);
        CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), 0);
        CU_ASSERT_TRUE(r.has_head && r.head.seq == 12 && r.pending == c.pending &&
                       !memcmp(r.head.chain, c.head.chain, 32) &&
                       !memcmp(r.head.sig, c.head.sig, 64));
    }
    c = (lbc_cursor_t){.seq = 7};
    CU_ASSERT_EQUAL(lbc_cursor_save(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), 0);
    CU_ASSERT_FALSE(r.has_head);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    char tmp[140];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0); /* renamed away */

    /* invariants are refused on save */
    lbc_cursor_t bad1 = {.seq = 5, .pending = 5, .attempts = 1}, bad2 = {.seq = 5, .attempts = 1};
    lbc_cursor_t bad3 = {.seq = 5, .pending = 6};
    CU_ASSERT_EQUAL(lbc_cursor_save(path, &bad1, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_cursor_save(path, &bad2, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_cursor_save(path, &bad3, err, sizeof err), LB_EBADREQ);

    /* damaged files are refused, never read as 0 */
    const char *damaged[] = {
        "",
        "logbook-cursor 2\nseq 1\n",
        "logbook-cursor 1\nseq 1",
        "logbook-cursor 1\nseq 01\n",
        "logbook-cursor 1\nseq -1\n",
        "logbook-cursor 1\nseq 18446744073709551616\n",
        "logbook-cursor 1\nseq 1\npending 1 1\n",
        "logbook-cursor 1\nseq 1\npending 2 0\n",
        "logbook-cursor 1\nseq 1\npending 2 4294967296\n",
        "logbook-cursor 1\nseq 1\npending 2 1\nmore\n",
        "logbook-cursor 1\nseq 1\n\n",
        "logbook-cursor 1\nseq 1 \n",
        "logbook-cursor 1\nseq 1\nhead 2 00 00\n",
        "logbook-cursor 2\nseq 1\nhead 2 00 00\n",
    };
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
        CU_ASSERT_EQUAL(write_file(path, damaged[i], 0600), 0);
        r.seq = 99;
        int rc = lbc_cursor_load(path, &r, err, sizeof err);
        CU_ASSERT_EQUAL(rc, LB_ECORRUPT);
        if (rc != LB_ECORRUPT)
            fprintf(stderr, "\n  accepted damaged cursor #%zu\n", i);
        CU_ASSERT_EQUAL(r.seq, 0);
    }
    /* a NUL byte, and a file over the size limit */
    FILE *f = fopen(path, "w");
    fwrite("logbook-cursor 1\nseq 1\n\0", 1, 24, f);
    fclose(f);
    CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), LB_ECORRUPT);
    f = fopen(path, "w");
    fputs("logbook-cursor 1\nseq 1\n", f);
    for (int i = 0; i < LBC_CURSOR_FILE_MAX; i++)
        fputc(' ', f);
    fclose(f);
    CU_ASSERT_EQUAL(lbc_cursor_load(path, &r, err, sizeof err), LB_ECORRUPT);

    /* one holder at a time; released by unlock (and by the kernel when a process dies) */
    int a = -1, b = -1;
    CU_ASSERT_EQUAL(lbc_cursor_lock(path, &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_cursor_lock(path, &b, err, sizeof err), LB_ECONFLICT);
    CU_ASSERT_EQUAL(b, -1);
    lbc_cursor_unlock(&a);
    CU_ASSERT_EQUAL(a, -1);
    CU_ASSERT_EQUAL(lbc_cursor_lock(path, &b, err, sizeof err), 0);
    lbc_cursor_unlock(&b);
    lbc_cursor_unlock(&b); /* safe twice */

    /* a save into a folder that does not exist fails cleanly */
    char nowhere[160];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/c", dir);
    c = (lbc_cursor_t){.seq = 1};
    CU_ASSERT_EQUAL(lbc_cursor_save(nowhere, &c, err, sizeof err), LB_EIO);

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    static const cu_test_t cursor_file_tests[] = {
        {"round trip, damage refused, lock", test_cursor_file},
    };
    static const cu_test_t logbook_notify_tests[] = {
        {"exactly once across SIGKILLs and downtime", test_exactly_once_across_kills},
        {"a failing command is retried with backoff", test_failing_command_is_retried},
        {"--max-tries gives up loudly and goes on", test_max_tries_gives_up},
        {"--level filter, stdout lines, --from-seq replay", test_level_filter_and_stdout},
        {"SIGTERM finishes the delivery in hand", test_sigterm_finishes_delivery},
        {"the daemon restarts under a running notifier", test_daemon_restart},
        {"refusals: damaged state, state in use, bad options", test_refusals},
    };
    const cu_suite_t suites[] = {
        {.name = "cursor file", .tests = cursor_file_tests, .n = CU_COUNT(cursor_file_tests)},
        {.name = "logbook-notify",
         .init = suite_init,
         .clean = suite_clean,
         .tests = logbook_notify_tests,
         .n = CU_COUNT(logbook_notify_tests)},
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
