/*
 * web.h - logbook-web, the HTTP gateway: people log in with a name and
 * password (the users file, proto/users.h) and the gateway acts for them on
 * logbookd with its own CURVE key (role gateway) and `as: USER` on every
 * request, so the daemon, not the gateway, applies each person's role and
 * areas. The JSON API (docs/API.md), OpenRosa for ODK Collect and Enketo,
 * Server-Sent Events and /metrics all live here.
 *
 * Threads: libmicrohttpd runs one thread per connection; every module below
 * keeps its own lock, and what it hands out is a copy the caller owns.
 */
#ifndef WEB_H
#define WEB_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../proto/lb.h"
#include "../../proto/users.h"
#include "../lib/client.h"

#define WEB_VERSION "1.0.0"
#define WEB_BODY_MAX (1 << 20) /* a JSON body */
#define WEB_SUBMISSION_MAX                                                                         \
    (10 << 20)                       /* an OpenRosa submission (X-OpenRosa-Accept-Content-Length) */
#define WEB_SESSION_IDLE_S (30 * 60) /* a session unused this long ends */
#define WEB_SESSIONS_MAX 10000
#define WEB_TOKEN_HEX 64             /* 256 random bits as hex */
#define WEB_LOGIN_FAILS 5            /* failures a user or an address may have ... */
#define WEB_LOGIN_WINDOW_S (15 * 60) /* ... in this window before logins are refused */
#define WEB_AREAS_MAX 512            /* bytes of a user's areas, comma-joined */

/* ---------------------------------------------------------------------- */
/* Configuration (config.c)                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
    char listen_addr[64]; /* "127.0.0.1" */
    int port;             /* 8080 */
    char endpoint[256], events_endpoint[256];
    char cert[PATH_MAX], server_cert[PATH_MAX];
    char users[PATH_MAX];
    char indicators[PATH_MAX]; /* the indicator catalog; default indicators.yaml beside the file */
    char tls_cert[PATH_MAX], tls_key[PATH_MAX]; /* both "" = no TLS */
    char static_dir[PATH_MAX];
    bool behind_tls_proxy;
} web_config_t;

/*
 * Reads the YAML file at path into *cfg (defaults for what is absent;
 * relative paths resolved from the file's folder). Unknown keys, anchors,
 * aliases and bad values are refused. Returns 0; LB_ECONFIG or LB_EIO with
 * err = "path: reason".
 */
int web_config_load(const char *path, web_config_t *cfg, char *err, size_t errlen);

/* One indicator of the catalog (config/indicators.yaml). */
typedef struct {
    char code[17];
    char dimension[16];
    char th[512], en[256];
} web_indicator_t;

typedef struct {
    web_indicator_t *v;
    size_t n;
} web_catalog_t;

/* Reads the catalog; a missing file is an empty catalog. 0; LB_ECONFIG/LB_EIO/LB_ENOMEM. */
int web_catalog_load(const char *path, web_catalog_t *cat, char *err, size_t errlen);
void web_catalog_free(web_catalog_t *cat);

/* ---------------------------------------------------------------------- */
/* Users and sessions (people.c)                                           */
/* ---------------------------------------------------------------------- */

/* What a request knows about its person: a copy, valid after the file changes. */
typedef struct {
    char name[LB_USER_NAME_MAX];
    lb_role_t role;
    char areas[WEB_AREAS_MAX]; /* comma-joined prefixes; "*" = every area */
    char csrf[WEB_TOKEN_HEX + 1];
    char token[WEB_TOKEN_HEX + 1]; /* "" when authenticated by Basic */
} web_person_t;

typedef struct web_people web_people_t;

/* Loads the users file (may be missing: nobody can log in). 0 or the errors of lb_users_load. */
int web_people_new(const char *users_path, web_people_t **out, char *err, size_t errlen);
void web_people_destroy(web_people_t **p);
/*
 * Reloads the users file when its inode, size or mtime changed (force: always).
 * A file that fails to parse keeps the old list (logged). Returns 1 when
 * reloaded, 0 when unchanged, < 0 on error.
 */
int web_people_poll(web_people_t *p, bool force);

/* The person called name when active: 0 with *out filled; LB_ENOTFOUND (unknown or disabled). */
int web_people_get(web_people_t *p, const char *name, web_person_t *out);

/*
 * Checks name and password from addr (for rate limiting and the log).
 * 0 with *out filled; LB_ERATELIMIT (too many recent failures for the user
 * or the address; *retry_s says when to try again); LB_EFORBIDDEN (wrong
 * name or password, or a disabled user: logged).
 */
int web_people_login(web_people_t *p, const char *name, const char *password, const char *addr,
                     web_person_t *out, int *retry_s);

/* Starts a session for *who: fills who->token and who->csrf. 0; LB_ETOOLARGE (table full). */
int web_session_new(web_people_t *p, web_person_t *who);
/*
 * The session whose token is cookie, with its person's current role and
 * areas. 0; LB_ENOTFOUND (no such session, idle too long, or its user is
 * gone or disabled: the session ends).
 */
int web_session_get(web_people_t *p, const char *token, web_person_t *out);
/* Ends the session. Safe on an unknown token. */
void web_session_end(web_people_t *p, const char *token);
/* Live sessions (for /metrics). */
size_t web_session_count(web_people_t *p);
uint64_t web_login_failures(web_people_t *p);

/* true when area (2-8 digits) lies inside one of who's prefixes. */
bool web_person_covers(const web_person_t *who, const char *area);

/* ---------------------------------------------------------------------- */
/* The daemon (upstream.c)                                                 */
/* ---------------------------------------------------------------------- */

typedef struct web_up web_up_t;

int web_up_new(const web_config_t *cfg, web_up_t **out, char *err, size_t errlen);
void web_up_destroy(web_up_t **u);

/*
 * Calls op as user (lbc_call_as) on a pooled connection. id NULL = a fresh
 * random id. Counts the call for /metrics. Returns as lbc_call: 0 when a
 * reply came (ok or not), *reply owned by the caller; LB_EUNAVAIL ...
 */
int web_up_call(web_up_t *u, const char *user, const char *id, const char *op, const lb_val_t *args,
                lb_val_t **reply, char *err, size_t errlen);

/* Appends the request counters and histogram in Prometheus text format. */
int web_up_metrics(web_up_t *u, lb_buf_t *out);

/* ---------------------------------------------------------------------- */
/* Idempotency memory (idem.c)                                             */
/* ---------------------------------------------------------------------- */

#define WEB_IDEM_MAX 65536
#define WEB_IDEM_TTL_S (24 * 3600)

typedef struct web_idem web_idem_t;
int web_idem_new(web_idem_t **out);
void web_idem_destroy(web_idem_t **m);
/*
 * Remembers that request id carried a body with this digest. 0 when new or
 * the same digest; LB_ECONFLICT when the id was seen with another body.
 */
int web_idem_check(web_idem_t *m, const char *id, const uint8_t digest[16]);

/*
 * The daemon request id for a person's key (Idempotency-Key, instanceID):
 * "USER:KEY" when it fits 64 bytes, else "#" and 56 hex digits of a BLAKE2b
 * of it (no user name holds '#', so the two forms never meet). 0, or
 * LB_EBADREQ when key is empty, over 256 bytes or holds a control character.
 */
int web_request_id(const char *user, const char *key, char out[65]);

/* ---------------------------------------------------------------------- */
/* JSON (json.c), fuzzed by fuzz_json                                      */
/* ---------------------------------------------------------------------- */

#define WEB_JSON_DEPTH 16

/*
 * Parses a JSON body (one object) into a value: objects are maps, integers
 * ints, reals floats, strings str; null, duplicate keys, depth over
 * WEB_JSON_DEPTH, a body over WEB_BODY_MAX are refused. 0 with *out owned by
 * the caller; LB_EBADREQ with err (and field, the path, when known);
 * LB_ETOOLARGE; LB_ENOMEM.
 */
int web_json_parse(const char *body, size_t len, lb_val_t **out, char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* OpenRosa submissions (multipart.c, submission.c), fuzzed by fuzz_submission */
/* ---------------------------------------------------------------------- */

/*
 * Finds the part called name in a multipart/form-data body whose
 * Content-Type header is content_type. 0 with *part and *part_len pointing into
 * body; LB_ENOTFOUND (no such part); LB_EBADREQ with err (not multipart, no
 * or bad boundary, a malformed part).
 */
int web_multipart_find(const char *content_type, const uint8_t *body, size_t len, const char *name,
                       const uint8_t **part, size_t *part_len, char *err, size_t errlen);

#define WEB_FORM_ID_MAX 128

/* An ODK submission: the form's id, meta/instanceID and the other fields. */
typedef struct {
    char form_id[WEB_FORM_ID_MAX];
    char instance_id[WEB_FORM_ID_MAX];
    lb_val_t *fields; /* map: element name -> text (str), or a group (map) */
} web_submission_t;

/*
 * Parses an XForms instance (libxml2, no DTD, no entities, no network):
 * the root's id attribute is the form, meta/instanceID the instance; other
 * elements become fields (groups nest up to 4 levels; a repeated name is
 * refused). 0 with *out filled (web_submission_free); LB_EBADREQ with err;
 * LB_ENOMEM.
 */
int web_submission_parse(const uint8_t *xml, size_t len, web_submission_t *out, char *err,
                         size_t errlen);
void web_submission_free(web_submission_t *s);

/* ---------------------------------------------------------------------- */
/* The gateway                                                             */
/* ---------------------------------------------------------------------- */

typedef struct {
    web_config_t cfg;
    web_people_t *people;
    web_up_t *up;
    web_idem_t *idem;
    web_catalog_t cat;
    bool tls;
    volatile sig_atomic_t stop;
} web_t;

#endif
