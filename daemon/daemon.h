/*
 * daemon.h - the parts of logbookd: configuration, the clients registry,
 * keys and personal-data sealing, the operation handlers and the request
 * loop with group commit. The daemon owns the order of work; proto/,
 * workflow/ and store/ do the rest.
 */
#ifndef LBD_DAEMON_H
#define LBD_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/lb.h"
#include "../proto/proto.h"
#include "../store/store.h"
#include "../workflow/workflow.h"

/* ---- logging ---- */

enum { LBD_LOG_ERROR = 0, LBD_LOG_WARN, LBD_LOG_INFO, LBD_LOG_DEBUG };
extern int lbd_log_level;
void lbd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error", "warn", "info", "debug" -> level, or -1. */
int lbd_log_level_parse(const char *s);

/* ---- configuration (PROTOCOL.md section 8) ---- */

typedef struct {
    char *path;      /* the config file */
    char *data_dir;  /* resolved against the config file's folder */
    char **req_endpoints;
    size_t n_req;
    char **ev_endpoints;
    size_t n_ev;
    char **workflows; /* one folder, or a list of files */
    size_t n_workflows;
    char *indicators;
    char *default_workflow;
    bool curve;
    char *server_cert;
    char *clients;
    int64_t max_message_bytes;
    int64_t batch_max;
    int log_level;
} lbd_config_t;

/* Reads and checks a config file. LB_ECONFIG with the reason in err. */
int lbd_config_load(const char *path, lbd_config_t *cfg, char *err, size_t errlen);
void lbd_config_clear(lbd_config_t *cfg);

/* ---- clients registry (PROTOCOL.md section 6) ---- */

typedef enum { LBD_ROLE_FIELD = 0, LBD_ROLE_COMMITTEE, LBD_ROLE_REPORTER, LBD_ROLE_ADMIN } lbd_role_t;

typedef struct {
    char name[64];
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
 * of that key is listed. LB_ECONFIG with the reason.
 */
int lbd_registry_load(const char *path, const uint8_t admin_key[32], lbd_registry_t *reg,
                      char *err, size_t errlen);
void lbd_registry_clear(lbd_registry_t *reg);
const lbd_client_t *lbd_registry_by_key(const lbd_registry_t *reg, const uint8_t key[32]);
const lbd_client_t *lbd_registry_by_name(const lbd_registry_t *reg, const char *name);
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
 * (server and admin certificates, the two data keys, mode 0600).
 */
int lbd_keys_load(const lbd_config_t *cfg, lbd_keys_t *keys, char *err, size_t errlen);
void lbd_keys_clear(lbd_keys_t *keys);

/*
 * Seals the personal part of a household (the whole household map) with the
 * case id as associated data, so a ciphertext cannot be moved to another case.
 */
int lbd_pii_seal(const lbd_keys_t *keys, const char *case_id, const lb_val_t *household,
                 lb_buf_t *out);
int lbd_pii_open(const lbd_keys_t *keys, const char *case_id, const void *sealed, size_t len,
                 lb_val_t **household);
/* Keyed hash of a national id for look-up. */
void lbd_nid_hash(const lbd_keys_t *keys, const char *nid, uint8_t out[32]);

/* ---- the daemon ---- */

typedef struct lbd lbd_t;

typedef struct {
    const char *config_path;
    bool manual_clock;
    bool foreground;
} lbd_opts_t;

extern volatile sig_atomic_t lbd_stop_flag;
extern volatile sig_atomic_t lbd_reload_flag;

/* Loads config, keys, workflows, registry and the store; binds sockets. */
int lbd_new(const lbd_opts_t *opts, lbd_t **out, char *err, size_t errlen);
/* Serves until lbd_stop_flag is set; returns 0 on clean shutdown. */
int lbd_run(lbd_t *d);
void lbd_destroy(lbd_t **d);

#endif
