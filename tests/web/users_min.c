/*
 * users_min.c - a minimal, test-only stand-in for proto/users.c (the users
 * file of proto/users.h), so logbook-web and test_web build before engineer
 * wa's implementation lands. The Makefile links it only while proto/users.c
 * does not exist. It reads the format of users.h; it does not write files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../proto/lb.h"
#include "../../proto/users.h"

static const char *const role_names[] = {"field", "committee", "reporter", "admin"};

int lb_role_parse(const char *s, lb_role_t *out)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, role_names[i]) == 0) {
            *out = (lb_role_t)i;
            return 0;
        }
    return LB_EBADREQ;
}

const char *lb_role_name(lb_role_t r)
{
    return (unsigned)r < 4 ? role_names[r] : "?";
}

static void user_free(lb_user_t *u)
{
    for (size_t i = 0; i < u->n_areas; i++)
        free(u->areas[i]);
    free(u->areas);
    u->areas = NULL;
    u->n_areas = 0;
}

void lb_users_clear(lb_users_t *u)
{
    for (size_t i = 0; u && i < u->n; i++)
        user_free(&u->v[i]);
    if (u) {
        free(u->v);
        u->v = NULL;
        u->n = 0;
    }
}

static int parse_areas(char *s, lb_user_t *u)
{
    if (strcmp(s, "*") == 0) {
        u->areas = calloc(1, sizeof *u->areas);
        if (!u->areas || !(u->areas[0] = strdup("")))
            return LB_ENOMEM;
        u->n_areas = 1;
        return 0;
    }
    for (char *save = NULL, *a = strtok_r(s, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        if (!lb_valid_area(a, false))
            return LB_EBADREQ;
        char **n = realloc(u->areas, (u->n_areas + 1) * sizeof *n);
        if (!n)
            return LB_ENOMEM;
        u->areas = n;
        if (!(u->areas[u->n_areas] = strdup(a)))
            return LB_ENOMEM;
        u->n_areas++;
    }
    return u->n_areas ? 0 : LB_EBADREQ;
}

static int parse_line(char *line, lb_user_t *u)
{
    char *f[5];
    char *save = NULL;
    for (int i = 0; i < 5; i++) {
        f[i] = strtok_r(i ? NULL : line, "\t", &save);
        if (!f[i])
            return LB_EBADREQ;
    }
    if (strtok_r(NULL, "\t", &save) || strlen(f[0]) >= LB_USER_NAME_MAX ||
        strlen(f[4]) >= LB_USER_HASH_MAX || lb_role_parse(f[1], &u->role))
        return LB_EBADREQ;
    if (strcmp(f[3], "active") && strcmp(f[3], "disabled"))
        return LB_EBADREQ;
    snprintf(u->name, sizeof u->name, "%s", f[0]);
    snprintf(u->hash, sizeof u->hash, "%s", f[4]);
    u->disabled = strcmp(f[3], "disabled") == 0;
    return parse_areas(f[2], u);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const lb_user_t *)a)->name, ((const lb_user_t *)b)->name);
}

int lb_users_parse(const char *text, size_t len, const char *path, lb_users_t *out, char *err,
                   size_t errlen)
{
    char *copy = malloc(len + 1);
    int rc = 0, lineno = 0;
    memset(out, 0, sizeof *out);
    if (!copy)
        return LB_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && !rc;
         l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (!*l || *l == '#')
            continue;
        lb_user_t *v = realloc(out->v, (out->n + 1) * sizeof *v);
        if (!v) {
            rc = LB_ENOMEM;
            break;
        }
        out->v = v;
        memset(&v[out->n], 0, sizeof *v);
        rc = parse_line(l, &v[out->n]);
        out->n++;
        if (rc)
            lb_set_err(err, errlen, "%s:%d: not a user line", path ? path : "users", lineno);
    }
    free(copy);
    if (rc) {
        lb_users_clear(out);
        return rc;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

int lb_users_load(const char *path, lb_users_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        lb_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return LB_EIO;
    }
    lb_buf_t b;
    lb_buf_init(&b);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = b.len + n > LB_USERS_FILE_MAX ? LB_EBADREQ : lb_buf_append(&b, chunk, n);
    fclose(f);
    if (!rc)
        rc = lb_users_parse(b.len ? (const char *)b.p : "", b.len, path, out, err, errlen);
    lb_buf_free(&b);
    return rc;
}

const lb_user_t *lb_users_find(const lb_users_t *u, const char *name)
{
    lb_user_t key;
    if (!u || !u->n || !name || strlen(name) >= sizeof key.name)
        return NULL;
    snprintf(key.name, sizeof key.name, "%s", name);
    return bsearch(&key, u->v, u->n, sizeof *u->v, by_name);
}

bool lb_user_covers(const lb_user_t *u, const char *area)
{
    for (size_t i = 0; u && area && i < u->n_areas; i++)
        if (strncmp(area, u->areas[i], strlen(u->areas[i])) == 0)
            return true;
    return false;
}

bool lb_user_check_password(const lb_user_t *u, const char *password)
{
    if (!u || u->disabled || strcmp(u->hash, "!") == 0 || !password)
        return false;
    return crypto_pwhash_str_verify(u->hash, password, strlen(password)) == 0;
}

int lb_user_hash_password(const char *password, char hash[LB_USER_HASH_MAX])
{
    size_t n = password ? strlen(password) : 0;
    if (n == 0 || n > 1024)
        return LB_EBADREQ;
    if (crypto_pwhash_str(hash, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return LB_ENOMEM;
    return 0;
}
