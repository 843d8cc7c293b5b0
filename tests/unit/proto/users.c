/*
 * users.c - tests of proto/users.h: the users file's strict parser (every
 * refusal names its line), look-ups and area cover, argon2id passwords, the
 * crash-safe save and the sorted edits of lb_users_put.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../proto/users.h"
#include "proto_test.h"

/* A syntactically valid argon2id string; it verifies no password. */
#define H "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"

static int parse(const char *text, lb_users_t *u, char *err)
{
    return lb_users_parse(text, strlen(text), "u.tsv", u, err, 256);
}

static void test_roles(void)
{
    static const char *const names[] = {"field", "committee", "reporter", "admin", "gateway"};
    for (int i = 0; i < LB_ROLE_COUNT; i++) {
        lb_role_t r = LB_ROLE_COUNT;
        CU_ASSERT_EQUAL(lb_role_parse(names[i], &r), 0);
        CU_ASSERT_EQUAL(r, (lb_role_t)i);
        CU_ASSERT_STRING_EQUAL(lb_role_name(r), names[i]);
    }
    lb_role_t r = LB_ROLE_ADMIN;
    CU_ASSERT_EQUAL(lb_role_parse("Admin", &r), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_role_parse("", &r), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_role_parse(NULL, &r), LB_EBADREQ);
    CU_ASSERT_EQUAL(r, LB_ROLE_ADMIN); /* untouched on error */
    CU_ASSERT_STRING_EQUAL(lb_role_name(LB_ROLE_COUNT), "?");
}

static void test_parse_good(void)
{
    const char *text = "# people\n"
                       "\n"
                       "somchai\tfield\t65010101,6502\tactive\t" H "\n"
                       "anong\tcommittee\t*\tdisabled\t!\r\n"
                       "b.k_9-x\treporter\t65\tactive\t!";
    lb_users_t u;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(parse(text, &u, err), 0);
    CU_ASSERT_EQUAL_FATAL(u.n, 3);
    /* sorted by name */
    CU_ASSERT_STRING_EQUAL(u.v[0].name, "anong");
    CU_ASSERT_STRING_EQUAL(u.v[1].name, "b.k_9-x");
    CU_ASSERT_STRING_EQUAL(u.v[2].name, "somchai");
    const lb_user_t *s = lb_users_find(&u, "somchai");
    CU_ASSERT_PTR_EQUAL_FATAL(s, &u.v[2]);
    CU_ASSERT_EQUAL(s->role, LB_ROLE_FIELD);
    CU_ASSERT_FALSE(s->disabled);
    CU_ASSERT_STRING_EQUAL(s->hash, H);
    CU_ASSERT_EQUAL_FATAL(s->n_areas, 2);
    CU_ASSERT_STRING_EQUAL(s->areas[0], "65010101");
    CU_ASSERT_STRING_EQUAL(s->areas[1], "6502");
    CU_ASSERT(lb_user_covers(s, "65010101"));
    CU_ASSERT(lb_user_covers(s, "65020304"));
    CU_ASSERT_FALSE(lb_user_covers(s, "65010102"));
    CU_ASSERT_FALSE(lb_user_covers(s, "65"));
    const lb_user_t *a = lb_users_find(&u, "anong");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT(a->disabled);
    CU_ASSERT_EQUAL(a->role, LB_ROLE_COMMITTEE);
    CU_ASSERT_STRING_EQUAL(a->hash, "!");
    CU_ASSERT_EQUAL_FATAL(a->n_areas, 1);
    CU_ASSERT_STRING_EQUAL(a->areas[0], "");
    CU_ASSERT(lb_user_covers(a, "12345678"));
    CU_ASSERT_PTR_NULL(lb_users_find(&u, "nobody"));
    CU_ASSERT_PTR_NULL(lb_users_find(&u, "somcha"));
    lb_users_clear(&u);
    CU_ASSERT_EQUAL(u.n, 0);
    CU_ASSERT_PTR_NULL(u.v);
    lb_users_clear(&u); /* twice is safe */

    CU_ASSERT_EQUAL(parse("", &u, err), 0);
    CU_ASSERT_EQUAL(u.n, 0);
    CU_ASSERT_EQUAL(parse("# only a comment\n\n", &u, err), 0);
    CU_ASSERT_EQUAL(u.n, 0);
    lb_users_clear(&u);
}

static void test_parse_bad(void)
{
    static const struct {
        const char *text;
        const char *prefix; /* the start of the message */
    } cases[] = {
        {"a\tfield\t65\tactive", "u.tsv:1: expected 5"},
        {"a\tfield\t65\tactive\t!\textra", "u.tsv:1: expected 5"},
        {"#\n\nA\tfield\t65\tactive\t!", "u.tsv:3: the name"},
        {"\tfield\t65\tactive\t!", "u.tsv:1: the name"},
        {"a b\tfield\t65\tactive\t!", "u.tsv:1: the name"},
        {"a\tgateway\t65\tactive\t!", "u.tsv:1: the role"},
        {"a\tFIELD\t65\tactive\t!", "u.tsv:1: the role"},
        {"a\tfieldfieldfieldfield\t65\tactive\t!", "u.tsv:1: the role"},
        {"a\tfield\t6\tactive\t!", "u.tsv:1: an area"},
        {"a\tfield\t65,\tactive\t!", "u.tsv:1: an area"},
        {"a\tfield\t\tactive\t!", "u.tsv:1: an area"},
        {"a\tfield\t*,65\tactive\t!", "u.tsv:1: an area"},
        {"a\tfield\t650101010\tactive\t!", "u.tsv:1: an area"},
        {"a\tfield\t65\tenabled\t!", "u.tsv:1: the state"},
        {"a\tfield\t65\tactive\t", "u.tsv:1: the hash"},
        {"a\tfield\t65\tactive\t$argon2i$v=19$x", "u.tsv:1: the hash"},
        {"a\tfield\t65\tactive\t$argon2id$ space", "u.tsv:1: the hash"},
        {"a\tfield\t65\tactive\t!\nb\tfield\t65\tactive\t!\na\tadmin\t*\tactive\t!",
         "u.tsv:3: user a is listed twice (first on line 1)"},
    };
    for (size_t i = 0; i < CU_COUNT(cases); i++) {
        lb_users_t u = {(lb_user_t *)1, 7}; /* emptied even on error */
        char err[256] = "";
        CU_ASSERT_EQUAL(parse(cases[i].text, &u, err), LB_EBADREQ);
        if (strncmp(err, cases[i].prefix, strlen(cases[i].prefix)) != 0)
            printf("\ncase %zu: got '%s', want '%s...'\n", i, err, cases[i].prefix);
        CU_ASSERT(strncmp(err, cases[i].prefix, strlen(cases[i].prefix)) == 0);
        CU_ASSERT_EQUAL(u.n, 0);
        CU_ASSERT_PTR_NULL(u.v);
    }
    /* a NUL byte inside a line */
    lb_users_t u;
    char err[256];
    const char nul[] = "a\tfield\t65\tac\0tive\t!";
    CU_ASSERT_EQUAL(lb_users_parse(nul, sizeof nul - 1, NULL, &u, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err, "users:1: a NUL byte");
    /* the size bound comes before anything is read */
    CU_ASSERT_EQUAL(lb_users_parse("", (size_t)LB_USERS_FILE_MAX + 1, "big", &u, err, sizeof err),
                    LB_EBADREQ);
    CU_ASSERT(strncmp(err, "big:0: the file is over", 23) == 0);
}

static void test_passwords(void)
{
    lb_user_t u = {.name = "somchai", .role = LB_ROLE_FIELD};
    CU_ASSERT_EQUAL_FATAL(lb_user_hash_password("correct horse", u.hash), 0);
    CU_ASSERT(strncmp(u.hash, "$argon2id$", 10) == 0);
    CU_ASSERT(lb_user_check_password(&u, "correct horse"));
    CU_ASSERT_FALSE(lb_user_check_password(&u, "correct hors"));
    CU_ASSERT_FALSE(lb_user_check_password(&u, ""));
    CU_ASSERT_FALSE(lb_user_check_password(&u, NULL));
    /* two hashes of one password differ (a fresh salt each) */
    char again[LB_USER_HASH_MAX];
    CU_ASSERT_EQUAL(lb_user_hash_password("correct horse", again), 0);
    CU_ASSERT(strcmp(again, u.hash) != 0);
    u.disabled = true;
    CU_ASSERT_FALSE(lb_user_check_password(&u, "correct horse"));
    u.disabled = false;
    snprintf(u.hash, sizeof u.hash, "!");
    CU_ASSERT_FALSE(lb_user_check_password(&u, "!"));
    CU_ASSERT_EQUAL(lb_user_hash_password("", again), LB_EBADREQ);
    char *longpw = malloc(1026);
    CU_ASSERT_PTR_NOT_NULL_FATAL(longpw);
    memset(longpw, 'x', 1025);
    longpw[1025] = '\0';
    CU_ASSERT_EQUAL(lb_user_hash_password(longpw, again), LB_EBADREQ);
    free(longpw);
}

static void test_put(void)
{
    lb_users_t u = {0};
    char err[256];
    char *ar[] = {"65010101", "66"};
    char *all[] = {""};
    char *mixed[] = {"", "65"};
    char *bad[] = {"650"};
    lb_user_t x = {
        .name = "mali", .role = LB_ROLE_COMMITTEE, .areas = ar, .n_areas = 2, .hash = "!"};
    CU_ASSERT_EQUAL(lb_users_put(&u, &x, false, err, sizeof err), 0);
    snprintf(x.name, sizeof x.name, "anong");
    x.areas = all;
    x.n_areas = 1;
    CU_ASSERT_EQUAL(lb_users_put(&u, &x, false, err, sizeof err), 0);
    snprintf(x.name, sizeof x.name, "zed");
    CU_ASSERT_EQUAL(lb_users_put(&u, &x, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(u.n, 3);
    CU_ASSERT_STRING_EQUAL(u.v[0].name, "anong");
    CU_ASSERT_STRING_EQUAL(u.v[1].name, "mali");
    CU_ASSERT_STRING_EQUAL(u.v[2].name, "zed");
    CU_ASSERT_PTR_NOT_EQUAL(u.v[1].areas, ar); /* copied */
    /* an existing name: conflict, or replaced */
    snprintf(x.name, sizeof x.name, "mali");
    x.disabled = true;
    CU_ASSERT_EQUAL(lb_users_put(&u, &x, false, err, sizeof err), LB_ECONFLICT);
    CU_ASSERT_FALSE(lb_users_find(&u, "mali")->disabled);
    CU_ASSERT_EQUAL(lb_users_put(&u, &x, true, err, sizeof err), 0);
    CU_ASSERT_EQUAL(u.n, 3);
    CU_ASSERT(lb_users_find(&u, "mali")->disabled);
    CU_ASSERT_STRING_EQUAL(lb_users_find(&u, "mali")->areas[0], "");
    /* refusals */
    lb_user_t y = x;
    snprintf(y.name, sizeof y.name, "Bad");
    CU_ASSERT_EQUAL(lb_users_put(&u, &y, true, err, sizeof err), LB_EBADREQ);
    y = x;
    y.role = LB_ROLE_GATEWAY;
    CU_ASSERT_EQUAL(lb_users_put(&u, &y, true, err, sizeof err), LB_EBADREQ);
    y = x;
    y.areas = mixed;
    y.n_areas = 2;
    CU_ASSERT_EQUAL(lb_users_put(&u, &y, true, err, sizeof err), LB_EBADREQ);
    y.areas = bad;
    y.n_areas = 1;
    CU_ASSERT_EQUAL(lb_users_put(&u, &y, true, err, sizeof err), LB_EBADREQ);
    y.n_areas = 0;
    CU_ASSERT_EQUAL(lb_users_put(&u, &y, true, err, sizeof err), LB_EBADREQ);
    y = x;
    snprintf(y.hash, sizeof y.hash, "plain");
    CU_ASSERT_EQUAL(lb_users_put(&u, &y, true, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(u.n, 3);
    lb_users_clear(&u);
}

static void test_save_load(void)
{
    char dir[] = "/tmp/lb-users-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/users.tsv", dir);
    lb_users_t u;
    /* a missing file is an empty list */
    CU_ASSERT_EQUAL(lb_users_load(path, &u, err, sizeof err), 0);
    CU_ASSERT_EQUAL(u.n, 0);
    const char *text = "somchai\tfield\t65010101,6502\tactive\t" H "\n"
                       "anong\tcommittee\t*\tdisabled\t!\n";
    CU_ASSERT_EQUAL_FATAL(parse(text, &u, err), 0);
    CU_ASSERT_EQUAL_FATAL(lb_users_save(&u, path, err, sizeof err), 0);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    lb_users_t back;
    CU_ASSERT_EQUAL_FATAL(lb_users_load(path, &back, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(back.n, 2);
    for (size_t i = 0; i < 2; i++) {
        CU_ASSERT_STRING_EQUAL(back.v[i].name, u.v[i].name);
        CU_ASSERT_EQUAL(back.v[i].role, u.v[i].role);
        CU_ASSERT_EQUAL(back.v[i].disabled, u.v[i].disabled);
        CU_ASSERT_STRING_EQUAL(back.v[i].hash, u.v[i].hash);
        CU_ASSERT_EQUAL_FATAL(back.v[i].n_areas, u.v[i].n_areas);
        for (size_t j = 0; j < u.v[i].n_areas; j++)
            CU_ASSERT_STRING_EQUAL(back.v[i].areas[j], u.v[i].areas[j]);
    }
    lb_users_clear(&back);
    lb_users_clear(&u);
    /* a bad file names itself and the line */
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("# x\nsomchai\tboss\t65\tactive\t!\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(lb_users_load(path, &u, err, sizeof err), LB_EBADREQ);
    char want[300];
    snprintf(want, sizeof want, "%s:2: the role", path);
    CU_ASSERT(strncmp(err, want, strlen(want)) == 0);
    /* a folder is not a users file */
    CU_ASSERT_EQUAL(lb_users_load(dir, &u, err, sizeof err), LB_EIO);
    unlink(path);
    rmdir(dir);
}

/* The envelope key `as` (PROTOCOL.md 9.3, 9.15): a str of 1 to 63 bytes, stored in req.as. */
static void test_request_as(void)
{
    lb_val_t *r = R("ping", NULL);
    lb_map_set_str(r, "as", "somchai");
    lb_buf_t b;
    pack_or_die(r, &b);
    proto_req_t req;
    proto_err_t perr;
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &perr), 0);
    CU_ASSERT_STRING_EQUAL(req.as, "somchai");
    proto_req_clear(&req);
    CU_ASSERT_STRING_EQUAL(req.as, "");
    lb_buf_free(&b);
    lb_val_free(&r);
    /* absent: "" */
    r = R("ping", NULL);
    pack_or_die(r, &b);
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &perr), 0);
    CU_ASSERT_STRING_EQUAL(req.as, "");
    proto_req_clear(&req);
    lb_buf_free(&b);
    lb_val_free(&r);
    /* 63 bytes pass, 64 do not; not a string; empty */
    char name[65];
    memset(name, 'a', 64);
    name[63] = '\0';
    r = R("ping", NULL);
    lb_map_set_str(r, "as", name);
    EXPECT(r, 0, NULL);
    name[63] = 'a';
    name[64] = '\0';
    r = R("ping", NULL);
    lb_map_set_str(r, "as", name);
    EXPECT(r, LB_EBADREQ, "as");
    r = R("ping", NULL);
    lb_map_set_int(r, "as", 1);
    EXPECT(r, LB_EBADREQ, "as");
    r = R("ping", NULL);
    lb_map_set_str(r, "as", "");
    EXPECT(r, LB_EBADREQ, "as");
}

const cu_test_t proto_users_tests[] = {
    {"roles", test_roles},
    {"parse good", test_parse_good},
    {"parse bad", test_parse_bad},
    {"passwords", test_passwords},
    {"put", test_put},
    {"save and load", test_save_load},
    {"request as", test_request_as},
};
const size_t proto_users_count = CU_COUNT(proto_users_tests);
