/*
 * client/cert.c - certificate files (proto/cert.c) and Z85.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "client_test.h"

/* ---------------------------------------------------------------------- */
/* Certificates and Z85                                                    */
/* ---------------------------------------------------------------------- */

static void test_z85_vector(void)
{
    /* The test vector of ZeroMQ RFC 32. */
    const uint8_t bytes[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    char txt[11];
    uint8_t back[8];
    CU_ASSERT_EQUAL(lb_cert_z85_encode(bytes, 8, txt, sizeof txt), 0);
    CU_ASSERT_STRING_EQUAL(txt, "HelloWorld");
    CU_ASSERT_EQUAL(lb_cert_z85_decode("HelloWorld", 10, back, sizeof back), 0);
    CU_ASSERT_EQUAL(memcmp(back, bytes, 8), 0);
    /* Wrong lengths, a character outside the alphabet, a group over 32 bits. */
    CU_ASSERT_EQUAL(lb_cert_z85_encode(bytes, 7, txt, sizeof txt), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_cert_z85_encode(bytes, 8, txt, 10), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_cert_z85_decode("HelloWorl", 9, back, sizeof back), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_cert_z85_decode("Hello\"orld", 10, back, sizeof back), LB_EBADREQ);
    CU_ASSERT_EQUAL(lb_cert_z85_decode("#####", 5, back, sizeof back), LB_EBADREQ);
}

static void test_z85_against_libzmq(void)
{
    for (int i = 0; i < 200; i++) {
        uint8_t key[32], mine_back[32], zmq_back[32];
        char mine[41], theirs[41];
        randombytes_buf(key, sizeof key);
        CU_ASSERT_EQUAL_FATAL(lb_cert_z85_encode(key, 32, mine, sizeof mine), 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(zmq_z85_encode(theirs, key, 32));
        CU_ASSERT_STRING_EQUAL(mine, theirs);
        CU_ASSERT_EQUAL(lb_cert_z85_decode(theirs, 40, mine_back, 32), 0);
        CU_ASSERT_PTR_NOT_NULL(zmq_z85_decode(zmq_back, mine));
        CU_ASSERT_EQUAL(memcmp(mine_back, key, 32), 0);
        CU_ASSERT_EQUAL(memcmp(zmq_back, key, 32), 0);
    }
}

static void test_cert_round_trip(void)
{
    char *dir = make_tmpdir();
    char err[256] = "", path[512];
    lb_cert_t *c = NULL, *sec = NULL, *pub = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&c), 0);
    CU_ASSERT_TRUE(c->has_secret);
    CU_ASSERT_EQUAL(strlen(c->public_z85), 40);
    CU_ASSERT_EQUAL(strlen(c->secret_z85), 40);
    CU_ASSERT_EQUAL(lb_cert_save(c, dir, "alice", err, sizeof err), 0);

    snprintf(path, sizeof path, "%s/alice.key_secret", dir);
    CU_ASSERT_EQUAL(lb_cert_load(path, &sec, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
    CU_ASSERT_TRUE(sec->has_secret);
    CU_ASSERT_EQUAL(memcmp(sec->public_key, c->public_key, 32), 0);
    CU_ASSERT_EQUAL(memcmp(sec->secret_key, c->secret_key, 32), 0);
    CU_ASSERT_STRING_EQUAL(sec->public_z85, c->public_z85);
    CU_ASSERT_STRING_EQUAL(sec->secret_z85, c->secret_z85);

    snprintf(path, sizeof path, "%s/alice.key", dir);
    CU_ASSERT_EQUAL(lb_cert_load(path, &pub, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    CU_ASSERT_FALSE(pub->has_secret);
    CU_ASSERT_STRING_EQUAL(pub->secret_z85, "");
    CU_ASSERT_EQUAL(memcmp(pub->public_key, c->public_key, 32), 0);

    /* The layout czmq's zcert and pyzmq write (and read). */
    char *text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(strncmp(text, "#   ****  Generated on ", 23), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "#   ZeroMQ CURVE Public Certificate\n"));
    char expect[128];
    snprintf(expect, sizeof expect, "\nmetadata\ncurve\n    public-key = \"%s\"\n", c->public_z85);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, expect));
    CU_ASSERT_PTR_NULL(strstr(text, "secret-key"));
    free(text);
    snprintf(path, sizeof path, "%s/alice.key_secret", dir);
    text = read_text(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "#   ZeroMQ CURVE **Secret** Certificate\n"));
    snprintf(expect, sizeof expect, "    secret-key = \"%s\"\n", c->secret_z85);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, expect));
    free(text);

    lb_cert_destroy(&c);
    lb_cert_destroy(&sec);
    lb_cert_destroy(&pub);
    CU_ASSERT_PTR_NULL(c);
    lb_cert_destroy(&c); /* safe twice */
    remove_tmpdir(dir);
}

static void test_cert_modes(void)
{
    char *dir = make_tmpdir();
    char err[256], path[512];
    lb_cert_t *c = NULL;
    struct stat st;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&c), 0);
    /* The modes must not depend on the umask in force. */
    mode_t old = umask(0077);
    CU_ASSERT_EQUAL(lb_cert_save(c, dir, "m", err, sizeof err), 0);
    umask(0);
    CU_ASSERT_EQUAL(lb_cert_save(c, dir, "n", err, sizeof err), 0);
    umask(old);
    const char *names[] = {"m", "n"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.key_secret", dir, names[i]);
        CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
        CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
        snprintf(path, sizeof path, "%s/%s.key", dir, names[i]);
        CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
        CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
    }
    /* Saving again replaces the files and leaves no temporary file behind. */
    CU_ASSERT_EQUAL(lb_cert_save(c, dir, "m", err, sizeof err), 0);
    DIR *d = opendir(dir);
    int files = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        CU_ASSERT_PTR_NULL(strstr(e->d_name, ".tmp."));
    }
    if (d)
        closedir(d);
    CU_ASSERT_EQUAL(files, 4);
    /* A folder that does not exist is an I/O error naming the path. */
    snprintf(path, sizeof path, "%s/missing", dir);
    CU_ASSERT_EQUAL(lb_cert_save(c, path, "x", err, sizeof err), LB_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing/x.key_secret"));
    lb_cert_destroy(&c);
    remove_tmpdir(dir);
}

static void test_cert_reads_pyzmq_format(void)
{
    char *dir = make_tmpdir();
    char err[256], path[512], text[1024];
    lb_cert_t *c = NULL, *got = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&c), 0);
    /* As pyzmq writes it with metadata, with CRLF line ends and single quotes thrown in. */
    snprintf(text, sizeof text,
             "#   ****  Generated on 2024-01-01 00:00:00.000000 by pyzmq  ****\r\n"
             "#   ZeroMQ CURVE **Secret** Certificate\r\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\r\n"
             "\r\n"
             "metadata\r\n"
             "    name = \"team phitsanulok\"\r\n"
             "    email = admin@example.org\r\n"
             "curve\r\n"
             "    public-key = \"%s\"\r\n"
             "    secret-key = '%s'   # trailing comment\r\n",
             c->public_z85, c->secret_z85);
    snprintf(path, sizeof path, "%s/py.key_secret", dir);
    CU_ASSERT_EQUAL_FATAL(write_text(path, text), 0);
    CU_ASSERT_EQUAL(lb_cert_load(path, &got, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_TRUE(got->has_secret);
    CU_ASSERT_EQUAL(memcmp(got->secret_key, c->secret_key, 32), 0);
    lb_cert_destroy(&got);
    lb_cert_destroy(&c);
    remove_tmpdir(dir);
}

/* Writes text to dir/name, loads it, expects rc and the fragment in the error. */
static void expect_bad_cert(const char *dir, const char *name, const char *text, int rc,
                            const char *fragment)
{
    char path[512], err[512] = "";
    lb_cert_t *c = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (text)
        CU_ASSERT_EQUAL_FATAL(write_text(path, text), 0);
    CU_ASSERT_EQUAL(lb_cert_load(path, &c, err, sizeof err), rc);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    if (!strstr(err, fragment))
        fprintf(stderr, "\n  error was: %s (wanted '%s')\n", err, fragment);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, fragment));
}

static void test_cert_malformed_refused(void)
{
    char *dir = make_tmpdir();
    char text[1024];
    lb_cert_t *a = NULL, *b = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&a), 0);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&b), 0);

    expect_bad_cert(dir, "absent.key", NULL, LB_EIO, "No such file");
    expect_bad_cert(dir, "short.key", "metadata\ncurve\n    public-key = \"abc\"\n", LB_ECONFIG,
                    ":3: public-key is not a 40-character Z85 key");
    expect_bad_cert(dir, "nokey.key", "# only a comment\nmetadata\ncurve\n", LB_ECONFIG,
                    "no curve public-key");
    expect_bad_cert(dir, "noeq.key", "curve\n    public-key \"abc\"\n", LB_ECONFIG,
                    ":2: unexpected text");
    expect_bad_cert(dir, "orphan.key", "    public-key = \"x\"\n", LB_ECONFIG,
                    ":1: indented entry outside any section");
    expect_bad_cert(dir, "quote.key", "curve\n    public-key = \"unterminated\n", LB_ECONFIG,
                    ":2: unterminated quoted value");
    /* 40 characters, but '"' is not in the Z85 alphabet. */
    expect_bad_cert(dir, "alpha.key",
                    "curve\n    public-key = 'abcdefghij\"bcdefghijabcdefghijabcdefghij'\n",
                    LB_ECONFIG, ":2: public-key");
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    public-key = \"%s\"\n",
             a->public_z85, a->public_z85);
    expect_bad_cert(dir, "dup.key", text, LB_ECONFIG, ":3: duplicate public-key");
    /* Keys from two different pairs. */
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             a->public_z85, b->secret_z85);
    expect_bad_cert(dir, "mixed.key_secret", text, LB_ECONFIG, "does not belong");

    /* A public-only certificate is no client identity. */
    char pub[512], err[256] = "";
    CU_ASSERT_EQUAL(lb_cert_save(a, dir, "a", err, sizeof err), 0);
    snprintf(pub, sizeof pub, "%s/a.key", dir);
    lbc_opts_t o;
    lbc_t *c = NULL;
    lbc_opts_init(&o);
    o.endpoint = "tcp://127.0.0.1:1";
    o.client_cert = pub;
    o.server_cert = pub;
    CU_ASSERT_EQUAL(lbc_connect(&o, &c, err, sizeof err), LB_ECONFIG);
    CU_ASSERT_PTR_NULL(c);
    o.server_cert = NULL; /* half a CURVE configuration */
    CU_ASSERT_EQUAL(lbc_connect(&o, &c, err, sizeof err), LB_EBADREQ);

    lb_cert_destroy(&a);
    lb_cert_destroy(&b);
    remove_tmpdir(dir);
}

static const cu_test_t tests[] = {
    {"Z85 test vector and bad input", test_z85_vector},
    {"Z85 matches libzmq", test_z85_against_libzmq},
    {"write and read a keypair", test_cert_round_trip},
    {"file modes 0600/0644, no temp files", test_cert_modes},
    {"reads pyzmq's format", test_cert_reads_pyzmq_format},
    {"malformed certificates refused", test_cert_malformed_refused},
};
const cu_suite_t client_cert_suite = {.name = "cert", .tests = tests, .n = CU_COUNT(tests)};
