/*
 * test_cli.c - the `logbook` command line against a real logbookd (manual
 * clock): each command runs as a subprocess with -e/-k/-s pointing at the
 * test daemon, and its stdout, stderr and exit code are checked. The binary
 * is $LOGBOOK_BIN/logbook (LOGBOOK_BIN defaults to "bin"). Background
 * processes (watch) are stopped by their pid; conditions are polled for,
 * never slept for.
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

#include "../../proto/proto.h"
#include "../lib/testd.h"

extern char **environ;

static testd_t D; /* one daemon with the manual clock for the whole suite */
static char admin_key[400], server_key[400];
static char logbook_path[4096];

#define ARGV_MAX 64
#define WAIT_MS 15000 /* deadline for polled conditions */

static int suite_init(void)
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

static int suite_clean(void)
{
    int rc = testd_stop(&D);
    testd_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Running the CLI                                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
    int code;  /* exit code; -1 when it did not exit normally */
    char *out; /* stdout, NUL-terminated */
    char *err; /* stderr */
} run_t;

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static char *slurp(const char *path)
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
static pid_t spawn_cli(const char *const *args, const char *const *env_extra, const char *cwd,
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

static int wait_exit(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static unsigned run_counter;

/* Runs logbook with exactly these arguments and waits for it. */
static void run_argv(run_t *r, const char *const *args, const char *const *env_extra,
                     const char *cwd)
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
static void cli_(run_t *r, const char *first, ...)
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
static void cli_bare_(run_t *r, const char *first, ...)
{
    const char *args[ARGV_MAX];
    va_list ap;
    va_start(ap, first);
    collect(args, 0, first, ap);
    va_end(ap);
    run_argv(r, args, NULL, NULL);
}

/* A typed end marker: a bare NULL in a variadic list may be an int. */
#define cli(r, ...) cli_(r, __VA_ARGS__, (const char *)NULL)
#define cli_bare(r, ...) cli_bare_(r, __VA_ARGS__, (const char *)NULL)

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* Copies the first case id ("C" + digits) found in s into out; "" when none. */
static void first_case_id(const char *s, char out[LB_CASE_ID_MAX])
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
/* A small JSON syntax check: --json output must be one JSON value.        */
/* ---------------------------------------------------------------------- */

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *json_value(const char *p, int depth);

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i]))
                        return NULL;
                p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", *p) || !*p)
                return NULL;
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p)
{
    const char *s = p;
    if (*p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return NULL;
    if (*p == '0' && isdigit((unsigned char)p[1]))
        return NULL;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p > s ? p : NULL;
}

static const char *json_value(const char *p, int depth)
{
    if (!p || depth > 64)
        return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = json_string(json_ws(p));
                if (!p)
                    return NULL;
                p = json_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = json_value(p, depth + 1);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    return json_number(p);
}

/* true when s is exactly one JSON value (surrounding white space allowed). */
static bool json_ok(const char *s)
{
    const char *p = json_value(s, 0);
    return p && *json_ws(p) == '\0';
}

/* true when every non-empty line of s is one JSON value (watch --json). */
static bool json_lines_ok(const char *s)
{
    bool ok = true;
    char *copy = strdup(s ? s : "");
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); ok && line;
         line = strtok_r(NULL, "\n", &save))
        ok = json_ok(line);
    free(copy);
    return ok;
}

static void test_json_checker(void)
{
    CU_ASSERT_TRUE(json_ok("{\"a\": [1, -2.5e3, \"x\\n\\u0e01\", true, null, {}], \"b\": {}}\n"));
    CU_ASSERT_FALSE(json_ok("{\"a\": 1,}"));
    CU_ASSERT_FALSE(json_ok("{\"a\" 1}"));
    CU_ASSERT_FALSE(json_ok("[1, 2"));
    CU_ASSERT_FALSE(json_ok("{} {}"));
    CU_ASSERT_FALSE(json_ok("01"));
}

/* ---------------------------------------------------------------------- */
/* Helpers over the API (set-up only; what is tested goes through the CLI) */
/* ---------------------------------------------------------------------- */

static int64_t daemon_now(void)
{
    lb_val_t *r = testd_call(&D, "admin.stats", NULL);
    int64_t now = -1;
    if (r)
        lb_map_int(lbc_reply_result(r), "now", &now);
    lb_val_free(&r);
    return now;
}

static int64_t daemon_last_seq(void)
{
    lb_val_t *r = testd_call(&D, "ping", NULL);
    int64_t seq = -1;
    if (r)
        lb_map_int(lbc_reply_result(r), "last_seq", &seq);
    lb_val_free(&r);
    return seq;
}

/* logbook open HOUSE AREA ...; the new case id in out ("" on failure). */
static void cli_open(char out[LB_CASE_ID_MAX], const char *house, const char *area)
{
    run_t r;
    cli(&r, "open", house, area);
    CU_ASSERT_EQUAL(r.code, 0);
    first_case_id(r.out, out);
    CU_ASSERT(out[0] != '\0');
    run_free(&r);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static void test_ping(void)
{
    run_t r;
    cli(&r, "ping");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "logbookd 0.1.0 at "));
    CU_ASSERT_TRUE(contains(r.out, D.req_ep));
    CU_ASSERT_TRUE(contains(r.out, "last seq "));
    CU_ASSERT_STRING_EQUAL(r.err, "");
    run_free(&r);
    /* global options are accepted after the command too */
    cli_bare(&r, "ping", "--json", "-e", D.req_ep, "-k", admin_key, "-s", server_key);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"version\": \"0.1.0\""));
    CU_ASSERT_TRUE(contains(r.out, "\"last_seq\": "));
    CU_ASSERT_TRUE(contains(r.out, "\"uptime_s\": "));
    run_free(&r);
}

static void test_environment(void)
{
    char ep[100], cert[450], srv[450];
    snprintf(ep, sizeof ep, "LOGBOOK_ENDPOINT=%s", D.req_ep);
    snprintf(cert, sizeof cert, "LOGBOOK_CERT=%s", admin_key);
    snprintf(srv, sizeof srv, "LOGBOOK_SERVER_CERT=%s", server_key);
    const char *env[] = {ep, cert, srv, NULL};
    const char *args[] = {"ping", NULL};
    run_t r;
    run_argv(&r, args, env, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, D.req_ep));
    run_free(&r);
    /* -e on the command line wins over $LOGBOOK_ENDPOINT */
    const char *args2[] = {"-e", "tcp://127.0.0.1:1", "--timeout", "200", "--retries", "0", "ping",
                           NULL};
    run_argv(&r, args2, env, NULL);
    CU_ASSERT_EQUAL(r.code, 3);
    run_free(&r);
}

static void test_open_show(void)
{
    char nid[14], member[100];
    testd_nid(310100200300ULL, nid);
    snprintf(member, sizeof member, "%s:สมหญิง ใจดี", nid);
    run_t r;
    cli(&r, "open", "65010000001", "65010101", "--head", "สมชาย ใจดี", "--member", member,
        "--member", ":ด.ช. ก้องภพ ใจดี", "--deprived", "bmn22,bmn8", "--deprived", "bmn4", "--team",
        "team-mueang-1");
    CU_ASSERT_EQUAL_FATAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "opened C"));
    CU_ASSERT_TRUE(contains(r.out, "for house 65010000001 (state identified, seq "));
    char cid[LB_CASE_ID_MAX];
    first_case_id(r.out, cid);
    CU_ASSERT_FATAL(cid[0] != '\0');
    run_free(&r);

    /* --member without a colon is a national id only: not valid here */
    cli(&r, "open", "65010000002", "65010101", "--member", "1234");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    CU_ASSERT_TRUE(contains(r.err, "household.members.0.nid"));
    run_free(&r);

    cli(&r, "show", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "สมชาย ใจดี"));
    CU_ASSERT_TRUE(contains(r.out, "สมหญิง ใจดี"));
    CU_ASSERT_TRUE(contains(r.out, nid));
    CU_ASSERT_TRUE(contains(r.out, "identified"));
    CU_ASSERT_TRUE(contains(r.out, "team-mueang-1"));
    CU_ASSERT_TRUE(contains(r.out, "tpmap-household v1"));
    CU_ASSERT_TRUE(contains(r.out, "needs (3)"));
    CU_ASSERT_TRUE(contains(r.out, "bmn22"));
    CU_ASSERT_TRUE(contains(r.out, "timers (3)"));
    run_free(&r);

    cli(&r, "--json", "show", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    char key[64];
    snprintf(key, sizeof key, "\"case_id\": \"%s\"", cid);
    CU_ASSERT_TRUE(contains(r.out, key));
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"สมชาย ใจดี\""));
    CU_ASSERT_TRUE(contains(r.out, "\"name\": \"สมหญิง ใจดี\""));
    CU_ASSERT_TRUE(contains(r.out, "\"name\": \"ด.ช. ก้องภพ ใจดี\""));
    CU_ASSERT_TRUE(contains(r.out, "\"state\": \"identified\""));
    CU_ASSERT_TRUE(contains(r.out, "\"indicator\": \"bmn8\""));
    CU_ASSERT_TRUE(contains(r.out, "\"overdue\": false"));
    CU_ASSERT_TRUE(contains(r.out, "\"workflow_version\": 1"));
    run_free(&r);
}

/* "--member :NAME" is a member with a name and no national id. */
static void test_open_member_name_only(void)
{
    run_t r;
    cli(&r, "open", "65010000003", "65010101", "--member", ":มานี มีนา");
    CU_ASSERT_EQUAL(r.code, 0);
    char cid[LB_CASE_ID_MAX];
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"name\": \"มานี มีนา\""));
    CU_ASSERT_FALSE(contains(r.out, "\"nid\""));
    run_free(&r);
}

static void test_act_dotted_keys_and_numbers(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65010000010", "65010102");
    run_t r;
    /* a scalar data map: the team sets the case's team, a number stays a number */
    cli(&r, "act", cid, "schedule_visit", "team=team-wangthong-2", "priority=3");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "schedule_visit -> state visit_scheduled"));
    run_free(&r);
    /* dotted keys nest; a comma makes a list ("bmn4," is a one-item list) */
    cli(&r, "act", cid, "record_visit", "findings.income=bmn22,bmn20", "findings.health=bmn4,",
        "note=พบครัวเรือนที่บ้าน", "--expect", "visit_scheduled");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_visit -> state visited"));
    run_free(&r);
    cli(&r, "act", cid, "plan_assistance");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli(&r, "act", cid, "record_assistance", "agency=อบต.วังทอง", "dimension=income",
        "kind=training", "amount_thb=1500", "meets=bmn20,");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    /* "..." keeps digits as text */
    cli(&r, "act", cid, "add_note", "note=\"0065\"");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);

    cli(&r, "--json", "show", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"team\": \"team-wangthong-2\""));
    CU_ASSERT_TRUE(contains(r.out, "\"income\": [\n"));
    CU_ASSERT_TRUE(contains(r.out, "\"health\": [\n"));
    CU_ASSERT_TRUE(contains(r.out, "\"bmn20\""));
    CU_ASSERT_TRUE(contains(r.out, "\"amount_thb\": 1500"));
    CU_ASSERT_TRUE(contains(r.out, "\"note\": \"0065\""));
    CU_ASSERT_TRUE(contains(r.out, "\"note\": \"พบครัวเรือนที่บ้าน\""));
    run_free(&r);
    /* the number went over the wire as an int: the history shows it bare */
    cli(&r, "history", cid);
    CU_ASSERT_TRUE(contains(r.out, "{\"priority\": 3, \"team\": \"team-wangthong-2\"}") ||
                   contains(r.out, "{\"team\": \"team-wangthong-2\", \"priority\": 3}"));
    run_free(&r);

    /* --expect guards a stale view: conflict, exit 1 */
    cli(&r, "act", cid, "add_note", "note=x", "--expect", "identified");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: conflict"));
    run_free(&r);
    /* a bad KEY=VALUE is a usage error */
    cli(&r, "act", cid, "add_note", "no-equals-sign");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "act", cid, "add_note", "note=x", "--at", "yesterday");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "--at"));
    run_free(&r);
}

static void test_shortcuts_to_resolved(void)
{
    char cid[LB_CASE_ID_MAX], cid2[LB_CASE_ID_MAX];
    cli_open(cid, "65010000020", "65010103");
    run_t r;
    cli(&r, "schedule", cid, "team-mueang-3");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "schedule_visit -> state visit_scheduled"));
    run_free(&r);

    /* a visit a day ago (teams sync late): --at keeps the record's time */
    int64_t at = daemon_now() - 86400LL * 1000;
    char at_s[32], at_key[48];
    snprintf(at_s, sizeof at_s, "%lld", (long long)at);
    snprintf(at_key, sizeof at_key, "\"at\": %lld", (long long)at);
    cli(&r, "visit", cid, "income=bmn22,bmn20", "health=bmn4", "--note", "บ้านชำรุด", "--at", at_s);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_visit -> state visited"));
    run_free(&r);
    /* the shipped workflow's plan_assistance has no shortcut */
    cli(&r, "act", cid, "plan_assistance");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "state assisting"));
    run_free(&r);
    cli(&r, "assist", cid, "--agency", "พมจ.พิษณุโลก", "--dimension", "income", "--kind", "cash",
        "--amount", "3000", "--meets", "bmn22", "--note", "เงินสงเคราะห์");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_assistance -> state assisting"));
    run_free(&r);
    /* assist without its required options is a usage error */
    cli(&r, "assist", cid, "--agency", "x");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "act", cid, "start_follow_up");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    /* resolving needs a follow-up at sufficient or better first */
    cli(&r, "resolve", cid, "sufficient");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "guard_failed"));
    run_free(&r);
    cli(&r, "followup", cid, "sufficient", "--met", "bmn20,bmn4", "--note", "มีรายได้เสริม");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_follow_up -> state follow_up, level sufficient"));
    run_free(&r);
    cli(&r, "resolve", cid, "sufficient", "--note", "พ้นเกณฑ์");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "resolve -> state resolved"));
    run_free(&r);

    cli(&r, "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "resolved since"));
    CU_ASSERT_TRUE(contains(r.out, "visits (1)"));
    CU_ASSERT_TRUE(contains(r.out, "income: bmn22, bmn20; health: bmn4"));
    CU_ASSERT_TRUE(contains(r.out, "assistance (1)"));
    CU_ASSERT_TRUE(contains(r.out, "พมจ.พิษณุโลก"));
    CU_ASSERT_TRUE(contains(r.out, "follow-ups (1)"));
    CU_ASSERT_TRUE(contains(r.out, "level        sufficient"));
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, at_key));
    CU_ASSERT_TRUE(contains(r.out, "\"status\": \"met\""));
    run_free(&r);
    /* a terminal case takes no more actions */
    cli(&r, "schedule", cid, "team-x");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "invalid_transition"));
    run_free(&r);

    /* close: a reason outside the list is refused, a good one closes */
    cli_open(cid2, "65010000021", "65010103");
    cli(&r, "close", cid2, "bored");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "guard_failed"));
    CU_ASSERT_TRUE(contains(r.err, "reason"));
    run_free(&r);
    cli(&r, "close", cid2, "moved", "--note", "ย้ายไปกรุงเทพฯ");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "close -> state closed"));
    run_free(&r);
}

static void test_clock_and_ack(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65060000001", "65060101");
    run_t r;
    /* nothing fired yet */
    cli(&r, "ack", cid);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: not_found"));
    run_free(&r);

    int64_t before = daemon_now();
    cli(&r, "admin", "clock", "8d");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "daemon clock now "));
    char ms[48];
    snprintf(ms, sizeof ms, "(%lld ms)", (long long)(before + 8LL * 86400 * 1000));
    CU_ASSERT_TRUE(contains(r.out, ms));
    run_free(&r);
    CU_ASSERT_EQUAL(daemon_now(), before + 8LL * 86400 * 1000);
    /* other units and --json */
    cli(&r, "--json", "admin", "clock", "90");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    snprintf(ms, sizeof ms, "\"now\": %lld", (long long)(before + 8LL * 86400 * 1000 + 90000));
    CU_ASSERT_TRUE(contains(r.out, ms));
    run_free(&r);
    cli(&r, "admin", "clock", "0s");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    const char *bad[] = {"8w", "-1", "d", "1.5h", "3650d1", "3651d", NULL};
    for (int i = 0; bad[i]; i++) {
        cli(&r, "admin", "clock", bad[i]);
        CU_ASSERT_EQUAL(r.code, 2);
        run_free(&r);
    }
    CU_ASSERT_EQUAL(daemon_now(), before + 8LL * 86400 * 1000 + 90000);

    cli(&r, "list", "--area", "6506", "--overdue");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, cid));
    CU_ASSERT_TRUE(contains(r.out, "overdue"));
    run_free(&r);
    cli(&r, "ack", cid, "--note", "ศจพ.อ. รับทราบแล้ว");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "acknowledged escalation step 0 (level team)"));
    run_free(&r);
    cli(&r, "ack", cid);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: conflict"));
    run_free(&r);
    cli(&r, "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "escalations (1)"));
    CU_ASSERT_TRUE(contains(r.out, "admin")); /* acked by */
    run_free(&r);
}

static void test_history(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65010000030", "65010104");
    run_t r;
    cli(&r, "schedule", cid, "team-4");
    run_free(&r);
    cli(&r, "act", cid, "add_note", "note=โทรนัดแล้ว");
    run_free(&r);
    int64_t last = daemon_last_seq();

    cli(&r, "history", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "SEQ"));
    CU_ASSERT_TRUE(contains(r.out, "opened"));
    CU_ASSERT_TRUE(contains(r.out, "identified -> visit_scheduled"));
    CU_ASSERT_TRUE(contains(r.out, "โทรนัดแล้ว"));
    CU_ASSERT_EQUAL(count_lines(r.out), 4); /* header + 3 events */
    run_free(&r);
    char after[32];
    snprintf(after, sizeof after, "%lld", (long long)(last - 1));
    cli(&r, "history", cid, "--after", after);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 2); /* header + the note */
    CU_ASSERT_FALSE(contains(r.out, "opened"));
    run_free(&r);
    cli(&r, "--json", "history", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"events\": ["));
    CU_ASSERT_TRUE(contains(r.out, "\"type\": \"opened\""));
    CU_ASSERT_FALSE(contains(r.out, "\"chain\""));
    run_free(&r);
    cli(&r, "history", "C999999999");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "not_found"));
    run_free(&r);
}

static void test_find(void)
{
    char nid[14], member[64], cid[LB_CASE_ID_MAX];
    testd_nid(420100200300ULL, nid);
    snprintf(member, sizeof member, "%s:วันดี มีสุข", nid);
    run_t r;
    cli(&r, "open", "65010000040", "65010105", "--member", member);
    CU_ASSERT_EQUAL_FATAL(r.code, 0);
    first_case_id(r.out, cid);
    run_free(&r);
    char line[LB_CASE_ID_MAX + 2];
    snprintf(line, sizeof line, "%s\n", cid);

    cli(&r, "find", "--house", "65010000040");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, line);
    run_free(&r);
    cli(&r, "find", "--nid", nid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, line);
    run_free(&r);
    cli(&r, "--json", "find", "--nid", nid);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, cid));
    run_free(&r);
    /* nothing found: exit 0, "no cases" on stderr */
    cli(&r, "find", "--house", "65019999999");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_TRUE(contains(r.err, "no cases"));
    run_free(&r);
    /* exactly one of the two */
    cli(&r, "find");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "find", "--house", "65010000040", "--nid", nid);
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* a national id with a wrong check digit is refused by the daemon */
    char badnid[14];
    snprintf(badnid, sizeof badnid, "%s", nid);
    badnid[12] = badnid[12] == '9' ? '0' : (char)(badnid[12] + 1);
    cli(&r, "find", "--nid", badnid);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    run_free(&r);
}

static void test_list_filters(void)
{
    char a[LB_CASE_ID_MAX], b[LB_CASE_ID_MAX], c[LB_CASE_ID_MAX];
    cli_open(a, "65050000001", "65050101");
    run_t r;
    cli(&r, "admin", "clock", "8d");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli_open(b, "65050000002", "65050102");
    cli_open(c, "65050000003", "65050201");
    cli(&r, "schedule", b, "team-b");
    run_free(&r);

    cli(&r, "list", "--area", "6505");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "CASE"));
    CU_ASSERT_TRUE(contains(r.out, a) && contains(r.out, b) && contains(r.out, c));
    CU_ASSERT_EQUAL(count_lines(r.out), 4);
    run_free(&r);
    cli(&r, "list", "--area", "6505", "--overdue");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, a));
    CU_ASSERT_FALSE(contains(r.out, b) || contains(r.out, c));
    run_free(&r);
    cli(&r, "list", "--area", "6505", "--state", "visit_scheduled");
    CU_ASSERT_TRUE(contains(r.out, b));
    CU_ASSERT_TRUE(contains(r.out, "team-b"));
    CU_ASSERT_EQUAL(count_lines(r.out), 2);
    run_free(&r);
    cli(&r, "list", "--area", "650502");
    CU_ASSERT_TRUE(contains(r.out, c));
    CU_ASSERT_EQUAL(count_lines(r.out), 2);
    run_free(&r);
    cli(&r, "list", "--area", "6505", "--team", "team-b", "--json");
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, b));
    CU_ASSERT_FALSE(contains(r.out, a));
    run_free(&r);
    /* --limit: fewer rows, and a note that more remain */
    cli(&r, "list", "--area", "6505", "--limit", "2");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 3);
    CU_ASSERT_TRUE(contains(r.err, "more cases"));
    run_free(&r);
    /* nothing: exit 0, "no cases" on stderr */
    cli(&r, "list", "--area", "6599");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.err, "no cases"));
    run_free(&r);
    /* a malformed area is the daemon's bad_request */
    cli(&r, "list", "--area", "650");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    run_free(&r);
    cli(&r, "list", "--limit", "0");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* More cases than one case.list page (1,000): the CLI follows the cursor. */
static void test_list_follows_cursor(void)
{
    enum { N = 1105 };
    lb_val_t *args = lb_map(), *hs = lb_arr();
    for (unsigned long i = 0; i < N; i++)
        lb_arr_push(hs, testd_household(65080000000UL + i, i % 2 ? "65080101" : "65080202"));
    lb_map_set(args, "households", hs);
    lb_val_t *rep = testd_call(&D, "case.import", args);
    int64_t opened = 0;
    lb_map_int(lbc_reply_result(rep), "opened", &opened);
    CU_ASSERT_EQUAL_FATAL(opened, N);
    lb_val_free(&rep);
    lb_val_free(&args);

    run_t r;
    cli(&r, "list", "--area", "6508", "--limit", "5000");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), N + 1);
    CU_ASSERT_FALSE(contains(r.err, "more cases"));
    /* every case exactly once across the pages */
    char(*ids)[LB_CASE_ID_MAX] = calloc(N + 1, LB_CASE_ID_MAX);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    size_t rows = 0, distinct = 0;
    for (const char *p = strchr(r.out, '\n'); p && p[1] && rows <= N; p = strchr(p + 1, '\n'))
        first_case_id(p + 1, ids[rows++]);
    qsort(ids, rows, LB_CASE_ID_MAX, cmp_id);
    for (size_t i = 0; i < rows; i++)
        distinct += ids[i][0] && (i == 0 || strcmp(ids[i], ids[i - 1]) != 0);
    CU_ASSERT_EQUAL(rows, N);
    CU_ASSERT_EQUAL(distinct, N);
    free(ids);
    run_free(&r);
    cli(&r, "list", "--area", "6508", "--limit", "1050");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 1050 + 1);
    CU_ASSERT_TRUE(contains(r.err, "more cases"));
    run_free(&r);
    cli(&r, "--json", "list", "--area", "650801", "--limit", "5000");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_FALSE(contains(r.out, "\"next\""));
    CU_ASSERT_FALSE(contains(r.out, "65080202"));
    run_free(&r);
}

/*
 * tests/data/csv/households.csv: a UTF-8 BOM, CRLF line ends, Thai text,
 * quoted fields with a comma, "" escapes and a line break, a blank line and
 * no newline at the end. Lines:
 *   1 header                       2 opened (nid, deprived bmn22;bmn8)
 *   3 opened ("" in the head)      4 error: 7-digit area
 *   5-6 opened (head over 2 lines) 7 blank
 *   8 error: 2 fields of 5         9 error: national id check digit
 *  10 error: indicator bmn99      11 skipped: the house of line 2 again
 *  12 error: a quote inside an unquoted field
 *  13 opened (last line, no newline)
 */
static void test_import_csv(void)
{
    char csv[512];
    if (!getcwd(csv, sizeof csv - 40)) {
        CU_FAIL("getcwd");
        return;
    }
    strcat(csv, "/tests/data/csv/households.csv");
    run_t r;
    /* small batches: line numbers must survive the batching */
    cli(&r, "import", csv, "--batch", "3");
    CU_ASSERT_EQUAL(r.code, 1); /* rows were refused */
    CU_ASSERT_TRUE(contains(r.out, "opened 4, skipped 1 (already open), errors 5\n"));
    CU_ASSERT_TRUE(contains(r.out, "line 4: bad_request: "));
    CU_ASSERT_TRUE(contains(r.out, "line 8: bad_request: expected 5 fields, found 2"));
    CU_ASSERT_TRUE(contains(r.out, "line 9: bad_request: "));
    CU_ASSERT_TRUE(contains(r.out, "line 10: bad_request: "));
    CU_ASSERT_TRUE(contains(r.out, "bmn99"));
    CU_ASSERT_TRUE(contains(r.out, "line 12: bad_request: "));
    CU_ASSERT_EQUAL(count_lines(r.out), 6);
    run_free(&r);

    /* again: everything valid is already open */
    cli(&r, "--json", "import", csv);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"opened\": 0"));
    CU_ASSERT_TRUE(contains(r.out, "\"skipped\": 5"));
    const char *lines[] = {"\"line\": 4,", "\"line\": 8,", "\"line\": 9,", "\"line\": 10,",
                           "\"line\": 12,"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        CU_ASSERT_TRUE(contains(r.out, lines[i]));
    run_free(&r);

    /* what was opened, as written in the file */
    char cid[LB_CASE_ID_MAX];
    cli(&r, "find", "--house", "65070000001");
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"สมศรี, มีสุข\""));
    CU_ASSERT_TRUE(contains(r.out, "\"nid\": \"1101700203450\""));
    CU_ASSERT_TRUE(contains(r.out, "\"indicator\": \"bmn8\""));
    run_free(&r);
    cli(&r, "find", "--house", "65070000002");
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"นาย \\\"ดำ\\\" ดี\""));
    run_free(&r);
    cli(&r, "find", "--house", "65070000004");
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"บุญมี\\nศรีสุข\""));
    run_free(&r);
    cli(&r, "find", "--house", "65070000009");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(count_lines(r.out), 1);
    run_free(&r);
    cli(&r, "find", "--house", "65070000003");
    CU_ASSERT_TRUE(contains(r.err, "no cases"));
    run_free(&r);

    /* a missing file and a header without house_id are usage errors */
    cli(&r, "import", "/nonexistent/x.csv");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad-header.csv", D.dir);
    FILE *f = fopen(bad, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("area,head\n65070101,x\n", f);
    fclose(f);
    cli(&r, "import", bad);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "house_id"));
    run_free(&r);
}

/* A background logbook: its pid until it is reaped, then its exit code. */
typedef struct {
    pid_t pid; /* -1 once reaped */
    int code;
} bg_t;

/*
 * Polls path until it contains needle, the process exits (it is reaped then)
 * or WAIT_MS pass; returns the file's text (caller frees).
 */
static char *wait_for_text(const char *path, const char *needle, bg_t *bg)
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
static bg_t start_watch(const char *out, const char *err, const char *const *watch_args)
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
static int stop_watch(bg_t *bg)
{
    if (bg->pid > 0) {
        kill(bg->pid, SIGTERM);
        bg->code = wait_exit(bg->pid);
        bg->pid = -1;
    }
    return bg->code;
}

static void test_watch(void)
{
    char out[400], err[400];
    snprintf(out, sizeof out, "%s/watch.out", D.dir);
    snprintf(err, sizeof err, "%s/watch.err", D.dir);
    /* only note events */
    const char *wargs[] = {"note.", NULL};
    bg_t bg = start_watch(out, err, wargs);
    CU_ASSERT_FATAL(bg.pid > 0);
    char *s = wait_for_text(err, "watching ", &bg);
    CU_ASSERT_TRUE(contains(s, "watching "));
    free(s);

    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65010000050", "65010106");
    run_t r;
    cli(&r, "act", cid, "add_note", "note=ตรวจเยี่ยม");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    s = wait_for_text(out, "note.65010106", &bg);
    CU_ASSERT_TRUE(contains(s, "note.65010106"));
    CU_ASSERT_TRUE(contains(s, cid));
    CU_ASSERT_TRUE(contains(s, "add_note"));
    CU_ASSERT_TRUE(contains(s, "by admin"));
    /* the case.open before it does not match the prefix */
    CU_ASSERT_FALSE(contains(s, "case.65010106"));
    CU_ASSERT_EQUAL(count_lines(s), 1);
    free(s);
    CU_ASSERT_EQUAL(stop_watch(&bg), 0);
    s = slurp(err);
    CU_ASSERT_TRUE(contains(s, "stopped at seq "));
    free(s);

    /* --after replays, --json prints one event per line */
    int64_t last = daemon_last_seq();
    char after[32], want[48];
    snprintf(after, sizeof after, "%lld", (long long)(last - 2));
    snprintf(want, sizeof want, "\"seq\": %lld,", (long long)last);
    const char *jargs[] = {"--after", after, "--json", NULL};
    bg = start_watch(out, err, jargs);
    CU_ASSERT_FATAL(bg.pid > 0);
    s = wait_for_text(out, want, &bg);
    CU_ASSERT_TRUE(contains(s, want));
    CU_ASSERT_EQUAL(count_lines(s), 2);
    CU_ASSERT_TRUE(json_lines_ok(s));
    CU_ASSERT_TRUE(contains(s, "\"chain\": \""));
    free(s);
    CU_ASSERT_EQUAL(stop_watch(&bg), 0);
}

static void test_keygen(void)
{
    char dir[400], pub[450], sec[450];
    snprintf(dir, sizeof dir, "%s/mykeys", D.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    snprintf(pub, sizeof pub, "%s/team-nakhonthai.key", dir);
    snprintf(sec, sizeof sec, "%s/team-nakhonthai.key_secret", dir);
    run_t r;
    cli_bare(&r, "keygen", "team-nakhonthai", "--dir", dir);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "public key: "));
    CU_ASSERT_TRUE(contains(r.out, "name: team-nakhonthai"));
    run_free(&r);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(sec, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(stat(pub, &st), 0);
    /* the pair loads as a certificate */
    lb_cert_t *c = NULL;
    char cerr[256];
    CU_ASSERT_EQUAL(lb_cert_load(sec, &c, cerr, sizeof cerr), 0);
    CU_ASSERT_TRUE(c && c->has_secret);
    char *before = slurp(sec);

    /* never overwritten without --force */
    cli_bare(&r, "keygen", "team-nakhonthai", "--dir", dir);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "already exists"));
    run_free(&r);
    char *after = slurp(sec);
    CU_ASSERT_TRUE(before && after && strcmp(before, after) == 0);
    free(after);
    /* relative to the working folder without --dir */
    const char *args[] = {"keygen", "team-wangthong", NULL};
    run_argv(&r, args, NULL, dir);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    snprintf(sec, sizeof sec, "%s/team-wangthong.key_secret", dir);
    CU_ASSERT_EQUAL(stat(sec, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    /* --json tells the public key */
    cli_bare(&r, "--json", "keygen", "team-x", "--dir", dir);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"public_key\": \""));
    run_free(&r);
    cli_bare(&r, "keygen", "a/b");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* --force replaces */
    cli_bare(&r, "keygen", "team-nakhonthai", "--dir", dir, "--force");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    snprintf(sec, sizeof sec, "%s/team-nakhonthai.key_secret", dir);
    after = slurp(sec);
    CU_ASSERT_TRUE(before && after && strcmp(before, after) != 0);
    free(after);
    free(before);
    lb_cert_destroy(&c);
}

static void test_keygen_key_is_admitted_after_reload(void)
{
    char dir[400], sec[450], pubfile[450];
    snprintf(dir, sizeof dir, "%s/regkeys", D.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    run_t r;
    cli_bare(&r, "--json", "keygen", "reporter1", "--dir", dir);
    CU_ASSERT_EQUAL_FATAL(r.code, 0);
    const char *k = strstr(r.out, "\"public_key\": \"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    char z85[41];
    snprintf(z85, sizeof z85, "%s", k + strlen("\"public_key\": \""));
    run_free(&r);
    snprintf(sec, sizeof sec, "%s/reporter1.key_secret", dir);
    snprintf(pubfile, sizeof pubfile, "%s/clients.yaml", D.dir);
    FILE *f = fopen(pubfile, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    /* Z85 has no quote characters, so single quotes hold any key */
    fprintf(f,
            "clients:\n  - { name: reporter1, public_key: '%s', role: reporter, areas: ['65'] }\n",
            z85);
    fclose(f);
    cli(&r, "admin", "reload");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "reloaded"));
    run_free(&r);
    /* the new key reads but may not write */
    const char *args[] = {"-e", D.req_ep, "-k", sec, "-s", server_key, "ping", NULL};
    run_argv(&r, args, NULL, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    const char *args2[] = {"-e",       D.req_ep, "-k",          sec,        "-s",
                           server_key, "open",   "65010000060", "65010101", NULL};
    run_argv(&r, args2, NULL, NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: forbidden"));
    run_free(&r);
    const char *args3[] = {"-e", D.req_ep, "-k", sec, "-s", server_key, "admin", "stats", NULL};
    run_argv(&r, args3, NULL, NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "forbidden"));
    run_free(&r);
    /* back to the empty registry */
    f = fopen(pubfile, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("clients: []\n", f);
    fclose(f);
    cli(&r, "admin", "reload");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
}

static void test_verify(void)
{
    run_t r;
    cli(&r, "verify");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "audit chain ok: "));
    run_free(&r);
    cli(&r, "--json", "verify");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"ok\": true"));
    run_free(&r);
}

static void test_admin(void)
{
    run_t r;
    cli(&r, "admin", "stats");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "cases "));
    CU_ASSERT_TRUE(contains(r.out, "events "));
    CU_ASSERT_TRUE(contains(r.out, "manual_clock"));
    run_free(&r);
    cli(&r, "--json", "admin", "stats");
    CU_ASSERT_TRUE(json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"manual_clock\": true"));
    run_free(&r);

    /* a relative backup path is relative to the caller's folder */
    const char *args[] = {"-e",       D.req_ep, "-k",     admin_key,  "-s",
                          server_key, "admin",  "backup", "backup-1", NULL};
    run_argv(&r, args, NULL, D.dir);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "backup written to "));
    CU_ASSERT_TRUE(contains(r.out, "/backup-1 ("));
    run_free(&r);
    char path[450];
    struct stat st;
    snprintf(path, sizeof path, "%s/backup-1/data.mdb", D.dir);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_TRUE(st.st_size > 0);
    /* a folder that holds a store already: conflict */
    run_argv(&r, args, NULL, D.dir);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: conflict"));
    run_free(&r);

    cli(&r, "admin", "reload");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "reloaded workflows and clients registry"));
    run_free(&r);
    cli(&r, "admin", "bogus");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "admin", "backup");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);

    cli(&r, "workflows");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "tpmap-household"));
    CU_ASSERT_TRUE(contains(r.out, "socialmap-referral"));
    run_free(&r);
}

static void test_refused_exits_1(void)
{
    run_t r;
    cli(&r, "show", "C999999999");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: not_found: "));
    CU_ASSERT_TRUE(contains(r.err, "(field: case_id)"));
    CU_ASSERT_STRING_EQUAL(r.out, "");
    run_free(&r);
    cli(&r, "show", "C42");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: bad_request: "));
    run_free(&r);
    /* the same household twice: conflict naming the open case */
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65010000070", "65010107");
    cli(&r, "open", "65010000070", "65010107");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: conflict: "));
    CU_ASSERT_TRUE(contains(r.err, cid));
    run_free(&r);
    cli(&r, "open", "65010000071", "65010107", "--deprived", "bmn99");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    run_free(&r);
    cli(&r, "act", cid, "resolve", "level=sufficient");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: invalid_transition: "));
    run_free(&r);
}

static void test_unreachable_exits_3(void)
{
    /* a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                    getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    run_t r;
    cli_bare(&r, "-e", ep, "-k", admin_key, "-s", server_key, "--timeout", "200", "--retries", "0",
             "ping");
    CU_ASSERT_EQUAL(r.code, 3);
    CU_ASSERT_TRUE(contains(r.err, "cannot reach the daemon"));
    run_free(&r);
    cli_bare(&r, "-e", ep, "-k", admin_key, "-s", server_key, "--timeout", "200", "--retries", "1",
             "show", "C000000001");
    CU_ASSERT_EQUAL(r.code, 3);
    run_free(&r);
    /* without CURVE the daemon never answers either */
    cli_bare(&r, "-e", D.req_ep, "--no-curve", "--timeout", "200", "--retries", "0", "ping");
    CU_ASSERT_EQUAL(r.code, 3);
    run_free(&r);
    /* a missing certificate file: cannot connect, with a hint */
    cli_bare(&r, "-e", D.req_ep, "-k", "/nonexistent.key_secret", "-s", server_key, "ping");
    CU_ASSERT_EQUAL(r.code, 3);
    CU_ASSERT_TRUE(contains(r.err, "hint: "));
    run_free(&r);
}

static void test_usage_exits_2(void)
{
    run_t r;
    cli_bare(&r, NULL);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "usage: logbook"));
    run_free(&r);
    cli_bare(&r, "frobnicate");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "unknown command 'frobnicate'"));
    run_free(&r);
    cli_bare(&r, "--frob", "ping");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "open", "65010000001");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "usage: logbook open"));
    run_free(&r);
    cli(&r, "show", "C000000001", "--colour", "red");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "unknown option --colour"));
    run_free(&r);
    cli(&r, "ack", "C000000001", "--note");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "visit", "C000000001", "income");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "history", "C000000001", "--after", "x");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "import");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "-e");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* help is not an error */
    cli_bare(&r, "--help");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "commands:"));
    CU_ASSERT_TRUE(contains(r.out, "admin clock ADVANCE"));
    run_free(&r);
    cli_bare(&r, "list", "--help");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "usage: logbook [GLOBAL OPTIONS] list"));
    run_free(&r);
    cli_bare(&r, "help", "import");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "house_id,area,head,nid,deprived"));
    run_free(&r);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cli", suite_init, suite_clean);
    CU_add_test(s, "the test's JSON checker", test_json_checker);
    CU_add_test(s, "ping, and --json", test_ping);
    CU_add_test(s, "LOGBOOK_ENDPOINT, LOGBOOK_CERT, LOGBOOK_SERVER_CERT", test_environment);
    CU_add_test(s, "open with Thai names, members, deprived; show and --json", test_open_show);
    CU_add_test(s, "open --member :NAME", test_open_member_name_only);
    CU_add_test(s, "act with dotted keys, lists, numbers, quoted text",
                test_act_dotted_keys_and_numbers);
    CU_add_test(s, "shortcuts through the shipped workflow to resolved; close",
                test_shortcuts_to_resolved);
    CU_add_test(s, "admin clock, then ack", test_clock_and_ack);
    CU_add_test(s, "history", test_history);
    CU_add_test(s, "find --house and --nid", test_find);
    CU_add_test(s, "list --area --state --team --overdue --limit", test_list_filters);
    CU_add_test(s, "import a CSV: BOM, CRLF, quotes, Thai, bad rows with their lines",
                test_import_csv);
    CU_add_test(s, "watch prints events; --after --json replays", test_watch);
    CU_add_test(s, "keygen: 0600, no overwrite without --force", test_keygen);
    CU_add_test(s, "a keygen key is admitted after admin reload",
                test_keygen_key_is_admitted_after_reload);
    CU_add_test(s, "verify", test_verify);
    CU_add_test(s, "admin stats, backup, reload; workflows", test_admin);
    CU_add_test(s, "a refused request exits 1 with the error code", test_refused_exits_1);
    CU_add_test(s, "an unreachable daemon exits 3", test_unreachable_exits_3);
    CU_add_test(s, "usage errors exit 2; help exits 0", test_usage_exits_2);
    CU_add_test(s, "list follows the cursor past one page", test_list_follows_cursor);
    return testd_run_all();
}
