/*
 * client_test.h - shared by test_client.c and its files in tests/unit/client/:
 * the helpers of helpers.c, the fake daemon of fake.c and each file's suite.
 */
#ifndef CLIENT_TEST_H
#define CLIENT_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../clients/lib/client.h"
#include "../../../clients/lib/csv.h"
#include "../../../proto/cert.h"
#include "../../../proto/proto.h"
#include "../../lib/cu.h"
#include "../../lib/tval.h"

/* CLOCK_MONOTONIC in milliseconds; sleeps ms milliseconds. */
int64_t mono_ms(void);
void nap_ms(long ms);
/* A new folder /tmp/lbc-test-XXXXXX (NULL on failure); remove_tmpdir removes a
 * flat folder with its files and frees the name. */
char *make_tmpdir(void);
void remove_tmpdir(char *dir);
/* Writes text to path (0 or -1); reads up to 64 KiB of path into a string the caller frees. */
int write_text(const char *path, const char *text);
char *read_text(const char *path);

/* The fake daemon (fake.c). */
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

/* A fake with nothing set; then set its behaviour, add events and fake_start it. */
void fake_init(fake_t *f);
/* Adds event seq = nevents + 1 to the fake's store (before fake_start). */
void fake_add_event(fake_t *f, const char *kind, const char *area);
/* Binds both sockets and starts the thread; server non-NULL = CURVE server on both. 0 or -1. */
int fake_start(fake_t *f, const lb_cert_t *server);
/* Stops the thread, closes everything (also after a failed fake_start). */
void fake_stop(fake_t *f);
/* Waits (polling, bounded) until the fake has seen n requests. */
bool fake_wait_requests(fake_t *f, int n);
/* A plain (no CURVE) client of f's ROUTER; asserts the connect succeeds. */
lbc_t *connect_plain(fake_t *f, int timeout_ms, int retries);

extern const cu_suite_t client_cert_suite;
extern const cu_suite_t client_requests_suite;
extern const cu_suite_t client_events_suite;
extern const cu_suite_t client_text_suite;

#endif
