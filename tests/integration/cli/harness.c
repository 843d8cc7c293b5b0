/*
 * harness.c - what the test_cli files share: one manual-clock daemon for the
 * suite, running `logbook` as a child with its output captured, background
 * watchers stopped by their pid, and set-up helpers over the API.
 */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test.h"

extern char **environ;

testd_t D; /* one daemon with the manual clock for the whole suite */
char admin_key[400], server_key[400];
char logbook_path[4096];

int suite_init(void)
{
    const char *bin = getenv("LOGBOOK_BIN");
    char rel[512];
    snprintf(rel, sizeof rel, "%s/logbook", bin && *bin ? bin : "bin");
    /* Absolute, so a child started in another folder finds it too. */
    if (!realpath(rel, logbook_path) || access(logbook_path, X_OK) != 0) {
        fprintf(stderr, "test_cli: %s is not an executable (set LOGBOOK_BIN)\n", rel);
        return -1;
    }
    testd_opts_t o = {.manual_clock = true};
    if (testd_start(&D, &o) != 0)
        return -1;
    snprintf(admin_key, sizeof admin_key, "%s/keys/admin.key_secret", D.data);
    snprintf(server_key, sizeof server_key, "%s/keys/server.key", D.data);
    return 0;
}

int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Running the CLI                                                         */
/* ---------------------------------------------------------------------- */

void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        if (f)
            fclose(f);
        return NULL;
    }
    buf[0] = '\0';
    if (!f)
        return buf;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/*
 * The environment for the child: ours without LOGBOOK_* (so the caller's
 * settings cannot leak in), plus extra ("NAME=value" strings, NULL-ended).
 * The array is malloc'd; its strings are borrowed.
 */
static char **child_env(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    for (size_t i = 0; extra && extra[i]; i++)
        n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; environ[i]; i++)
        if (strncmp(environ[i], "LOGBOOK_", 8) != 0)
            env[k++] = environ[i];
    for (size_t i = 0; extra && extra[i]; i++)
        env[k++] = (char *)extra[i];
    return env;
}

/*
 * Starts logbook with argv[1..] = args (NULL-ended), stdout/stderr to
 * out_path/err_path, stdin from /dev/null, in folder cwd (NULL = ours).
 * Returns the pid or -1.
 */
pid_t spawn_cli(const char *const *args, const char *const *env_extra, const char *cwd,
                const char *out_path, const char *err_path)
{
    const char *argv[ARGV_MAX + 2];
    size_t n = 0;
    argv[n++] = logbook_path;
    for (size_t i = 0; args[i] && n < ARGV_MAX; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    /* Built before fork: the child only opens, dups and execs. */
    char **env = child_env(env_extra);
    if (!env)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0)
            _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execve(logbook_path, (char *const *)argv, env);
        _exit(127);
    }
    free(env);
    return pid;
}

int wait_exit(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static unsigned run_counter;

/* Runs logbook with exactly these arguments and waits for it. */
void run_argv(run_t *r, const char *const *args, const char *const *env_extra, const char *cwd)
{
    char out[400], err[400];
    unsigned k = run_counter++;
    snprintf(out, sizeof out, "%s/cli-%u.out", D.dir, k);
    snprintf(err, sizeof err, "%s/cli-%u.err", D.dir, k);
    memset(r, 0, sizeof *r);
    pid_t pid = spawn_cli(args, env_extra, cwd, out, err);
    r->code = pid > 0 ? wait_exit(pid) : -1;
    r->out = slurp(out);
    r->err = slurp(err);
    if (!r->out || !r->err) {
        run_free(r);
        r->code = -1;
        r->out = strdup("");
        r->err = strdup("");
    }
    unlink(out);
    unlink(err);
    /* A failing check prints what the command said. */
    if (getenv("TEST_CLI_VERBOSE")) {
        fprintf(stderr, "\n$ logbook");
        for (size_t i = 0; args[i]; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, "\n[exit %d]\n%s%s", r->code, r->out, r->err);
    }
}

/* Collects a NULL-ended vararg list after `first` into args (at most ARGV_MAX - 8). */
static size_t collect(const char **args, size_t n, const char *first, va_list ap)
{
    for (const char *s = first; s && n < ARGV_MAX - 8; s = va_arg(ap, const char *))
        args[n++] = s;
    args[n] = NULL;
    return n;
}

/* logbook -e REQ -k ADMIN -s SERVER ARGS...: use cli(&r, ARGS...), which ends the list. */
void cli_(run_t *r, const char *first, ...)
{
    const char *args[ARGV_MAX];
    size_t n = 0;
    args[n++] = "-e";
    args[n++] = D.req_ep;
    args[n++] = "-k";
    args[n++] = admin_key;
    args[n++] = "-s";
    args[n++] = server_key;
    va_list ap;
    va_start(ap, first);
    collect(args, n, first, ap);
    va_end(ap);
    run_argv(r, args, NULL, NULL);
}

/* logbook ARGS... with no global options added: use cli_bare(&r, ARGS...). */
void cli_bare_(run_t *r, const char *first, ...)
{
    const char *args[ARGV_MAX];
    va_list ap;
    va_start(ap, first);
    collect(args, 0, first, ap);
    va_end(ap);
    run_argv(r, args, NULL, NULL);
}

bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* Copies the first case id ("C" + digits) found in s into out; "" when none. */
void first_case_id(const char *s, char out[LB_CASE_ID_MAX])
{
    out[0] = '\0';
    for (const char *p = s; p && *p; p++) {
        if (*p != 'C' || !isdigit((unsigned char)p[1]) || (p > s && isalnum((unsigned char)p[-1])))
            continue;
        size_t n = 1;
        while (n < LB_CASE_ID_MAX - 1 && isdigit((unsigned char)p[n]))
            n++;
        memcpy(out, p, n);
        out[n] = '\0';
        return;
    }
}

/* ---------------------------------------------------------------------- */
/* Helpers over the API (set-up only; what is tested goes through the CLI) */
/* ---------------------------------------------------------------------- */

int64_t daemon_now(void)
{
    lb_val_t *r = testd_call(&D, "admin.stats", NULL);
    int64_t now = -1;
    if (r)
        lb_map_int(lbc_reply_result(r), "now", &now);
    lb_val_free(&r);
    return now;
}

int64_t daemon_last_seq(void)
{
    lb_val_t *r = testd_call(&D, "ping", NULL);
    int64_t seq = -1;
    if (r)
        lb_map_int(lbc_reply_result(r), "last_seq", &seq);
    lb_val_free(&r);
    return seq;
}

/* logbook open HOUSE AREA ...; the new case id in out ("" on failure). */
void cli_open(char out[LB_CASE_ID_MAX], const char *house, const char *area)
{
    run_t r;
    cli(&r, "open", house, area);
    CU_ASSERT_EQUAL(r.code, 0);
    first_case_id(r.out, out);
    CU_ASSERT(out[0] != '\0');
    run_free(&r);
}

/*
 * Polls path until it contains needle, the process exits (it is reaped then)
 * or WAIT_MS pass; returns the file's text (caller frees).
 */
char *wait_for_text(const char *path, const char *needle, bg_t *bg)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *s = slurp(path);
        if (!s || strstr(s, needle))
            return s;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int status;
        if (bg->pid > 0 && waitpid(bg->pid, &status, WNOHANG) == bg->pid) {
            bg->pid = -1;
            bg->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            char *last = slurp(path); /* what it wrote before it ended */
            free(s);
            return last;
        }
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > WAIT_MS)
            return s;
        free(s);
        struct timespec ts = {0, 20 * 1000 * 1000}; /* poll interval */
        nanosleep(&ts, NULL);
    }
}

/* Starts `logbook ... watch ARGS` in the background with -E. */
bg_t start_watch(const char *out, const char *err, const char *const *watch_args)
{
    const char *args[ARGV_MAX];
    size_t n = 0;
    const char *pre[] = {"-e", D.req_ep, "-E", D.ev_ep, "-k", admin_key, "-s", server_key, "watch"};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        args[n++] = pre[i];
    for (size_t i = 0; watch_args && watch_args[i] && n < ARGV_MAX - 1; i++)
        args[n++] = watch_args[i];
    args[n] = NULL;
    bg_t bg = {spawn_cli(args, NULL, NULL, out, err), -1};
    return bg;
}

/* SIGTERM by its pid, unless it ended already; its exit code. */
int stop_watch(bg_t *bg)
{
    if (bg->pid > 0) {
        kill(bg->pid, SIGTERM);
        bg->code = wait_exit(bg->pid);
        bg->pid = -1;
    }
    return bg->code;
}
