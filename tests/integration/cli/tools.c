/*
 * tools.c - test_cli: watch, keygen, verify, admin, and the exit codes for refusals, an unreachable
 * daemon and usage errors.
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

void test_watch(void)
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
    CU_ASSERT_TRUE(tval_json_lines_ok(s));
    CU_ASSERT_TRUE(contains(s, "\"chain\": \""));
    free(s);
    CU_ASSERT_EQUAL(stop_watch(&bg), 0);
}

void test_keygen(void)
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
    CU_ASSERT_TRUE(tval_json_ok(r.out));
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

void test_keygen_key_is_admitted_after_reload(void)
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

void test_verify(void)
{
    run_t r;
    cli(&r, "verify");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "audit chain ok: "));
    run_free(&r);
    cli(&r, "--json", "verify");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"ok\": true"));
    run_free(&r);
}

void test_admin(void)
{
    run_t r;
    cli(&r, "admin", "stats");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "cases "));
    CU_ASSERT_TRUE(contains(r.out, "events "));
    CU_ASSERT_TRUE(contains(r.out, "manual_clock"));
    run_free(&r);
    cli(&r, "--json", "admin", "stats");
    CU_ASSERT_TRUE(tval_json_ok(r.out));
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

void test_refused_exits_1(void)
{
    run_t r;
    cli(&r, "show", "C999999999");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: not_found: "));
    CU_ASSERT_TRUE(contains(r.err, "(field: case_id)"));
    CU_ASSERT_STRING_EQUAL(r.out, "");
    run_free(&r);
    cli(&r, "show", "C42");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "a case id is C and 9 or more digits"));
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

void test_unreachable_exits_3(void)
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
    CU_ASSERT_TRUE(contains(r.err, "cannot reach logbookd at "));
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

void test_usage_exits_2(void)
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
