/*
 * user.c - `logbook user`: the people who log in to logbook-web, kept in the
 * users file (proto/users.h, PROTOCOL.md 9.15) that logbookd and the gateway
 * watch. Works on the file directly, without the daemon.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../../proto/users.h"
#include "logbook.h"

#ifndef LB_PREFIX
#define LB_PREFIX "/usr/local"
#endif

#define PW_BUF 1100 /* one more than a password may hold (1,024 bytes), with its newline */

/*
 * The users file: --users, else $LOGBOOK_USERS, else config/users.tsv when
 * config/logbookd.yaml is here (a source tree, as `make run` uses), else the
 * installed PREFIX/etc/logbook/users.tsv. *why says which rule chose it.
 */
static const char *users_path(const args_t *a, const char **why)
{
    const char *p = opt(a, "users");
    if (p) {
        *why = "--users";
        return p;
    }
    p = getenv("LOGBOOK_USERS");
    if (p && *p) {
        *why = "$LOGBOOK_USERS";
        return p;
    }
    if (access("config/logbookd.yaml", F_OK) == 0) {
        *why = "beside config/logbookd.yaml";
        return "config/users.tsv";
    }
    *why = "installed default";
    return LB_PREFIX "/etc/logbook/users.tsv";
}

/* Reads one line from f into buf (PW_BUF, sodium-guarded), without its line end. */
static int read_line(FILE *f, char *buf)
{
    if (!fgets(buf, PW_BUF, f))
        return -1;
    size_t n = strlen(buf);
    if (n && buf[n - 1] != '\n' && !feof(f))
        return -2; /* longer than any password may be */
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

/* Prompts on the terminal with echo off. 0, or -1 (no terminal, no input). */
static int prompt(FILE *tty, const char *text, char *buf)
{
    struct termios old, quiet;
    fputs(text, tty);
    fflush(tty);
    bool restore = tcgetattr(fileno(tty), &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    int rc = read_line(tty, buf);
    if (restore)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    return rc;
}

/*
 * The new password into pw (PW_BUF bytes): one line of stdin with
 * --password-stdin, else typed twice on the terminal. EX_OK, or EX_USAGE
 * after saying why.
 */
static int get_password(const args_t *a, const char *name, char *pw)
{
    if (flag(a, "password-stdin")) {
        if (read_line(stdin, pw) != 0 || !pw[0]) {
            fprintf(stderr, "error: no password on stdin (one line, 1 to 1024 bytes)\n");
            return EX_USAGE;
        }
        return EX_OK;
    }
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty) {
        fprintf(stderr, "error: no terminal to ask for the password: use --password-stdin\n");
        return EX_USAGE;
    }
    char text[128];
    char *again = sodium_malloc(PW_BUF);
    int rc = EX_OK;
    snprintf(text, sizeof text, "new password for %s: ", name);
    if (!again || prompt(tty, text, pw) != 0 || prompt(tty, "again: ", again) != 0 || !pw[0]) {
        fprintf(stderr, "error: no password given\n");
        rc = EX_USAGE;
    } else if (strcmp(pw, again) != 0) {
        fprintf(stderr, "error: the two passwords differ\n");
        rc = EX_USAGE;
    }
    if (again)
        sodium_free(again);
    fclose(tty);
    return rc;
}

/* Hashes a new password for name into hash. EX_OK, or an exit code after saying why. */
static int new_hash(const args_t *a, const char *name, char hash[LB_USER_HASH_MAX])
{
    if (sodium_init() < 0)
        return EX_UNREACHABLE;
    char *pw = sodium_malloc(PW_BUF);
    if (!pw)
        return EX_UNREACHABLE;
    pw[0] = '\0';
    int rc = get_password(a, name, pw);
    if (rc == EX_OK) {
        int e = lb_user_hash_password(pw, hash);
        if (e) {
            fprintf(stderr, "error: cannot hash the password: %s\n",
                    e == LB_EBADREQ ? "it must be 1 to 1024 bytes" : lb_strerror(e));
            rc = e == LB_EBADREQ ? EX_USAGE : EX_UNREACHABLE;
        }
    }
    sodium_free(pw); /* wipes it */
    return rc;
}

/* Splits "A,B" (or "*") into areas; the strings stay in buf. Returns the count, 0 when bad. */
static size_t split_areas(char *buf, char **areas, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return 0;
        areas[n++] = strcmp(t, "*") == 0 ? "" : t;
    }
    return n;
}

static int save(const lb_users_t *u, const char *path)
{
    char err[512] = "";
    int e = lb_users_save(u, path, err, sizeof err);
    if (e) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, *err ? err : lb_strerror(e));
        return EX_REFUSED;
    }
    return EX_OK;
}

/* user add NAME --role R --areas A,B */
static int user_add(const args_t *a, lb_users_t *u, const char *path)
{
    const char *name = a->pos[1], *role = opt(a, "role"), *areas = opt(a, "areas");
    if (!role || !areas) {
        usage_error("user", "add needs --role and --areas");
        return EX_USAGE;
    }
    if (strlen(name) >= LB_USER_NAME_MAX || strlen(areas) >= 4096) {
        usage_error("user", "the name must be 1 to 63 of a-z 0-9 . _ -");
        return EX_USAGE;
    }
    lb_user_t x = {0};
    char abuf[4096], *av[1000], err[256] = "";
    snprintf(x.name, sizeof x.name, "%s", name);
    snprintf(abuf, sizeof abuf, "%s", areas);
    x.areas = av;
    x.n_areas = split_areas(abuf, av, sizeof av / sizeof av[0]);
    if (lb_role_parse(role, &x.role) || x.role == LB_ROLE_GATEWAY) {
        usage_error("user", "--role must be field, committee, reporter or admin");
        return EX_USAGE;
    }
    if (lb_users_find(u, name)) {
        fprintf(stderr, "error: user %s exists already in %s\n", name, path);
        return EX_REFUSED;
    }
    /* checked before the password is asked for */
    snprintf(x.hash, sizeof x.hash, "!");
    lb_users_t probe = {0};
    int e = lb_users_put(&probe, &x, false, err, sizeof err);
    lb_users_clear(&probe);
    if (e) {
        usage_error("user", "%s", e == LB_EBADREQ ? err : lb_strerror(e));
        return EX_USAGE;
    }
    int rc = new_hash(a, name, x.hash);
    if (rc)
        return rc;
    if ((e = lb_users_put(u, &x, false, err, sizeof err))) {
        fprintf(stderr, "error: %s\n", *err ? err : lb_strerror(e));
        return EX_REFUSED;
    }
    if ((rc = save(u, path)) == EX_OK)
        printf("added %s (%s, areas %s) to %s\n", name, lb_role_name(x.role), areas, path);
    return rc;
}

/* user passwd|disable|enable NAME: changes one field of an existing user. */
static int user_change(const args_t *a, lb_users_t *u, const char *path)
{
    const char *sub = a->pos[0], *name = a->pos[1];
    const lb_user_t *cur = lb_users_find(u, name);
    if (!cur) {
        fprintf(stderr, "error: no user %s in %s\n", name, path);
        return EX_REFUSED;
    }
    lb_user_t x = *cur;
    int rc = EX_OK;
    if (strcmp(sub, "passwd") == 0)
        rc = new_hash(a, name, x.hash);
    else
        x.disabled = strcmp(sub, "disable") == 0;
    char err[256] = "";
    int e = rc ? 0 : lb_users_put(u, &x, true, err, sizeof err);
    if (e) {
        fprintf(stderr, "error: %s\n", *err ? err : lb_strerror(e));
        return EX_REFUSED;
    }
    const char *what = strcmp(sub, "passwd") == 0 ? "password set"
                       : x.disabled
                           ? "disabled (refused by logbookd and logbook-web within seconds)"
                           : "enabled";
    if (rc == EX_OK && (rc = save(u, path)) == EX_OK)
        printf("%s: %s in %s\n", name, what, path);
    return rc;
}

static char *areas_text(const lb_user_t *x)
{
    lb_buf_t b = {0};
    for (size_t i = 0; i < x->n_areas; i++) {
        const char *s = x->areas[i][0] ? x->areas[i] : "*";
        if ((i && lb_buf_append(&b, ",", 1)) || lb_buf_append(&b, s, strlen(s)))
            break;
    }
    lb_buf_append(&b, "", 1);
    return (char *)b.p;
}

static int user_list(const app_t *app, const lb_users_t *u)
{
    lb_val_t *arr = app->json ? lb_arr() : NULL;
    table_t t;
    static const char *const hdr[] = {"NAME", "ROLE", "AREAS", "STATE", "PASSWORD"};
    table_init(&t, 5, hdr);
    for (size_t i = 0; i < u->n; i++) {
        const lb_user_t *x = &u->v[i];
        char *areas = areas_text(x);
        if (arr) {
            lb_val_t *m = lb_map();
            int rc = 0;
            lb_put_str(m, "name", x->name, &rc);
            lb_put_str(m, "role", lb_role_name(x->role), &rc);
            lb_put_str(m, "areas", areas ? areas : "", &rc);
            lb_put_str(m, "state", x->disabled ? "disabled" : "active", &rc);
            lb_put_str(m, "password", strcmp(x->hash, "!") ? "set" : "none", &rc);
            lb_arr_push(arr, m);
            free(areas);
            continue;
        }
        char *row[5] = {strdup(x->name), strdup(lb_role_name(x->role)), areas,
                        strdup(x->disabled ? "disabled" : "active"),
                        strdup(strcmp(x->hash, "!") ? "set" : "none")};
        table_add_owned(&t, row);
    }
    if (arr)
        print_json(arr);
    else
        table_print(&t, stdout);
    table_free(&t);
    lb_val_free(&arr);
    return EX_OK;
}

int cmd_user(app_t *app, int argc, char **argv)
{
    static const char *const spec[] = {"users=", "role=", "areas=", "password-stdin", NULL};
    PROLOGUE(spec, 1, 2)
    const char *sub = a.pos[0], *why;
    bool list = strcmp(sub, "list") == 0;
    bool known = list || strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0 ||
                 strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0;
    if (!known || a.npos != (list ? 1 : 2)) {
        fprintf(stderr, "usage: logbook %s\n", find_command(argv[0])->usage);
        return EX_USAGE;
    }
    const char *path = users_path(&a, &why);
    lb_users_t u = {0};
    char err[512] = "";
    int e = lb_users_load(path, &u, err, sizeof err);
    if (e) {
        fprintf(stderr, "error: %s\n", *err ? err : lb_strerror(e));
        return EX_REFUSED;
    }
    if (!app->json)
        fprintf(stderr, "users file: %s (%s)\n", path, why);
    if (list)
        rc = user_list(app, &u);
    else if (strcmp(sub, "add") == 0)
        rc = user_add(&a, &u, path);
    else
        rc = user_change(&a, &u, path);
    lb_users_clear(&u);
    return rc;
}
