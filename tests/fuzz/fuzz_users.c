/*
 * fuzz_users.c - libFuzzer target for the users file parser (proto/users.h):
 * parses the input, checks what users.h promises of a loaded list (sorted,
 * unique, valid names, areas and hashes; an error names a line of the input)
 * and that the list written back in the file's format parses to the same list.
 * Also built with gcc into replay_users for `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/lb.h"
#include "../../proto/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The list in the file's format, as lb_users_save writes it (without the file). */
static void write_back(const lb_users_t *u, lb_buf_t *b)
{
    for (size_t i = 0; i < u->n; i++) {
        const lb_user_t *x = &u->v[i];
        if (lb_buf_append(b, x->name, strlen(x->name)) || lb_buf_append(b, "\t", 1))
            abort();
        const char *role = lb_role_name(x->role);
        if (lb_buf_append(b, role, strlen(role)) || lb_buf_append(b, "\t", 1))
            abort();
        for (size_t j = 0; j < x->n_areas; j++) {
            const char *a = x->areas[j][0] ? x->areas[j] : "*";
            if ((j && lb_buf_append(b, ",", 1)) || lb_buf_append(b, a, strlen(a)))
                abort();
        }
        const char *st = x->disabled ? "\tdisabled\t" : "\tactive\t";
        if (lb_buf_append(b, st, strlen(st)) || lb_buf_append(b, x->hash, strlen(x->hash)) ||
            lb_buf_append(b, "\n", 1))
            abort();
    }
}

static void check_list(const lb_users_t *u)
{
    for (size_t i = 0; i < u->n; i++) {
        const lb_user_t *x = &u->v[i];
        size_t n = strlen(x->name);
        if (n < 1 || n >= LB_USER_NAME_MAX || (i && strcmp(u->v[i - 1].name, x->name) >= 0))
            abort();
        if (lb_users_find(u, x->name) != x)
            abort();
        if (x->role >= LB_ROLE_GATEWAY || x->n_areas < 1)
            abort();
        for (size_t j = 0; j < x->n_areas; j++)
            if (!(x->areas[j][0] == '\0' && x->n_areas == 1) && !lb_valid_area(x->areas[j], false))
                abort();
        if (strcmp(x->hash, "!") != 0 && strncmp(x->hash, "$argon2id$", 10) != 0)
            abort();
    }
}

static bool same(const lb_users_t *a, const lb_users_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const lb_user_t *x = &a->v[i], *y = &b->v[i];
        if (strcmp(x->name, y->name) != 0 || x->role != y->role || x->disabled != y->disabled ||
            strcmp(x->hash, y->hash) != 0 || x->n_areas != y->n_areas)
            return false;
        for (size_t j = 0; j < x->n_areas; j++)
            if (strcmp(x->areas[j], y->areas[j]) != 0)
                return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lb_users_t u, back;
    char err[256] = "";
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    int rc = lb_users_parse((const char *)data, size, "f", &u, err, sizeof err);
    if (rc == LB_EBADREQ) {
        /* "f:LINE: reason", LINE within the input */
        char *end;
        if (strncmp(err, "f:", 2) != 0 || u.n != 0 || u.v)
            abort();
        unsigned long line = strtoul(err + 2, &end, 10);
        if (*end != ':' || line < 1 || line > lines || strlen(end) < 3)
            abort();
        return 0;
    }
    if (rc != 0)
        abort();
    check_list(&u);
    lb_buf_t b = {0};
    write_back(&u, &b);
    if (lb_users_parse((const char *)b.p, b.len, "f", &back, err, sizeof err) != 0 ||
        !same(&u, &back))
        abort();
    lb_buf_free(&b);
    lb_users_clear(&back);
    lb_users_clear(&u);
    return 0;
}
