/*
 * command.c - one delivery: CMD run with /bin/sh -c, the event as JSON on
 * its stdin and LOGBOOK_* variables in its environment, in its own process
 * group under a timeout; or, without --exec, one line on standard output.
 */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

extern char **environ;

int notify_print_line(uint64_t seq, const lb_val_t *body)
{
    int64_t at = 0;
    char when[32] = "-";
    if (lb_map_int(body, "at", &at) == 0) {
        time_t t = (time_t)(at / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    const lb_val_t *data = lb_map_get(body, "data");
    printf("%" PRIu64 " %s %s %s %s %s %s\n", seq, when, str_or(body, "level", "-"),
           str_or(body, "area", "-"), str_or(body, "case_id", "-"), str_or(body, "house_id", "-"),
           str_or(data, "state", "-"));
    if (fflush(stdout) != 0 || ferror(stdout))
        return LB_EIO;
    return 0;
}

typedef struct {
    char **v; /* NULL-terminated, each entry malloc'd */
    size_t n, cap;
} envv_t;

static void env_free(envv_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof *e);
}

static int env_add(envv_t *e, const char *name, const char *value)
{
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return LB_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    size_t nl = strlen(name), vl = strlen(value);
    char *s = malloc(nl + vl + 2);
    if (!s)
        return LB_ENOMEM;
    memcpy(s, name, nl);
    s[nl] = '=';
    memcpy(s + nl + 1, value, vl + 1);
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

/*
 * The command's environment: the notifier's own (so PATH, LOGBOOK_CERT and
 * the like reach a command that calls `logbook ack`) with the event's
 * variables put first and any inherited copies of them left out.
 */
static int env_build(envv_t *e, uint64_t seq, const lb_val_t *body, uint32_t attempt)
{
    const lb_val_t *data = lb_map_get(body, "data");
    char seqs[24], steps[24] = "", ats[24] = "", atts[16];
    int64_t v;
    snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
    snprintf(atts, sizeof atts, "%" PRIu32, attempt);
    if (lb_map_int(body, "step", &v) == 0)
        snprintf(steps, sizeof steps, "%" PRId64, v);
    if (lb_map_int(body, "at", &v) == 0)
        snprintf(ats, sizeof ats, "%" PRId64, v);
    const char *vars[][2] = {
        {"LOGBOOK_SEQ", seqs},
        {"LOGBOOK_CASE_ID", str_or(body, "case_id", "")},
        {"LOGBOOK_HOUSE_ID", str_or(body, "house_id", "")},
        {"LOGBOOK_AREA", str_or(body, "area", "")},
        {"LOGBOOK_LEVEL", str_or(body, "level", "")},
        {"LOGBOOK_STATE", str_or(data, "state", "")},
        {"LOGBOOK_STEP", steps},
        {"LOGBOOK_WORKFLOW", str_or(body, "workflow", "")},
        {"LOGBOOK_AT", ats},
        {"LOGBOOK_ATTEMPT", atts},
    };
    size_t nvars = sizeof vars / sizeof vars[0];
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < nvars; i++)
        if (env_add(e, vars[i][0], vars[i][1]) != 0)
            goto fail;
    for (char **p = environ; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq)
            continue;
        size_t nl = (size_t)(eq - *p);
        bool ours = false;
        for (size_t i = 0; i < nvars && !ours; i++)
            ours = strlen(vars[i][0]) == nl && strncmp(*p, vars[i][0], nl) == 0;
        if (ours)
            continue;
        char name[256];
        if (nl >= sizeof name)
            continue; /* not a name a shell could use */
        memcpy(name, *p, nl);
        name[nl] = '\0';
        if (env_add(e, name, eq + 1) != 0)
            goto fail;
    }
    return 0;
fail:
    env_free(e);
    return LB_ENOMEM;
}

/* The event as one line of JSON in an anonymous file, to be CMD's stdin. */
static int stdin_file(const lb_val_t *body, int *fd)
{
    lb_buf_t json;
    lb_buf_init(&json);
    int rc = lb_val_to_json(body, 0, &json);
    if (rc == 0)
        rc = lb_buf_append(&json, "\n", 1);
    if (rc) {
        lb_buf_free(&json);
        return rc;
    }
    /* A file, not a pipe: a command that never reads stdin cannot block the notifier. */
    *fd = memfd_create("logbook-event", MFD_CLOEXEC);
    if (*fd < 0) {
        lb_buf_free(&json);
        return LB_EIO;
    }
    size_t off = 0;
    while (off < json.len) {
        ssize_t w = write(*fd, json.p + off, json.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = LB_EIO;
            break;
        }
        off += (size_t)w;
    }
    lb_buf_free(&json);
    /* The child reads from the shared offset: start it at the beginning. */
    if (rc == 0 && lseek(*fd, 0, SEEK_SET) != 0)
        rc = LB_EIO;
    if (rc) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/*
 * Starts CMD with /bin/sh -c, in as its stdin and env as its environment, in
 * a process group of its own. Returns 0 with *pid; 1 when it could not start
 * (EAGAIN, ENOMEM: retried like a failed run); LB_ENOMEM when the spawn
 * attributes could not be set. why says how.
 */
static int spawn_command(const char *cmd, int in, char **env, pid_t *pid, char *why, size_t whylen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    int rc = 0;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGCHLD);
    bool fa_init = posix_spawn_file_actions_init(&fa) == 0;
    bool attr_init = posix_spawnattr_init(&attr) == 0;
    if (!fa_init || !attr_init || posix_spawn_file_actions_adddup2(&fa, in, 0) != 0 ||
        /* The child gets plain signals back (ours are blocked or ignored) and its own
         * process group: a terminal's Ctrl-C must not kill a delivery half done, and a
         * timeout kills everything the command started. */
        posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(&attr, &dflt) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETPGROUP) != 0) {
        snprintf(why, whylen, "cannot prepare the command: posix_spawn attributes");
        rc = LB_ENOMEM;
    } else {
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        int e = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
        if (e != 0) {
            snprintf(why, whylen, "cannot start /bin/sh: %s", strerror(e));
            rc = 1;
        }
    }
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/*
 * Waits for pid, killing its process group once timeout_s (0 = none) has
 * passed. A SIGTERM or SIGINT meanwhile sets n->stop and is otherwise left
 * for later. Returns 0 with *status and *timed_out; LB_EIO when waitpid
 * fails (why says so).
 */
static int wait_command(notifier_t *n, pid_t pid, uint64_t seq, int *status, bool *timed_out,
                        char *why, size_t whylen)
{
    int timeout_s = n->o.cmd_timeout_s;
    int64_t deadline = timeout_s ? lbc_mono_ms() + (int64_t)timeout_s * 1000 : -1;
    bool told = false;
    *timed_out = false;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR) {
            snprintf(why, whylen, "waitpid: %s", strerror(errno));
            return LB_EIO;
        }
        int64_t left = 1000;
        if (deadline >= 0) {
            left = deadline - lbc_mono_ms();
            if (left <= 0) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                    ;
                *timed_out = true;
                return 0;
            }
            if (left > 1000)
                left = 1000;
        }
        /* SIGCHLD is blocked, so an exit between waitpid and here still wakes this. */
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        int sig = sigtimedwait(&n->wait_set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            n->stop = true;
            if (!told)
                say(PRIO_INFO, "stopping after the delivery of seq %" PRIu64 " in hand", seq);
            told = true;
        }
    }
}

/* 0 when the run exited 0, else 1 with why saying how it ended. */
static int run_outcome(int status, bool timed_out, int timeout_s, char *why, size_t whylen)
{
    if (timed_out) {
        snprintf(why, whylen, "timed out after %d s and was killed", timeout_s);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        snprintf(why, whylen, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(why, whylen, "was killed by signal %d",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}

int notify_run_command(notifier_t *n, uint64_t seq, const lb_val_t *body, uint32_t attempt,
                       char *why, size_t whylen)
{
    envv_t env = {0};
    int in = -1, status = 0;
    pid_t pid = -1;
    bool timed_out = false;
    int rc = stdin_file(body, &in);
    if (rc == 0)
        rc = env_build(&env, seq, body, attempt);
    if (rc)
        snprintf(why, whylen, "cannot prepare the command: %s", lb_strerror(rc));
    if (rc == 0)
        rc = spawn_command(n->o.exec_cmd, in, env.v, &pid, why, whylen);
    if (rc == 0)
        rc = wait_command(n, pid, seq, &status, &timed_out, why, whylen);
    if (rc == 0)
        rc = run_outcome(status, timed_out, n->o.cmd_timeout_s, why, whylen);
    if (in >= 0)
        close(in);
    env_free(&env);
    return rc;
}
