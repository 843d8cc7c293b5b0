/*
 * client/events.c - event subscriptions against the fake daemon: gap repair, heartbeats, catch-up,
 * topics, refusals.
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

static const cu_test_t tests[] = {
    {"gap repaired, no duplicates", test_sub_repairs_gap},
    {"heartbeat ahead triggers repair", test_sub_heartbeat_repair},
    {"catch-up and topic filter", test_sub_catchup_and_topics},
    {"daemon down at open", test_sub_daemon_down_at_open},
    {"events.since refusal reported", test_sub_refused},
};
const cu_suite_t client_events_suite = {.name = "events", .tests = tests, .n = CU_COUNT(tests)};
