/*
 * daemon.h - the parts of logbookd: configuration, the clients registry,
 * keys and personal-data sealing, the operation handlers and the request
 * loop with group commit. The daemon owns the order of work; proto/,
 * workflow/ and store/ do the rest.
 *
 * Threads: logbookd's loop thread does all socket work, every write and the
 * reads that are not pooled. Nothing here locks; every function is for that
 * thread only, except lbd_log (any thread, one write(2)-sized line each) and
 * the two flags (set from anywhere). The reader threads (readers.h, config
 * `readers`) run read-only handlers on what the loop swaps only with them
 * quiesced (internal.h says what). lbd_fdmon's watcher only reads libzmq
 * events and logs.
 * Errors: 0 or a negative LB_E* code (proto/lb.h); a function that takes
 * (err, errlen) also writes the reason there, NUL-terminated and truncated.
 */
#ifndef LBD_DAEMON_H
#define LBD_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "../proto/lb.h"
#include "../proto/proto.h"
#include "../proto/users.h"
#include "../store/store.h"
#include "../workflow/workflow.h"

/* ---- logging ---- */

enum { LBD_LOG_ERROR = 0, LBD_LOG_WARN, LBD_LOG_INFO, LBD_LOG_DEBUG };
/* Messages above this level are dropped. Set once at start-up (from the config). */
extern int lbd_log_level;
/*
 * Writes one line "TIME LEVEL message" to stderr (journald adds the rest),
 * cut at 1 KiB. Never fails, never allocates. Never pass secrets or personal
 * data.
 */
void lbd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error", "warn", "info", "debug" -> level, or -1. */
int lbd_log_level_parse(const char *s);

/* ---- configuration (PROTOCOL.md section 8) ---- */

typedef struct {
    char *path;     /* the config file */
    char *data_dir; /* resolved against the config file's folder */
    char **req_endpoints;
    size_t n_req;
    char **ev_endpoints;
    size_t n_ev;
    char **workflows; /* one folder, or a list of files */
    size_t n_workflows;
    char *indicators;
    char *holidays; /* the public holidays file ("": none, working days are Mon-Fri) */
    char *areas;    /* the gazetteer (PROTOCOL.md 9.16); "" = none: codes only */
    char *default_workflow;
    bool curve;
    char *server_cert;
    char *clients;
    char *keys_dir;       /* security.keys_dir; default DATA_DIR/keys */
    bool bootstrap_admin; /* security.bootstrap_admin: admit the generated admin key */
    char *users;          /* security.users: the users file of gateway keys ("": no users) */
    int64_t max_message_bytes;
    int64_t batch_max;
    int64_t case_records;    /* limits.case_records: records one case may hold */
    int64_t rate_per_key;    /* limits.rate_per_key: requests a second, per client key */
    int64_t burst_per_key;   /* limits.burst_per_key: the token bucket's size */
    int64_t max_connections; /* limits.max_connections: sizes the descriptor limit */
    int log_level;
    int64_t readers;    /* reader threads for read-only requests; 0 = reads run on the loop */
    char *readers_hold; /* readers_hold_for_test: a FIFO each pooled read waits on ("": none) */
} lbd_config_t;

/*
 * Reads and checks a config file against the option table of config.c:
 * unknown keys, missing required ones (data_dir, workflows, indicators),
 * wrong types and values out of bounds are refused; relative paths resolve
 * against the file's folder. 0 with cfg filled (its strings are the
 * caller's until lbd_config_clear); LB_ECONFIG with the reason naming the
 * file and the key in err; LB_ENOMEM. On error cfg holds nothing to free
 * beyond what lbd_config_clear frees (call it in every case).
 */
int lbd_config_load(const char *path, lbd_config_t *cfg, char *err, size_t errlen);
/* Frees what cfg holds and zeroes it; safe on a zeroed or cleared cfg. */
void lbd_config_clear(lbd_config_t *cfg);

/* ---- clients registry (PROTOCOL.md section 6) ---- */

/* The roles are proto/users.h's one list; gateway keys act for people (PROTOCOL.md 9.15). */
typedef lb_role_t lbd_role_t;
#define LBD_ROLE_FIELD LB_ROLE_FIELD
#define LBD_ROLE_COMMITTEE LB_ROLE_COMMITTEE
#define LBD_ROLE_REPORTER LB_ROLE_REPORTER
#define LBD_ROLE_ADMIN LB_ROLE_ADMIN
#define LBD_ROLE_GATEWAY LB_ROLE_GATEWAY

/* A client's name: 63 bytes in the registry; "USER via KEYNAME" for a person via a gateway. */
#define LBD_CLIENT_NAME_MAX (2 * LB_USER_NAME_MAX + 8)

typedef struct {
    char name[LBD_CLIENT_NAME_MAX]; /* also the actor events record */
    uint8_t key[32];
    char key_z85[41];
    lbd_role_t role;
    char **areas; /* prefixes; "" means every area ("*" in the file) */
    size_t n_areas;
    bool events;
} lbd_client_t;

typedef struct {
    lbd_client_t *v;
    size_t n;
} lbd_registry_t;

/*
 * Loads the registry file (may be NULL: empty registry) and adds `admin`
 * with admin_key (role admin, every area, events allowed) unless a client
 * of that key is listed (admin_key NULL: no admin added). 0 with *reg the
 * caller's until lbd_registry_clear; LB_ECONFIG with the reason (file and
 * client named) in err for a bad file, a bad entry, a name or key listed
 * twice, or a listed client named "admin" with another key; LB_ENOMEM. *reg
 * is untouched on error.
 */
int lbd_registry_load(const char *path, const uint8_t admin_key[32], lbd_registry_t *reg, char *err,
                      size_t errlen);
/*
 * lbd_registry_load(cfg->clients, ...) as security.bootstrap_admin says:
 * true admits admin_key as above; false leaves it out, and then the file
 * must list a client of role admin, else LB_ECONFIG (an operator must never
 * lock themselves out). Same returns and ownership as lbd_registry_load.
 */
int lbd_registry_load_cfg(const lbd_config_t *cfg, const uint8_t admin_key[32], lbd_registry_t *reg,
                          char *err, size_t errlen);
/* Frees the clients and zeroes reg; safe on a zeroed or cleared reg. */
void lbd_registry_clear(lbd_registry_t *reg);
/*
 * The client of a key or a name, or NULL. Borrowed from reg: valid until
 * reg is cleared, which a reload does (lbd_reload), so never keep one
 * across requests.
 */
const lbd_client_t *lbd_registry_by_key(const lbd_registry_t *reg, const uint8_t key[32]);
const lbd_client_t *lbd_registry_by_name(const lbd_registry_t *reg, const char *name);
/* "field", "committee", "reporter", "admin", "gateway" (lb_role_name); static storage. */
const char *lbd_role_name(lbd_role_t r);
/* true when area (2-8 digits) lies inside one of the client's prefixes. */
bool lbd_client_covers(const lbd_client_t *c, const char *area);

/* ---- keys and personal data ---- */

typedef struct {
    uint8_t server_public[32];
    uint8_t server_secret[32];
    uint8_t admin_public[32];
    uint8_t *pii_key; /* sodium_malloc'd, 32 bytes: AEAD key for personal data */
    uint8_t *nid_key; /* sodium_malloc'd, 32 bytes: BLAKE2b key for national-id hashes */
} lbd_keys_t;

/*
 * Loads the keys from DATA_DIR/keys, creating what is missing on first start
 * (server and admin certificates, the two data keys, mode 0600, written
 * crash-safe). 0 with keys filled (the caller's until lbd_keys_clear);
 * LB_ECONFIG (a file unreadable, unwritable or malformed; reason in err),
 * LB_ENOMEM, LB_EINTERNAL (libsodium will not start). On error keys holds
 * nothing.
 */
int lbd_keys_load(const lbd_config_t *cfg, lbd_keys_t *keys, char *err, size_t errlen);
/* Wipes and frees the secrets, zeroes keys; safe on a zeroed or cleared keys. */
void lbd_keys_clear(lbd_keys_t *keys);

/*
 * Seals the personal part of a household (the whole household map) with the
 * case id as associated data, so a ciphertext cannot be moved to another case.
 * Appends the sealed bytes to out (out->len unchanged on error). 0 or
 * LB_ENOMEM. The household is packed into out and encrypted there in place,
 * so no plaintext copy outlives the call (on an error it is wiped).
 */
int lbd_pii_seal(const lbd_keys_t *keys, const char *case_id, const lb_val_t *household,
                 lb_buf_t *out);
/*
 * Opens what lbd_pii_seal made for case_id. 0 with *household owned by the
 * caller (lb_val_free); LB_ECORRUPT when the bytes do not open with this key
 * and case id or do not decode; LB_ENOMEM. *household NULL on error.
 */
int lbd_pii_open(const lbd_keys_t *keys, const char *case_id, const void *sealed, size_t len,
                 lb_val_t **household);
/* Keyed hash of a national id for look-up. Never fails. */
void lbd_nid_hash(const lbd_keys_t *keys, const char *nid, uint8_t out[32]);

/* ---- descriptors (fdlimit.c) ---- */

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit (fs.nr_open when that is
 * unlimited) and logs a warning when the result is below max_connections
 * plus a reserve of 64. Returns the soft limit now in force (0 when it
 * cannot be read). Never fails: a daemon with fewer descriptors still serves.
 */
rlim_t lbd_fd_limit_raise(int64_t max_connections);

typedef struct lbd_fdmon lbd_fdmon_t;
/*
 * Watches socks[0..n) (1 to 4 bound libzmq sockets of zctx) for accepts
 * that fail with EMFILE/ENFILE and logs them, at most one error line every
 * 10 s with the count. A thread of its own drains libzmq's monitors at
 * once, because libzmq blocks its I/O thread on a monitor nobody reads.
 * Call from the sockets' thread. 0 with *out the caller's (lbd_fdmon_join),
 * or LB_EIO with *out NULL and nothing left watching.
 */
int lbd_fdmon_start(void *zctx, void *const *socks, size_t n, lbd_fdmon_t **out);
/*
 * Waits for the watcher to end, which it does when zctx terminates: call it
 * after zmq_ctx_term (which waits in turn for the watcher's socket). Frees
 * *m and sets it NULL; safe on NULL.
 */
void lbd_fdmon_join(lbd_fdmon_t **m);

/* ---- the daemon ---- */

typedef struct lbd lbd_t;

typedef struct {
    const char *config_path;
    bool manual_clock;
    bool foreground;
} lbd_opts_t;

/* Set (to 1) to stop lbd_run / reload at its next turn; any thread or a signal handler. */
extern volatile sig_atomic_t lbd_stop_flag;
extern volatile sig_atomic_t lbd_reload_flag;

/*
 * Checks the op table, loads config, keys, workflows, catalog, gazetteer, registry and
 * the store, blocks SIGTERM/SIGINT/SIGHUP (taken through a signalfd
 * afterwards), starts libzmq and binds the sockets. Call before any other
 * thread exists. 0 with *out the caller's (lbd_destroy); on error *out is
 * NULL, err says why and the code is LB_ECONFIG (config, keys, definitions,
 * registry, a bind), LB_EVERSION/LB_ECORRUPT (the store), LB_EIO (signalfd,
 * libzmq), LB_EINTERNAL (the op table) or LB_ENOMEM.
 */
int lbd_new(const lbd_opts_t *opts, lbd_t **out, char *err, size_t errlen);
/*
 * Fires timers that fell due while down, tells systemd READY=1, then serves
 * until lbd_stop_flag is set. 0 on a clean stop, LB_EIO when polling failed
 * (the supervisor should restart). Request and store errors are answered or
 * logged, never returned.
 */
int lbd_run(lbd_t *d);
/* Closes sockets, then libzmq, then the store; frees d, sets *d NULL; safe on NULL. */
void lbd_destroy(lbd_t **d);

#endif
