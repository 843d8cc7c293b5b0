/*
 * users.c - `logbook user` (add, passwd, disable, enable, list) on a users
 * file: what it writes is read back with proto/users.h, passwords checked
 * against their argon2id hashes. Runs without a terminal (setsid), so the
 * prompt path must say to use --password-stdin.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../proto/users.h"
#include "cli_test.h"

static unsigned n_runs;

/*
 * Runs logbook ARGS... (NULL-ended) in cwd (NULL: ours) with input on stdin,
 * no controlling terminal and no LOGBOOK_* variables.
 */
static void run_in(run_t *r, const char *input, const char *cwd, ...)
{
    const char *argv[ARGV_MAX + 2];
    size_t n = 0;
    argv[n++] = logbook_path;
    va_list ap;
    va_start(ap, cwd);
    for (const char *s; n < ARGV_MAX && (s = va_arg(ap, const char *));)
        argv[n++] = s;
    va_end(ap);
    argv[n] = NULL;
    char in[512], out[512], err[512];
    unsigned k = ++n_runs;
    snprintf(in, sizeof in, "%s/user-in-%u", D.dir, k);
    snprintf(out, sizeof out, "%s/user-out-%u", D.dir, k);
    snprintf(err, sizeof err, "%s/user-err-%u", D.dir, k);
    FILE *f = fopen(in, "w");
    if (f) {
        fputs(input ? input : "", f);
        fclose(f);
    }
    static char *const env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
    pid_t pid = fork();
    if (pid == 0) {
        setsid(); /* no /dev/tty: the prompt cannot be used */
        int i = open(in, O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644),
            e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (i < 0 || o < 0 || e < 0 || (cwd && chdir(cwd) != 0))
            _exit(126);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        execve(logbook_path, (char *const *)argv, env);
        _exit(127);
    }
    r->code = pid > 0 ? wait_exit(pid) : -1;
    r->out = slurp(out);
    r->err = slurp(err);
}

#define user(r, input, ...) run_in(r, input, NULL, __VA_ARGS__, (const char *)NULL)

static char upath[512];

static lb_users_t load_users(void)
{
    lb_users_t u = {0};
    char err[256];
    CU_ASSERT_EQUAL(lb_users_load(upath, &u, err, sizeof err), 0);
    return u;
}

void test_user_add(void)
{
    snprintf(upath, sizeof upath, "%s/users.tsv", D.dir);
    run_t r;
    user(&r, "first secret\n", "user", "add", "somchai", "--role", "field", "--areas",
         "65010101,6502", "--users", upath, "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(contains(r.out, "added somchai (field, areas 65010101,6502)"));
    CU_ASSERT(contains(r.err, "(--users)"));
    run_free(&r);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(upath, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    user(&r, "x\n", "user", "add", "anong", "--role", "committee", "--areas", "*", "--users", upath,
         "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    lb_users_t u = load_users();
    CU_ASSERT_EQUAL(u.n, 2);
    const lb_user_t *s = lb_users_find(&u, "somchai");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->role, LB_ROLE_FIELD);
    CU_ASSERT_FALSE(s->disabled);
    CU_ASSERT_EQUAL_FATAL(s->n_areas, 2);
    CU_ASSERT_STRING_EQUAL(s->areas[1], "6502");
    CU_ASSERT(lb_user_check_password(s, "first secret"));
    CU_ASSERT_FALSE(lb_user_check_password(s, "first secret\n"));
    CU_ASSERT_STRING_EQUAL(lb_users_find(&u, "anong")->areas[0], "");
    lb_users_clear(&u);
}

void test_user_refusals(void)
{
    run_t r;
    /* an existing name, a gateway (a key's role), a bad area, a bad name, no password */
    user(&r, "pw\n", "user", "add", "somchai", "--role", "field", "--areas", "65", "--users", upath,
         "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT(contains(r.err, "exists already"));
    run_free(&r);
    user(&r, "pw\n", "user", "add", "gw", "--role", "gateway", "--areas", "65", "--users", upath,
         "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    user(&r, "pw\n", "user", "add", "bad", "--role", "field", "--areas", "650", "--users", upath,
         "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT(contains(r.err, "area"));
    run_free(&r);
    user(&r, "pw\n", "user", "add", "Somchai", "--role", "field", "--areas", "65", "--users", upath,
         "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    user(&r, "", "user", "add", "nopw", "--role", "field", "--areas", "65", "--users", upath,
         "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* without --password-stdin it needs a terminal, and says so */
    user(&r, "pw\npw\n", "user", "add", "notty", "--role", "field", "--areas", "65", "--users",
         upath);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT(contains(r.err, "--password-stdin"));
    run_free(&r);
    user(&r, "", "user", "disable", "nobody", "--users", upath);
    CU_ASSERT_EQUAL(r.code, 1);
    run_free(&r);
    user(&r, "", "user", "frobnicate", "x", "--users", upath);
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    /* nothing of that reached the file */
    lb_users_t u = load_users();
    CU_ASSERT_EQUAL(u.n, 2);
    lb_users_clear(&u);
}

void test_user_passwd_disable_enable(void)
{
    run_t r;
    user(&r, "second secret\n", "user", "passwd", "somchai", "--users", upath, "--password-stdin");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    lb_users_t u = load_users();
    CU_ASSERT(lb_user_check_password(lb_users_find(&u, "somchai"), "second secret"));
    CU_ASSERT_FALSE(lb_user_check_password(lb_users_find(&u, "somchai"), "first secret"));
    lb_users_clear(&u);
    user(&r, "", "user", "disable", "somchai", "--users", upath);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    u = load_users();
    CU_ASSERT(lb_users_find(&u, "somchai")->disabled);
    CU_ASSERT_FALSE(lb_user_check_password(lb_users_find(&u, "somchai"), "second secret"));
    lb_users_clear(&u);
    user(&r, "", "user", "list", "--users", upath);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(contains(r.out, "somchai  field      65010101,6502  disabled  set"));
    CU_ASSERT(contains(r.out, "anong"));
    run_free(&r);
    user(&r, "", "user", "enable", "somchai", "--users", upath);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    u = load_users();
    CU_ASSERT_FALSE(lb_users_find(&u, "somchai")->disabled);
    lb_users_clear(&u);
    user(&r, "", "--json", "user", "list", "--users", upath);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(tval_json_ok(r.out));
    CU_ASSERT(contains(r.out, "\"state\": \"active\""));
    run_free(&r);
}

void test_user_default_file(void)
{
    /* in a source tree (config/logbookd.yaml here) the file is config/users.tsv */
    char tree[512], cfg[600];
    snprintf(tree, sizeof tree, "%s/tree", D.dir);
    snprintf(cfg, sizeof cfg, "%s/config", tree);
    CU_ASSERT_EQUAL_FATAL(mkdir(tree, 0700) == 0 && mkdir(cfg, 0700) == 0, 1);
    snprintf(cfg, sizeof cfg, "%s/config/logbookd.yaml", tree);
    FILE *f = fopen(cfg, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    run_t r;
    run_in(&r, "pw\n", tree, "user", "add", "mali", "--role", "reporter", "--areas", "65",
           "--password-stdin", (const char *)NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(contains(r.err, "users file: config/users.tsv (beside config/logbookd.yaml)"));
    run_free(&r);
    snprintf(cfg, sizeof cfg, "%s/config/users.tsv", tree);
    CU_ASSERT_EQUAL(access(cfg, F_OK), 0);
}
