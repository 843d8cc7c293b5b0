/*
 * test_client.c - unit tests for the client library (clients/lib/client.c,
 * args.c, csv.c) and the certificate files (proto/cert.c). Requests and
 * events run against a fake daemon: a ROUTER served by a thread and an XPUB
 * driven by the test itself, both on tcp://127.0.0.1 with a random port.
 */
#include <CUnit/Basic.h>
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

#include "../../clients/lib/client.h"
#include "../../clients/lib/csv.h"
#include "../../proto/cert.h"
#include "../../proto/proto.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/lbc-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

/* Removes a flat folder and the files in it. */
static void remove_tmpdir(char *dir)
{
    if (!dir)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    if (buf)
        fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

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

/* ---------------------------------------------------------------------- */
/* The fake daemon                                                         */
/* ---------------------------------------------------------------------- */

#define FAKE_MAX_REQ 64
#define FAKE_MAX_EVENTS 32

typedef struct {
    void *ctx;
    void *router;
    void *ctl;      /* main side of the stop pipe */
    void *ctl_peer; /* thread side */
    void *zap;      /* REP on inproc://zeromq.zap.01, only with zap_deny */
    void *xpub;     /* driven by the test thread */
    char endpoint[128];
    char events_endpoint[128];
    pthread_t th;
    bool running;
    /* Behaviour, set before fake_start. */
    int drop_first;
    bool silent, no_delim, stale_first, events_as_bin, zap_deny, since_forbidden;
    /* Events: body bytes per seq (1-based); events.since serves those up to `visible`. */
    lb_buf_t events[FAKE_MAX_EVENTS + 1];
    int nevents;
    atomic_int visible;
    /* What arrived. */
    pthread_mutex_t mu;
    char ids[FAKE_MAX_REQ][PROTO_ID_MAX + 1];
    char routes[FAKE_MAX_REQ][64];
    size_t route_len[FAKE_MAX_REQ];
    atomic_int nreq;
    atomic_int since_calls;
} fake_t;

static int fake_send_reply(fake_t *f, const void *route, size_t rlen, lb_val_t *reply)
{
    lb_buf_t out;
    lb_buf_init(&out);
    int rc = proto_pack(reply, &out);
    if (rc == 0) {
        zmq_send(f->router, route, rlen, ZMQ_SNDMORE);
        if (!f->no_delim)
            zmq_send(f->router, "", 0, ZMQ_SNDMORE);
        zmq_send(f->router, out.p, out.len, 0);
    }
    lb_buf_free(&out);
    return rc;
}

static lb_val_t *fake_reply(const char *id, bool ok)
{
    lb_val_t *r = lb_map();
    lb_map_set_int(r, "v", 1);
    lb_map_set_str(r, "id", id);
    lb_map_set_bool(r, "ok", ok);
    return r;
}

static lb_val_t *fake_since(fake_t *f, const lb_val_t *args)
{
    int64_t seq = 0, limit = 1000;
    lb_map_int(args, "seq", &seq);
    lb_map_int(args, "limit", &limit);
    int visible = atomic_load(&f->visible);
    lb_val_t *res = lb_map(), *evs = lb_arr();
    for (int s = (int)seq + 1; s <= visible && (int64_t)evs->a.n < limit; s++) {
        if (f->events_as_bin) {
            lb_arr_push(evs, lb_bin(f->events[s].p, f->events[s].len));
        } else {
            lb_val_t *v = NULL;
            proto_err_t perr;
            proto_unpack(f->events[s].p, f->events[s].len, &proto_default_limits, &v, &perr);
            lb_arr_push(evs, v);
        }
    }
    lb_map_set(res, "events", evs);
    lb_map_set_int(res, "last_seq", visible);
    atomic_fetch_add(&f->since_calls, 1);
    return res;
}

static void fake_handle(fake_t *f)
{
    zmq_msg_t parts[4];
    int n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->router, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        bool more = zmq_msg_more(&m);
        if (n < 4) {
            zmq_msg_init(&parts[n]);
            zmq_msg_move(&parts[n++], &m);
        }
        zmq_msg_close(&m);
        if (!more)
            break;
    }
    lb_val_t *req = NULL, *reply = NULL;
    proto_err_t perr;
    if (n < 2 || proto_unpack(zmq_msg_data(&parts[n - 1]), zmq_msg_size(&parts[n - 1]),
                              &proto_default_limits, &req, &perr) != 0)
        goto done;
    const char *id = lb_map_str(req, "id"), *op = lb_map_str(req, "op");
    const void *route = zmq_msg_data(&parts[0]);
    size_t rlen = zmq_msg_size(&parts[0]);
    pthread_mutex_lock(&f->mu);
    int k = atomic_load(&f->nreq);
    if (k < FAKE_MAX_REQ) {
        snprintf(f->ids[k], sizeof f->ids[k], "%s", id ? id : "");
        f->route_len[k] = rlen < 64 ? rlen : 64;
        memcpy(f->routes[k], route, f->route_len[k]);
        atomic_store(&f->nreq, k + 1);
    }
    pthread_mutex_unlock(&f->mu);
    if (f->drop_first > 0) {
        f->drop_first--;
        goto done;
    }
    if (f->silent || !id || !op)
        goto done;
    if (f->stale_first) {
        lb_val_t *stale = fake_reply("0000stale0000000", true);
        lb_val_t *sr = lb_map();
        lb_map_set_bool(sr, "stale", true);
        lb_map_set(stale, "result", sr);
        fake_send_reply(f, route, rlen, stale);
        lb_val_free(&stale);
    }
    const lb_val_t *args = lb_map_get(req, "args");
    if (strcmp(op, "ping") == 0) {
        reply = fake_reply(id, true);
        lb_val_t *res = lb_map();
        lb_map_set_str(res, "version", "fake");
        lb_map_set_int(res, "uptime_s", 1);
        lb_map_set_int(res, "last_seq", atomic_load(&f->visible));
        lb_map_set(reply, "result", res);
    } else if (strcmp(op, "echo") == 0) {
        reply = fake_reply(id, true);
        lb_map_set(reply, "result", args ? lb_val_dup(args) : lb_map());
    } else if (strcmp(op, "events.since") == 0 && !f->since_forbidden) {
        reply = fake_reply(id, true);
        lb_map_set(reply, "result", fake_since(f, args));
    } else {
        bool fail = strcmp(op, "fail") == 0, since = strcmp(op, "events.since") == 0;
        reply = fake_reply(id, false);
        lb_val_t *e = lb_map();
        lb_map_set_str(e, "code", fail ? "not_found" : since ? "forbidden" : "unknown_op");
        lb_map_set_str(e, "message",
                       fail    ? "no case C000000042"
                       : since ? "no events"
                               : "no such op");
        if (fail)
            lb_map_set_str(e, "field", "case_id");
        lb_map_set(reply, "error", e);
    }
    fake_send_reply(f, route, rlen, reply);
done:
    lb_val_free(&req);
    lb_val_free(&reply);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

/* Refuses every client key, as the daemon does for an unregistered one. */
static void fake_zap(fake_t *f)
{
    zmq_msg_t parts[8];
    int n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->zap, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        bool more = zmq_msg_more(&m);
        if (n < 8) {
            zmq_msg_init(&parts[n]);
            zmq_msg_move(&parts[n++], &m);
        }
        zmq_msg_close(&m);
        if (!more)
            break;
    }
    if (n >= 2) {
        zmq_send(f->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(f->zap, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), ZMQ_SNDMORE);
        zmq_send(f->zap, "400", 3, ZMQ_SNDMORE);
        zmq_send(f->zap, "unknown key", 11, ZMQ_SNDMORE);
        zmq_send(f->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(f->zap, "", 0, 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    for (;;) {
        zmq_pollitem_t items[3] = {{f->ctl_peer, 0, ZMQ_POLLIN, 0},
                                   {f->router, 0, ZMQ_POLLIN, 0},
                                   {f->zap, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, f->zap ? 3 : 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            break;
        if (items[1].revents & ZMQ_POLLIN)
            fake_handle(f);
        if (f->zap && (items[2].revents & ZMQ_POLLIN))
            fake_zap(f);
    }
    return NULL;
}

static void make_event(lb_buf_t *out, int64_t seq, const char *kind, const char *area)
{
    uint8_t chain[32] = {0};
    lb_val_t *m = lb_map();
    lb_map_set_int(m, "v", 1);
    lb_map_set_int(m, "seq", seq);
    lb_map_set_int(m, "at", 1700000000000 + seq);
    lb_map_set_str(m, "kind", kind);
    lb_map_set_str(m, "type", "test");
    lb_map_set_str(m, "case_id", "C000000001");
    lb_map_set_str(m, "house_id", "65010000001");
    lb_map_set_str(m, "area", area);
    lb_map_set_str(m, "workflow", "tpmap-household");
    lb_map_set_str(m, "actor", "admin");
    lb_map_set(m, "chain", lb_bin(chain, sizeof chain));
    lb_buf_init(out);
    CU_ASSERT_EQUAL(proto_pack(m, out), 0);
    lb_val_free(&m);
}

/* Adds event seq = nevents + 1 to the fake's store (before fake_start). */
static void fake_add_event(fake_t *f, const char *kind, const char *area)
{
    f->nevents++;
    make_event(&f->events[f->nevents], f->nevents, kind, area);
}

static void fake_init(fake_t *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    atomic_init(&f->visible, 0);
    atomic_init(&f->nreq, 0);
    atomic_init(&f->since_calls, 0);
}

static int bind_random(void *s, char *ep, size_t eplen)
{
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s, "tcp://127.0.0.1:*") != 0)
        return -1;
    return zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen);
}

/* Starts the fake; server_secret non-NULL = CURVE server on both sockets. */
static int fake_start(fake_t *f, const lb_cert_t *server)
{
    char ctl_ep[64];
    int one = 1;
    f->ctx = zmq_ctx_new();
    if (f->zap_deny) {
        /* The ZAP handler must be bound before a CURVE server socket needs it. */
        f->zap = zmq_socket(f->ctx, ZMQ_REP);
        if (zmq_bind(f->zap, "inproc://zeromq.zap.01") != 0)
            return -1;
    }
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    f->xpub = zmq_socket(f->ctx, ZMQ_XPUB);
    if (server) {
        zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY, server->secret_key, 32);
        zmq_setsockopt(f->xpub, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(f->xpub, ZMQ_CURVE_SECRETKEY, server->secret_key, 32);
    }
    if (bind_random(f->router, f->endpoint, sizeof f->endpoint) != 0 ||
        bind_random(f->xpub, f->events_endpoint, sizeof f->events_endpoint) != 0)
        return -1;
    snprintf(ctl_ep, sizeof ctl_ep, "inproc://fake-ctl-%p", (void *)f);
    f->ctl = zmq_socket(f->ctx, ZMQ_PAIR);
    f->ctl_peer = zmq_socket(f->ctx, ZMQ_PAIR);
    if (zmq_bind(f->ctl, ctl_ep) != 0 || zmq_connect(f->ctl_peer, ctl_ep) != 0)
        return -1;
    if (pthread_create(&f->th, NULL, fake_main, f) != 0)
        return -1;
    f->running = true;
    return 0;
}

static void fake_stop(fake_t *f)
{
    if (f->running) {
        zmq_send(f->ctl, "stop", 4, 0);
        pthread_join(f->th, NULL);
    }
    void *socks[] = {f->router, f->xpub, f->ctl, f->ctl_peer, f->zap};
    for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++) {
        if (socks[i]) {
            int zero = 0;
            zmq_setsockopt(socks[i], ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(socks[i]);
        }
    }
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    for (int i = 0; i <= FAKE_MAX_EVENTS; i++)
        lb_buf_free(&f->events[i]);
    pthread_mutex_destroy(&f->mu);
}

/* Waits (polling, bounded) until the fake has seen n requests. */
static bool fake_wait_requests(fake_t *f, int n)
{
    int64_t end = mono_ms() + 5000;
    while (atomic_load(&f->nreq) < n && mono_ms() < end)
        nap_ms(1);
    return atomic_load(&f->nreq) >= n;
}

static lbc_t *connect_plain(fake_t *f, int timeout_ms, int retries)
{
    lbc_opts_t o;
    lbc_t *c = NULL;
    char err[256] = "";
    lbc_opts_init(&o);
    o.endpoint = f->endpoint;
    o.timeout_ms = timeout_ms;
    o.retries = retries;
    CU_ASSERT_EQUAL(lbc_connect(&o, &c, err, sizeof err), 0);
    if (!c)
        fprintf(stderr, "\n  connect: %s\n", err);
    return c;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static void test_call_reply(void)
{
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *args = lb_map(), *reply = NULL;
    char err[256] = "";
    lb_map_set_str(args, "name", "สมชาย ใจดี");
    lb_map_set_int(args, "n", 42);
    CU_ASSERT_EQUAL(lbc_call(c, "echo", args, &reply, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    CU_ASSERT_TRUE(lbc_reply_ok(reply));
    CU_ASSERT_TRUE(lb_val_equal(lbc_reply_result(reply), args));
    CU_ASSERT_EQUAL(strlen(lbc_reply_id(reply)), LBC_ID_LEN);
    const char *code = NULL;
    CU_ASSERT_EQUAL(lbc_reply_error(reply, &code, NULL, NULL), 0);
    CU_ASSERT_STRING_EQUAL(code, "");
    lb_val_free(&reply);

    /* The request on the wire: {v: 1, id, op, args}, args omitted when NULL. */
    CU_ASSERT_EQUAL(lbc_call_id(c, "my-own-id", "ping", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(lbc_reply_id(reply), "my-own-id");
    int64_t last = -1;
    CU_ASSERT_EQUAL(lb_map_int(lbc_reply_result(reply), "last_seq", &last), 0);
    CU_ASSERT_EQUAL(last, 0);
    lb_val_free(&reply);

    /* Bad calls are refused before anything is sent. */
    CU_ASSERT_EQUAL(lbc_call(c, "", NULL, &reply, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_call_id(c, "", "ping", NULL, &reply, err, sizeof err), LB_EBADREQ);
    lb_val_t *notmap = lb_arr();
    CU_ASSERT_EQUAL(lbc_call(c, "echo", notmap, &reply, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_PTR_NULL(reply);
    lb_val_free(&notmap);
    lb_val_free(&args);
    lbc_destroy(&c);
    CU_ASSERT_PTR_NULL(c);
    fake_stop(&f);
}

static void test_error_reply(void)
{
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256];
    CU_ASSERT_EQUAL(lbc_call(c, "fail", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_FALSE(lbc_reply_ok(reply));
    CU_ASSERT_PTR_NULL(lbc_reply_result(reply));
    const char *code, *msg, *field;
    CU_ASSERT_EQUAL(lbc_reply_error(reply, &code, &msg, &field), LB_ENOTFOUND);
    CU_ASSERT_STRING_EQUAL(code, "not_found");
    CU_ASSERT_STRING_EQUAL(msg, "no case C000000042");
    CU_ASSERT_STRING_EQUAL(field, "case_id");
    lb_val_free(&reply);
    CU_ASSERT_EQUAL(lbc_errcode_parse("guard_failed"), LB_EGUARD);
    CU_ASSERT_EQUAL(lbc_errcode_parse("what"), LB_EINTERNAL);
    CU_ASSERT_EQUAL(lbc_reply_error(NULL, &code, NULL, NULL), LB_EINTERNAL);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_reply_without_delimiter_and_stale(void)
{
    fake_t f;
    fake_init(&f);
    f.no_delim = true;
    f.stale_first = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256];
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), 0);
        CU_ASSERT_TRUE(lbc_reply_ok(reply));
        /* The stale reply for another id came first and was dropped. */
        CU_ASSERT_PTR_NULL(lb_map_get(lbc_reply_result(reply), "stale"));
        CU_ASSERT_PTR_NOT_NULL(lb_map_get(lbc_reply_result(reply), "version"));
        lb_val_free(&reply);
    }
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_retry_keeps_id(void)
{
    fake_t f;
    fake_init(&f);
    f.drop_first = 1;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 300, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256] = "";
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_TRUE(lbc_reply_ok(reply));
    CU_ASSERT_EQUAL(atomic_load(&f.nreq), 2);
    pthread_mutex_lock(&f.mu);
    CU_ASSERT_STRING_EQUAL(f.ids[0], f.ids[1]);
    CU_ASSERT_STRING_EQUAL(f.ids[1], lbc_reply_id(reply));
    /* The retry came over a new connection, so a new routing id. */
    CU_ASSERT_FALSE(f.route_len[0] == f.route_len[1] &&
                    memcmp(f.routes[0], f.routes[1], f.route_len[0]) == 0);
    pthread_mutex_unlock(&f.mu);
    lb_val_free(&reply);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_timeout_unavailable(void)
{
    fake_t f;
    fake_init(&f);
    f.silent = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 100, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    lb_val_t *reply = NULL;
    char err[256] = "";
    int64_t t0 = mono_ms();
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    int64_t took = mono_ms() - t0;
    CU_ASSERT_PTR_NULL(reply);
    CU_ASSERT_TRUE(took >= 200 && took < 2000);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "2 tries"));
    CU_ASSERT_TRUE(fake_wait_requests(&f, 2));
    pthread_mutex_lock(&f.mu);
    CU_ASSERT_STRING_EQUAL(f.ids[0], f.ids[1]);
    pthread_mutex_unlock(&f.mu);
    lbc_destroy(&c);

    /* Nobody listening at all. */
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = "tcp://127.0.0.1:1";
    o.timeout_ms = 50;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    lbc_destroy(&c);
    o.endpoint = "nonsense://x";
    CU_ASSERT_EQUAL(lbc_connect(&o, &c, err, sizeof err), LB_EIO);
    fake_stop(&f);
}

static void test_pipeline(void)
{
    enum { N = 200 };
    fake_t f;
    fake_init(&f);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    static char ids[N][LBC_ID_LEN + 1];
    bool seen[N] = {false};
    for (int i = 0; i < N; i++) {
        lbc_new_id(ids[i]);
        lb_val_t *args = lb_map();
        lb_map_set_int(args, "i", i);
        CU_ASSERT_EQUAL(lbc_send(c, ids[i], "echo", args), 0);
        lb_val_free(&args);
    }
    for (int k = 0; k < N; k++) {
        lb_val_t *reply = NULL;
        CU_ASSERT_EQUAL_FATAL(lbc_recv(c, 5000, &reply), 0);
        int64_t i = -1;
        CU_ASSERT_EQUAL(lb_map_int(lbc_reply_result(reply), "i", &i), 0);
        CU_ASSERT_FATAL(i >= 0 && i < N);
        CU_ASSERT_STRING_EQUAL(lbc_reply_id(reply), ids[i]);
        CU_ASSERT_FALSE(seen[i]);
        seen[i] = true;
        lb_val_free(&reply);
    }
    lb_val_t *reply = NULL;
    CU_ASSERT_EQUAL(lbc_recv(c, 0, &reply), LB_EUNAVAIL);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_curve_handshake(void)
{
    char *dir = make_tmpdir();
    char err[256] = "", ccert[512], scert[512];
    lb_cert_t *server = NULL, *client = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&server), 0);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&client), 0);
    CU_ASSERT_EQUAL(lb_cert_save(server, dir, "server", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lb_cert_save(client, dir, "admin", err, sizeof err), 0);
    snprintf(ccert, sizeof ccert, "%s/admin.key_secret", dir);
    snprintf(scert, sizeof scert, "%s/server.key", dir);

    fake_t f;
    fake_init(&f);
    fake_add_event(&f, "case", "65010101");
    atomic_store(&f.visible, 1);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, server), 0);

    lbc_opts_t o;
    lbc_t *c = NULL;
    lbc_opts_init(&o);
    o.endpoint = f.endpoint;
    o.client_cert = ccert;
    o.server_cert = scert;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    lb_val_t *reply = NULL;
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), 0);
    CU_ASSERT_TRUE(lbc_reply_ok(reply));
    lb_val_free(&reply);

    /* The events socket uses the same keys. */
    lbc_sub_opts_t so = {.endpoint = f.events_endpoint};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    uint64_t seq = 0;
    lb_val_t *body = NULL;
    CU_ASSERT_EQUAL(lbc_sub_next(sub, 5000, &seq, &body, NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(seq, 1);
    lb_val_free(&body);
    lbc_sub_destroy(&sub);
    lbc_destroy(&c);

    /* A client that does not know the server's key never gets an answer. */
    lb_cert_t *wrong = NULL;
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&wrong), 0);
    o.server_cert = NULL;
    o.server_key = wrong;
    o.timeout_ms = 200;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    lbc_destroy(&c);
    lb_cert_destroy(&wrong);

    fake_stop(&f);
    lb_cert_destroy(&server);
    lb_cert_destroy(&client);
    remove_tmpdir(dir);
}

static void test_curve_refused_key_reported(void)
{
    lb_cert_t *server = NULL, *client = NULL;
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&server), 0);
    CU_ASSERT_EQUAL_FATAL(lb_cert_generate(&client), 0);
    fake_t f;
    fake_init(&f);
    f.zap_deny = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, server), 0);
    lbc_opts_t o;
    lbc_t *c = NULL;
    char err[256] = "";
    lbc_opts_init(&o);
    o.endpoint = f.endpoint;
    o.client_key = client;
    o.server_key = server;
    o.timeout_ms = 500;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    lb_val_t *reply = NULL;
    CU_ASSERT_EQUAL(lbc_call(c, "ping", NULL, &reply, err, sizeof err), LB_EUNAVAIL);
    if (!strstr(err, "refused this client's key"))
        fprintf(stderr, "\n  error was: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "refused this client's key"));
    CU_ASSERT_EQUAL(atomic_load(&f.nreq), 0);
    lbc_destroy(&c);
    fake_stop(&f);
    lb_cert_destroy(&server);
    lb_cert_destroy(&client);
}

static void test_default_paths(void)
{
    unsetenv("LOGBOOK_ENDPOINT");
    unsetenv("LOGBOOK_CERT");
    setenv("LOGBOOK_SERVER_CERT", "", 1);
    lbc_paths_t p = lbc_default_paths();
    CU_ASSERT_STRING_EQUAL(p.endpoint, "tcp://127.0.0.1:5560");
    CU_ASSERT_STRING_EQUAL(p.client_cert, "var/data/keys/admin.key_secret");
    CU_ASSERT_STRING_EQUAL(p.server_cert, "var/data/keys/server.key");
    setenv("LOGBOOK_ENDPOINT", "ipc:///run/logbook.sock", 1);
    setenv("LOGBOOK_CERT", "/etc/logbook/me.key_secret", 1);
    p = lbc_default_paths();
    CU_ASSERT_STRING_EQUAL(p.endpoint, "ipc:///run/logbook.sock");
    CU_ASSERT_STRING_EQUAL(p.client_cert, "/etc/logbook/me.key_secret");
    unsetenv("LOGBOOK_ENDPOINT");
    unsetenv("LOGBOOK_CERT");
    unsetenv("LOGBOOK_SERVER_CERT");

    char a[LBC_ID_LEN + 1], b[LBC_ID_LEN + 1];
    lbc_new_id(a);
    lbc_new_id(b);
    CU_ASSERT_EQUAL(strlen(a), LBC_ID_LEN);
    CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef"), LBC_ID_LEN);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

/* Waits until the XPUB has seen the subscription to topic (so publishing reaches it). */
static bool wait_subscribed(void *xpub, const char *topic)
{
    size_t tl = strlen(topic);
    int64_t end = mono_ms() + 5000;
    while (mono_ms() < end) {
        zmq_pollitem_t it = {xpub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, xpub, 0) < 0) {
            zmq_msg_close(&m);
            return false;
        }
        const uint8_t *d = zmq_msg_data(&m);
        bool hit = zmq_msg_size(&m) == tl + 1 && d[0] == 1 && memcmp(d + 1, topic, tl) == 0;
        zmq_msg_close(&m);
        if (hit)
            return true;
    }
    return false;
}

static void publish(fake_t *f, int seq)
{
    char topic[64];
    lb_val_t *v = NULL;
    proto_err_t perr;
    CU_ASSERT_EQUAL_FATAL(
        proto_unpack(f->events[seq].p, f->events[seq].len, &proto_default_limits, &v, &perr), 0);
    CU_ASSERT_EQUAL(lbc_event_topic(v, topic, sizeof topic), 0);
    lb_val_free(&v);
    zmq_send(f->xpub, topic, strlen(topic), ZMQ_SNDMORE);
    zmq_send(f->xpub, f->events[seq].p, f->events[seq].len, 0);
}

static void publish_hb(fake_t *f, int seq)
{
    lb_val_t *m = lb_map();
    lb_buf_t b;
    lb_buf_init(&b);
    lb_map_set_int(m, "seq", seq);
    lb_map_set_int(m, "at", 1700000000000);
    proto_pack(m, &b);
    zmq_send(f->xpub, "hb", 2, ZMQ_SNDMORE);
    zmq_send(f->xpub, b.p, b.len, 0);
    lb_buf_free(&b);
    lb_val_free(&m);
}

/* Next event from sub, expected to be `want`; checks raw bytes against the store. */
static void expect_event(fake_t *f, lbc_sub_t *sub, uint64_t want)
{
    uint64_t seq = 0;
    lb_val_t *body = NULL;
    lb_buf_t raw;
    char err[256] = "";
    lb_buf_init(&raw);
    int rc = lbc_sub_next(sub, 5000, &seq, &body, &raw, err, sizeof err);
    if (rc)
        fprintf(stderr, "\n  sub_next: %d %s\n", rc, err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(seq, want);
    int64_t bseq = 0;
    CU_ASSERT_EQUAL(lb_map_int(body, "seq", &bseq), 0);
    CU_ASSERT_EQUAL((uint64_t)bseq, want);
    CU_ASSERT_EQUAL(raw.len, f->events[want].len);
    CU_ASSERT(raw.len == f->events[want].len && memcmp(raw.p, f->events[want].p, raw.len) == 0);
    lb_val_free(&body);
    lb_buf_free(&raw);
}

static void test_sub_repairs_gap(void)
{
    fake_t f;
    fake_init(&f);
    for (int i = 0; i < 6; i++)
        fake_add_event(&f, "case", "65010101");
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char err[256] = "";
    lbc_sub_opts_t so = {.endpoint = f.events_endpoint, .after_seq = 0, .page = 2};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    CU_ASSERT_EQUAL(atomic_load(&f.since_calls), 1); /* the catch-up, empty */
    CU_ASSERT_TRUE_FATAL(wait_subscribed(f.xpub, ""));

    /* Seq 3 is committed but its publication is lost. */
    atomic_store(&f.visible, 5);
    publish(&f, 1);
    publish(&f, 2);
    publish(&f, 4);
    publish(&f, 5);
    for (uint64_t s = 1; s <= 5; s++)
        expect_event(&f, sub, s);
    CU_ASSERT_TRUE(atomic_load(&f.since_calls) >= 2);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 5);

    /* Late copies of 4 and 5 and a heartbeat at 5 deliver nothing; 6 comes next. */
    publish(&f, 4);
    publish(&f, 5);
    publish_hb(&f, 5);
    atomic_store(&f.visible, 6);
    publish(&f, 6);
    expect_event(&f, sub, 6);
    uint64_t seq = 0;
    lb_val_t *body = NULL;
    CU_ASSERT_EQUAL(lbc_sub_next(sub, 50, &seq, &body, NULL, err, sizeof err), LB_ENOTFOUND);
    CU_ASSERT_PTR_NULL(body);
    lbc_sub_destroy(&sub);
    CU_ASSERT_PTR_NULL(sub);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_sub_heartbeat_repair(void)
{
    fake_t f;
    fake_init(&f);
    f.events_as_bin = true; /* events.since may also carry the bodies as bin */
    for (int i = 0; i < 3; i++)
        fake_add_event(&f, "visit", "91010101");
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char err[256] = "";
    lbc_sub_opts_t so = {.endpoint = f.events_endpoint};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    CU_ASSERT_TRUE_FATAL(wait_subscribed(f.xpub, ""));
    /* Three events committed, none of them seen live: only the heartbeat tells. */
    atomic_store(&f.visible, 3);
    publish_hb(&f, 3);
    for (uint64_t s = 1; s <= 3; s++)
        expect_event(&f, sub, s);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 3);
    lbc_sub_destroy(&sub);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_sub_catchup_and_topics(void)
{
    fake_t f;
    fake_init(&f);
    fake_add_event(&f, "case", "65010101");       /* 1 */
    fake_add_event(&f, "escalation", "65010101"); /* 2 */
    fake_add_event(&f, "escalation", "65010202"); /* 3 */
    fake_add_event(&f, "escalation", "91010101"); /* 4 */
    fake_add_event(&f, "visit", "65010101");      /* 5 */
    fake_add_event(&f, "escalation", "65010303"); /* 6 */
    fake_add_event(&f, "escalation", "65019999"); /* 7 */
    fake_add_event(&f, "note", "65010101");       /* 8 */
    fake_add_event(&f, "escalation", "65010101"); /* 9 */
    atomic_store(&f.visible, 4);
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char err[256] = "";
    const char *topics[] = {"escalation.6501"};
    lbc_sub_opts_t so = {
        .endpoint = f.events_endpoint, .topics = topics, .ntopics = 1, .after_seq = 2, .page = 1};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    /* Caught up from seq 2: 3 matches, 4 is another province. */
    expect_event(&f, sub, 3);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 4);
    CU_ASSERT_TRUE_FATAL(wait_subscribed(f.xpub, "escalation.6501"));
    /* 5 is filtered by the SUB socket; 6 arrives live after the "gap"; 7 is lost. */
    atomic_store(&f.visible, 8);
    publish(&f, 6);
    publish_hb(&f, 8);
    expect_event(&f, sub, 6);
    expect_event(&f, sub, 7);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 8); /* 8 was fetched too, and does not match */
    atomic_store(&f.visible, 9);
    publish(&f, 9);
    expect_event(&f, sub, 9);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 9);
    lbc_sub_destroy(&sub);

    /* LBC_SEQ_NOW starts after the daemon's last seq. */
    so.after_seq = LBC_SEQ_NOW;
    CU_ASSERT_EQUAL_FATAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 9);
    lbc_sub_destroy(&sub);
    lbc_destroy(&c);
    fake_stop(&f);
}

static void test_sub_daemon_down_at_open(void)
{
    /* A subscriber opened while the daemon is away catches up once it answers. */
    lbc_opts_t o;
    lbc_t *c = NULL;
    char err[256];
    lbc_opts_init(&o);
    o.endpoint = "tcp://127.0.0.1:1";
    o.timeout_ms = 50;
    o.retries = 0;
    CU_ASSERT_EQUAL_FATAL(lbc_connect(&o, &c, err, sizeof err), 0);
    lbc_sub_opts_t so = {.endpoint = "tcp://127.0.0.1:2"};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL(lbc_sub_open(c, &so, &sub, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
    uint64_t seq;
    lb_val_t *body = NULL;
    CU_ASSERT_EQUAL(lbc_sub_next(sub, 10, &seq, &body, NULL, err, sizeof err), LB_EUNAVAIL);
    CU_ASSERT_EQUAL(lbc_sub_cursor(sub), 0);
    lbc_sub_destroy(&sub);
    so.after_seq = LBC_SEQ_NOW;
    CU_ASSERT_EQUAL(lbc_sub_open(c, &so, &sub, err, sizeof err), LB_EUNAVAIL);
    CU_ASSERT_PTR_NULL(sub);
    lbc_destroy(&c);
}

static void test_sub_refused(void)
{
    /* A key without events permission: the refusal is reported, not retried forever. */
    fake_t f;
    fake_init(&f);
    f.since_forbidden = true;
    CU_ASSERT_EQUAL_FATAL(fake_start(&f, NULL), 0);
    lbc_t *c = connect_plain(&f, 5000, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char err[256] = "";
    lbc_sub_opts_t so = {.endpoint = f.events_endpoint};
    lbc_sub_t *sub = NULL;
    CU_ASSERT_EQUAL(lbc_sub_open(c, &so, &sub, err, sizeof err), LB_EFORBIDDEN);
    CU_ASSERT_PTR_NULL(sub);
    CU_ASSERT_STRING_EQUAL(err, "events.since: forbidden: no events");
    so.endpoint = NULL;
    CU_ASSERT_EQUAL(lbc_sub_open(c, &so, &sub, err, sizeof err), LB_EBADREQ);
    lbc_destroy(&c);
    fake_stop(&f);
}

/* ---------------------------------------------------------------------- */
/* CSV                                                                     */
/* ---------------------------------------------------------------------- */

static void test_csv_bom_crlf(void)
{
    const char in[] = "\xEF\xBB\xBFhouse_id,area,head\r\n"
                      "65010000001,65010101,Somchai\r\n"
                      "\r\n"
                      "65010000002,65010101,\r\n";
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    char err[128];
    lbc_csv_init(&r, in, strlen(in));
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 1);
    CU_ASSERT_EQUAL_FATAL(row.n, 3);
    CU_ASSERT_STRING_EQUAL(row.fields[0], "house_id");
    CU_ASSERT_STRING_EQUAL(row.fields[2], "head");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 2);
    CU_ASSERT_STRING_EQUAL(row.fields[2], "Somchai");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 4); /* the empty line 3 is skipped */
    CU_ASSERT_EQUAL_FATAL(row.n, 3);
    CU_ASSERT_STRING_EQUAL(row.fields[2], "");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    /* LF only, no final newline. */
    lbc_csv_init(&r, "a,b\nc,d", 7);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 2);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "d");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_init(&r, "", 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_row_free(&row);
}

static void test_csv_quotes_and_thai(void)
{
    const char in[] = "1,\"a,b\",\"line one\r\nline two\",\"say \"\"hi\"\"\",\"\"\n"
                      "2,สมชาย ใจดี,\"น้ำ, ไฟ\",bmn22;bmn20\n";
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    char err[128];
    lbc_csv_init(&r, in, strlen(in));
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 1);
    CU_ASSERT_EQUAL_FATAL(row.n, 5);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "a,b");
    CU_ASSERT_STRING_EQUAL(row.fields[2], "line one\nline two");
    CU_ASSERT_STRING_EQUAL(row.fields[3], "say \"hi\"");
    CU_ASSERT_STRING_EQUAL(row.fields[4], "");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 3); /* the quoted newline took a line */
    CU_ASSERT_EQUAL_FATAL(row.n, 4);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "สมชาย ใจดี");
    CU_ASSERT_STRING_EQUAL(row.fields[2], "น้ำ, ไฟ");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_row_free(&row);
}

static void test_csv_malformed_lines(void)
{
    const char in[] = "h1,h2\n"             /* 1 */
                      "ok,row\n"            /* 2 */
                      "bad\"quote,x\n"      /* 3 */
                      "\"closed\"junk,y\n"  /* 4 */
                      "\"multi\nline\",z\n" /* 5-6 */
                      "\xff\xfe,w\n"        /* 7 */
                      "good,again\n"        /* 8 */
                      "\"never closed,\n"   /* 9 */
                      "more\n";
    lbc_csv_t r;
    lbc_csv_row_t row = {0};
    char err[128] = "";
    lbc_csv_init(&r, in, strlen(in));
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 2);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 3);
    CU_ASSERT_EQUAL(strncmp(err, "line 3: quote inside", 20), 0);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 4);
    CU_ASSERT_STRING_EQUAL(err, "line 4: text after a closing quote");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 5);
    CU_ASSERT_STRING_EQUAL(row.fields[0], "multi\nline");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "UTF-8"));
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), 0);
    CU_ASSERT_EQUAL(row.line, 8);
    CU_ASSERT_STRING_EQUAL(row.fields[1], "again");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(row.line, 9);
    CU_ASSERT_STRING_EQUAL(err, "line 9: unterminated quoted field");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_ENOTFOUND);
    /* An embedded NUL is refused too. */
    lbc_csv_init(&r, "a\0b,c\n", 6);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &row, err, sizeof err), LB_EBADREQ);
    lbc_csv_row_free(&row);

    /* A first field that is empty (a fresh row has stored nothing yet). */
    lbc_csv_row_t fresh = {0};
    lbc_csv_init(&r, ",x\n", 3);
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &fresh, err, sizeof err), 0);
    CU_ASSERT_EQUAL(fresh.n, 2);
    CU_ASSERT_STRING_EQUAL(fresh.fields[0], "");
    lbc_csv_row_free(&fresh);

    /* A quoted field over the limit, with a line end inside it: only its own record is lost. */
    size_t big = LBC_CSV_FIELD_MAX + 10;
    char *long_in = malloc(big + 64);
    size_t n = 0;
    long_in[n++] = '"';
    memset(long_in + n, 'a', big);
    n += big;
    n += (size_t)sprintf(long_in + n, "\nmore\"\"a\",x\nnext,row\n");
    lbc_csv_init(&r, long_in, n);
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &fresh, err, sizeof err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err, "line 1: field too long");
    CU_ASSERT_EQUAL_FATAL(lbc_csv_next(&r, &fresh, err, sizeof err), 0);
    CU_ASSERT_EQUAL(fresh.line, 3);
    CU_ASSERT_STRING_EQUAL(fresh.fields[0], "next");
    CU_ASSERT_EQUAL(lbc_csv_next(&r, &fresh, err, sizeof err), LB_ENOTFOUND);
    lbc_csv_row_free(&fresh);
    free(long_in);
}

/* ---------------------------------------------------------------------- */
/* Arguments, time, width                                                  */
/* ---------------------------------------------------------------------- */

static void test_kv_parse(void)
{
    lb_val_t *m = lb_map();
    char err[128] = "";
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "findings.income=bmn22,bmn20", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "findings.health=bmn4,", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "amount_thb=5000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "delta=-12", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "area=0065", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "team=\"6501\"", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "note=ครอบครัว=ดี", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "empty=", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "mixed=1, two ,3", err, sizeof err), 0);

    lb_val_t *want = lb_map(), *findings = lb_map(), *income = lb_arr(), *health = lb_arr();
    lb_arr_push(income, lb_str("bmn22"));
    lb_arr_push(income, lb_str("bmn20"));
    lb_arr_push(health, lb_str("bmn4"));
    lb_map_set(findings, "income", income);
    lb_map_set(findings, "health", health);
    lb_map_set(want, "findings", findings);
    lb_map_set_int(want, "amount_thb", 5000);
    lb_map_set_int(want, "delta", -12);
    lb_map_set_str(want, "area", "0065");
    lb_map_set_str(want, "team", "6501");
    lb_map_set_str(want, "note", "ครอบครัว=ดี");
    lb_map_set_str(want, "empty", "");
    lb_val_t *mixed = lb_arr();
    lb_arr_push(mixed, lb_int(1));
    lb_arr_push(mixed, lb_str("two"));
    lb_arr_push(mixed, lb_int(3));
    lb_map_set(want, "mixed", mixed);
    CU_ASSERT_TRUE(lb_val_equal(m, want));

    CU_ASSERT_EQUAL(lbc_kv_parse(m, "noequals", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEY=VALUE"));
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "=x", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "a..b=x", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "a.=x", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "amount_thb=1", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "twice"));
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "amount_thb.x=1", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "findings=1", err, sizeof err), LB_EBADREQ);
    CU_ASSERT_EQUAL(lbc_kv_parse(m, "big=99999999999999999999", err, sizeof err), 0);
    CU_ASSERT_EQUAL(lb_map_get(m, "big")->type, LB_STR);
    lb_val_free(&want);
    lb_val_free(&m);
}

static void test_parse_time(void)
{
    int64_t ms = 0;
    CU_ASSERT_EQUAL(lbc_parse_time("1700000000123", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1700000000123);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01T10:00:00Z", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200000);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01T17:00:00+07:00", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200000);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01 17:00+0700", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200000);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-03-01T10:00:00.25Z", &ms), 0);
    CU_ASSERT_EQUAL(ms, 1709287200250);
    CU_ASSERT_EQUAL(lbc_parse_time("2024-02-29", &ms), 0);
    struct tm tmv = {.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_isdst = -1};
    CU_ASSERT_EQUAL(ms, (int64_t)mktime(&tmv) * 1000);
    const char *bad[] = {"",
                         "2023-02-29",
                         "2024-13-01",
                         "2024-03-01T25:00",
                         "2024-03-01T10",
                         "2024-03-01X",
                         "2024-03-01T10:00+7",
                         "yesterday",
                         "12.5",
                         "99999999999999999999",
                         "2024-03-01T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (lbc_parse_time(bad[i], &ms) != LB_EBADREQ)
            fprintf(stderr, "\n  accepted: %s\n", bad[i]);
        CU_ASSERT_EQUAL(lbc_parse_time(bad[i], &ms), LB_EBADREQ);
    }
    char out[32];
    lbc_format_time(ms, out, sizeof out);
    CU_ASSERT_EQUAL(strlen(out), 16);
}

static void test_display_width(void)
{
    CU_ASSERT_EQUAL(lbc_display_width(""), 0);
    CU_ASSERT_EQUAL(lbc_display_width("abc"), 3);
    CU_ASSERT_EQUAL(lbc_display_width("สมชาย"), 5);
    CU_ASSERT_EQUAL(lbc_display_width("ใจดี"), 3); /* sara ii sits above */
    CU_ASSERT_EQUAL(lbc_display_width("น้ำ"), 2);  /* mai tho is zero width */
    CU_ASSERT_EQUAL(lbc_display_width("ที่นี่"), 2);  /* two marks on each */
    CU_ASSERT_EQUAL(lbc_display_width("กั๊ก"), 2);  /* mai han-akat and mai tri */
    CU_ASSERT_EQUAL(lbc_display_width("\xff"
                                      "a"),
                    2); /* a stray byte counts one */
}

/* ---------------------------------------------------------------------- */

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite cert = CU_add_suite("cert", NULL, NULL);
    CU_pSuite req = CU_add_suite("requests", NULL, NULL);
    CU_pSuite ev = CU_add_suite("events", NULL, NULL);
    CU_pSuite text = CU_add_suite("text", NULL, NULL);
    if (!cert || !req || !ev || !text ||
        !CU_add_test(cert, "Z85 test vector and bad input", test_z85_vector) ||
        !CU_add_test(cert, "Z85 matches libzmq", test_z85_against_libzmq) ||
        !CU_add_test(cert, "write and read a keypair", test_cert_round_trip) ||
        !CU_add_test(cert, "file modes 0600/0644, no temp files", test_cert_modes) ||
        !CU_add_test(cert, "reads pyzmq's format", test_cert_reads_pyzmq_format) ||
        !CU_add_test(cert, "malformed certificates refused", test_cert_malformed_refused) ||
        !CU_add_test(req, "call and reply", test_call_reply) ||
        !CU_add_test(req, "error reply", test_error_reply) ||
        !CU_add_test(req, "no delimiter, stale replies dropped",
                     test_reply_without_delimiter_and_stale) ||
        !CU_add_test(req, "retry keeps the request id", test_retry_keeps_id) ||
        !CU_add_test(req, "timeout gives LB_EUNAVAIL", test_timeout_unavailable) ||
        !CU_add_test(req, "pipelined sends", test_pipeline) ||
        !CU_add_test(req, "CURVE with generated certificates", test_curve_handshake) ||
        !CU_add_test(req, "refused key is reported", test_curve_refused_key_reported) ||
        !CU_add_test(req, "default paths and ids", test_default_paths) ||
        !CU_add_test(ev, "gap repaired, no duplicates", test_sub_repairs_gap) ||
        !CU_add_test(ev, "heartbeat ahead triggers repair", test_sub_heartbeat_repair) ||
        !CU_add_test(ev, "catch-up and topic filter", test_sub_catchup_and_topics) ||
        !CU_add_test(ev, "daemon down at open", test_sub_daemon_down_at_open) ||
        !CU_add_test(ev, "events.since refusal reported", test_sub_refused) ||
        !CU_add_test(text, "CSV: BOM, CRLF, empty lines", test_csv_bom_crlf) ||
        !CU_add_test(text, "CSV: quotes and Thai", test_csv_quotes_and_thai) ||
        !CU_add_test(text, "CSV: malformed rows and their lines", test_csv_malformed_lines) ||
        !CU_add_test(text, "KEY=VALUE arguments", test_kv_parse) ||
        !CU_add_test(text, "times", test_parse_time) ||
        !CU_add_test(text, "display width", test_display_width)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
