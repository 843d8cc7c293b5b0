/*
 * testd.h - integration-test harness: starts a real logbookd on free
 * loopback ports in a scratch folder, connects clients with the admin
 * certificate it generated, and stops it by its pid.
 */
#ifndef TESTD_H
#define TESTD_H

#include <stdbool.h>
#include <sys/types.h>

#include "../../clients/lib/client.h"

typedef struct {
    char dir[256]; /* scratch folder: config, data, log */
    char config[300];
    char data[300];
    char log[300];
    char req_ep[64];
    char ev_ep[64];
    int req_port, ev_port;
    pid_t pid;
    bool manual_clock;
    bool tmpfs;       /* data folder is a tmpfs mounted by testd_start */
    bool curve_off;   /* security.curve false: clients connect without certificates */
    lbc_t *admin;     /* a connected admin client */
    char *const *env; /* testd_opts_t.env, borrowed */
} testd_t;

typedef struct {
    bool manual_clock;
    const char *clients_yaml; /* text of the clients registry, or NULL for an empty one */
    const char *extra_config; /* more lines for logbookd.yaml (e.g. limits), or NULL */
    const char *workflows;    /* a workflows folder, default the repository's config/workflows */
    int batch_max;            /* 0 = default */
    int64_t rate_per_key;     /* limits.rate_per_key (burst twice that); 0 = the default 200 */
    int tmpfs_kb;             /* >0: the data folder is a tmpfs of this size (needs root) */
    const char *dir;          /* an existing folder to use instead of a fresh one (its data/
                                 may hold a store already), or NULL */
    char *const *env;         /* "NAME=value" entries added to the daemon's environment
                                 (NULL-terminated, borrowed until the daemon is stopped), or NULL */
    bool curve_off;           /* security.curve false (every client is admin; the bench's CURVE
                                 share) */
} testd_opts_t;

/*
 * Runs every registered CUnit suite: cu_run_registered() (cu.h), which also
 * counts daemons that did not exit 0 (testd_bad_exits). New mains call
 * cu_run() or cu_run_suites() instead; this stays for the ones not yet moved.
 */
int testd_run_all(void);

/* Creates the scratch folder and config, starts the daemon, waits for ping. 0 or -1
 * (-2 when opts ask for a tmpfs that cannot be mounted here). */
int testd_start(testd_t *t, const testd_opts_t *o);
/* A loopback TCP port the kernel says is free now (bound and released); -1 on error. */
int testd_free_port(void);

/* Starts the daemon again on the same folder and ports. */
int testd_restart(testd_t *t);
/*
 * Daemons that did not exit 0 when stopped (a sanitizer report, a crash);
 * each is also counted with cu_fail_outside(), so cu_run() fails on it.
 */
extern int testd_bad_exits;

/* SIGTERM, wait; returns the exit status (or -1). A non-zero one counts in testd_bad_exits. */
int testd_stop(testd_t *t);
/* SIGKILL, wait. */
void testd_kill(testd_t *t);
/* Stops if running and removes the scratch folder. */
void testd_cleanup(testd_t *t);

/* A new client with the given certificate (NULL = admin; none when t->curve_off) to the
 * requests socket. */
lbc_t *testd_client(testd_t *t, const char *cert_secret_path, int timeout_ms, int retries);
/* Calls op on the admin client; returns the reply (caller frees). args borrowed. */
lb_val_t *testd_call(testd_t *t, const char *op, const lb_val_t *args);
/*
 * Sends bytes as one request on a fresh REQ socket with the admin's keys and
 * returns the decoded reply, or NULL when none came within timeout_ms (or it
 * was not msgpack). For malformed and oversized requests.
 */
lb_val_t *testd_raw(testd_t *t, const void *buf, size_t len, int timeout_ms);

/* The reply's error code, or "" when ok. */
const char *testd_code(const lb_val_t *reply);

/* Writes a new client certificate NAME into the scratch folder; returns its Z85 public key. */
int testd_keygen(testd_t *t, const char *name, char pub_z85[41], char *secret_path, size_t pathlen);
/* Rewrites the clients registry and sends SIGHUP; waits until the reload is visible. */
int testd_set_clients(testd_t *t, const char *yaml);

/* A valid 13-digit national id built from a 12-digit seed. */
void testd_nid(unsigned long long seed, char out[14]);
/* A household map: house id from n, area given. */
lb_val_t *testd_household(unsigned long n, const char *area);

#endif
