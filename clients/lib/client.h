/*
 * client.h - the client library shared by logbook, logbook-report,
 * logbook-notify, logbook-sim, the integration tests and the benchmark:
 * connect (DEALER, optional CURVE), request/reply with idempotent retries,
 * pipelined sends, an event subscriber that repairs gaps (the Clone pattern),
 * and the small text helpers the command-line tools share.
 *
 * Threads: objects are not thread-safe. An lbc_t and the subscribers that
 * borrow it are used by one thread at a time (one per thread is simplest);
 * functions that take no lbc_t or lbc_sub_t keep no shared state and may be
 * called from any thread (lbc_default_paths reads the environment).
 * Errors: 0 or a negative LB_E* code; err (may be NULL) gets a reason.
 * A reply, body or value handed out through an out-parameter is owned by
 * the caller (lb_val_free); a pointer returned by a getter is borrowed from
 * its argument and valid as long as that is.
 */
#ifndef LBC_CLIENT_H
#define LBC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../proto/cert.h"
#include "../../proto/lb.h"

#define LBC_ID_LEN 16 /* hex characters of a generated request id */

#define LBC_DEFAULT_ENDPOINT "tcp://127.0.0.1:5560"
#define LBC_DEFAULT_EVENTS_ENDPOINT "tcp://127.0.0.1:5561"
#define LBC_DEFAULT_CERT "var/data/keys/admin.key_secret"
#define LBC_DEFAULT_SERVER_CERT "var/data/keys/server.key"
/* The keys of the installed daemon (data_dir /var/lib/logbook, see logbookd(8)). */
#define LBC_INSTALLED_CERT "/var/lib/logbook/keys/admin.key_secret"
#define LBC_INSTALLED_SERVER_CERT "/var/lib/logbook/keys/server.key"
#define LBC_DEFAULT_TIMEOUT_MS 5000
#define LBC_DEFAULT_RETRIES 2

/* ---------------------------------------------------------------------- */
/* Defaults                                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
    const char *endpoint;        /* $LOGBOOK_ENDPOINT, else LBC_DEFAULT_ENDPOINT */
    const char *events_endpoint; /* $LOGBOOK_EVENTS_ENDPOINT, else LBC_DEFAULT_EVENTS_ENDPOINT */
    const char *client_cert;     /* $LOGBOOK_CERT, else LBC_DEFAULT_CERT */
    const char *server_cert;     /* $LOGBOOK_SERVER_CERT, else LBC_DEFAULT_SERVER_CERT */
    bool installed_keys;         /* a cert is LBC_INSTALLED_*: say so to the user */
} lbc_paths_t;

/*
 * The default endpoints and certificate paths. The strings are static or
 * come from getenv: valid until the environment changes. An empty variable
 * counts as unset. When the working folder has no var/data (not a checkout
 * after `make run`) and a certificate variable is unset, the installed
 * daemon's file (LBC_INSTALLED_*) is taken instead, if it is readable.
 */
lbc_paths_t lbc_default_paths(void);

/* ---------------------------------------------------------------------- */
/* Connection and requests                                                 */
/* ---------------------------------------------------------------------- */

typedef struct lbc lbc_t;

typedef struct {
    const char *endpoint; /* required: the daemon's requests endpoint */
    /*
     * CURVE is used when both a client and a server key are given, each
     * either as a path (client: NAME.key_secret; server: NAME.key or
     * NAME.key_secret) or as a loaded certificate (copied; takes precedence
     * over the path). Neither = plain connection; only one = LB_EBADREQ.
     */
    const char *client_cert;
    const char *server_cert;
    const lb_cert_t *client_key;
    const lb_cert_t *server_key;
    int timeout_ms; /* wait per try; <= 0 = LBC_DEFAULT_TIMEOUT_MS */
    int retries;    /* resends after the first try; < 0 = none */
    void *zmq_ctx;  /* borrowed ZeroMQ context (must outlive the lbc_t); NULL = own one */
} lbc_opts_t;

/* Zeroes *o and sets timeout_ms and retries to their defaults. Cannot fail. */
void lbc_opts_init(lbc_opts_t *o);

/*
 * Creates a DEALER socket (ZMQ_LINGER 0) connected to opts->endpoint, with
 * CURVE as described in lbc_opts_t. ZeroMQ connects in the background, so a
 * daemon that is down shows only when a call times out.
 * *out is owned by the caller (lbc_destroy). err (may be NULL) gets a reason.
 * Returns 0; LB_EBADREQ (no endpoint, half a CURVE configuration);
 * LB_EIO / LB_ECONFIG from reading a certificate (see lb_cert_load);
 * LB_EIO when ZeroMQ refuses the endpoint or an option; LB_ENOMEM.
 */
int lbc_connect(const lbc_opts_t *opts, lbc_t **out, char *err, size_t errlen);

/* Closes the socket (pending messages are dropped), frees, sets *c NULL. Safe on NULL. */
void lbc_destroy(lbc_t **c);

/*
 * The ZeroMQ context the client uses (its own or the borrowed one), NULL
 * when c is NULL. Borrowed: valid until lbc_destroy (its own) or as long as
 * the lender keeps it. ZeroMQ contexts themselves are thread-safe.
 */
void *lbc_zmq_ctx(const lbc_t *c);

/*
 * Writes a fresh request id: LBC_ID_LEN random hex characters (libsodium's
 * randombytes) and a NUL. Cannot fail; aborts the process only when the
 * system has no entropy source at all. Any thread.
 */
void lbc_new_id(char out[LBC_ID_LEN + 1]);

/*
 * Sends {v: 1, id, op, args} and waits up to timeout_ms for the reply whose
 * id matches (replies to other ids are stale and dropped). On a timeout it
 * closes the socket, connects a new one (so a dead connection cannot wedge
 * it) and resends the same request, with the same id, up to `retries` times:
 * the daemon answers a repeated id from its idempotency store, so a retried
 * write is never applied twice. A reply echoing id "" (the daemon could not
 * read the id) is taken as the answer too.
 *   op:   required. args: a map or NULL (omitted), borrowed.
 *   *reply: the whole reply map ({v, id, ok, result | error}), owned by the
 *         caller; NULL on any non-zero return.
 * Returns 0 when a reply arrived, whether ok or an error reply (see
 * lbc_reply_ok); LB_EUNAVAIL when no reply came after the last try (err
 * says so, and names a refused CURVE handshake when one was seen);
 * LB_EBADREQ (c or reply NULL, no op, args not a map, id not 1-64 bytes);
 * LB_EIO (ZeroMQ error, or a new socket could not be made for a retry);
 * LB_ENOMEM.
 */
int lbc_call(lbc_t *c, const char *op, const lb_val_t *args, lb_val_t **reply, char *err,
             size_t errlen);

/*
 * lbc_call, with an error reply turned into its LB_E* code: returns 0 only
 * for an ok reply (*reply owned by the caller); for an error reply *reply is
 * freed and NULL, err gets "code: message (field: F)" and the code's LB_E*
 * is returned (LB_EINTERNAL for an unknown code). Other returns as lbc_call.
 */
int lbc_call_ok(lbc_t *c, const char *op, const lb_val_t *args, lb_val_t **reply, char *err,
                size_t errlen);

/*
 * lbc_call with a caller-chosen request id (1-64 bytes), e.g. to resume a
 * retry. Same returns and ownership as lbc_call.
 */
int lbc_call_id(lbc_t *c, const char *id, const char *op, const lb_val_t *args, lb_val_t **reply,
                char *err, size_t errlen);

/* true when reply is a map with ok: true (false for NULL). */
bool lbc_reply_ok(const lb_val_t *reply);

/* The reply's result (borrowed from reply), or NULL when not ok or absent. */
const lb_val_t *lbc_reply_result(const lb_val_t *reply);

/* The reply's id (borrowed from reply), or "" (static) when absent. */
const char *lbc_reply_id(const lb_val_t *reply);

/*
 * For an error reply: sets *code, *message and *field (each may be NULL;
 * borrowed from reply, "" when absent) and returns the LB_E* matching the
 * wire code (LB_EINTERNAL for an unknown one). For an ok reply returns 0 and
 * sets the strings to "". For something that is not a reply: LB_EINTERNAL
 * with code "internal".
 */
int lbc_reply_error(const lb_val_t *reply, const char **code, const char **message,
                    const char **field);

/*
 * The LB_E* for a wire error code ("not_found" -> LB_ENOTFOUND); LB_EINTERNAL
 * when unknown or NULL. Any thread.
 */
int lbc_errcode_parse(const char *code);

/* ---------------------------------------------------------------------- */
/* Pipelining (benchmark)                                                  */
/* ---------------------------------------------------------------------- */

/*
 * Sends one request without waiting for its reply; pair with lbc_recv and
 * match replies by lbc_reply_id. No retries. id: 1-64 bytes (lbc_new_id).
 * args is borrowed for the call only.
 * Returns 0; LB_EBADREQ (c NULL, no op, args not a map, bad id);
 * LB_EUNAVAIL when the send queue stayed full for timeout_ms; LB_EIO;
 * LB_ENOMEM.
 */
int lbc_send(lbc_t *c, const char *id, const char *op, const lb_val_t *args);

/*
 * Receives the next reply, whatever its id. timeout_ms < 0 waits forever.
 * *reply owned by the caller, NULL on error. Returns 0; LB_EUNAVAIL on
 * timeout; LB_EBADREQ (c or reply NULL); LB_EIO; LB_ENOMEM. Undecodable replies are dropped.
 */
int lbc_recv(lbc_t *c, int timeout_ms, lb_val_t **reply);

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct lbc_sub lbc_sub_t;

/* after_seq value meaning "from the daemon's current last_seq on" (asked with ping). */
#define LBC_SEQ_NOW UINT64_MAX

typedef struct {
    const char *endpoint;      /* required: the daemon's events endpoint */
    const char *const *topics; /* topic prefixes ("escalation.6501"); NULL or ntopics 0 = all */
    size_t ntopics;
    uint64_t after_seq; /* deliver events with seq > after_seq; LBC_SEQ_NOW = only new ones */
    uint32_t page;      /* events.since limit per repair request; 0 = 1000 */
} lbc_sub_opts_t;

/*
 * Opens a SUB socket on opts->endpoint in req's context with req's CURVE
 * keys, subscribed to the prefixes and to "hb". The subscriber borrows req
 * (which must outlive it) for events.since requests. It first catches up from
 * after_seq with events.since; when the daemon cannot be reached then, the
 * catch-up is retried by lbc_sub_next. opts need not outlive the call
 * (the topics are copied).
 * *out is owned by the caller (lbc_sub_destroy, before req is destroyed);
 * NULL on error. It is used on req's thread.
 * Returns 0; LB_EBADREQ (no endpoint); LB_EUNAVAIL (LBC_SEQ_NOW and ping
 * failed); an error reply's LB_E* (e.g. LB_EFORBIDDEN) from the catch-up;
 * LB_EIO; LB_ENOMEM.
 */
int lbc_sub_open(lbc_t *req, const lbc_sub_opts_t *opts, lbc_sub_t **out, char *err, size_t errlen);

/*
 * Delivers the next matching event: every event with seq > after_seq whose
 * topic starts with one of the prefixes, in seq order, with no gaps and no
 * duplicates. A live event ahead of the next expected seq, or a heartbeat
 * ahead of the last one accounted for, makes it fetch the missing events
 * with events.since (paged) and filter them by topic (KIND "." AREA from the
 * body) before going on.
 *   *seq:  the event's seq. *body: the decoded body, owned by the caller.
 *   raw:   may be NULL; else its content is replaced by the body's bytes as
 *          published (re-encoded when events.since returned a decoded map).
 * Returns 0; LB_ENOTFOUND when nothing arrived within timeout_ms (< 0 =
 * wait forever); LB_EUNAVAIL when a repair could not reach the daemon (state
 * is kept: call again); an events.since error reply's LB_E*; LB_ECORRUPT
 * when events.since returns an unreadable event or fewer events than its
 * last_seq promises; LB_EIO; LB_ENOMEM.
 */
int lbc_sub_next(lbc_sub_t *sub, int timeout_ms, uint64_t *seq, lb_val_t **body, lb_buf_t *raw,
                 char *err, size_t errlen);

/*
 * The cursor to persist: every matching event with seq <= it has been
 * delivered. Reopening with after_seq = this value loses nothing. 0 when
 * sub is NULL. Cannot fail.
 */
uint64_t lbc_sub_cursor(const lbc_sub_t *sub);

/* Closes the SUB socket, frees, sets *sub NULL. Safe on NULL. */
void lbc_sub_destroy(lbc_sub_t **sub);

/* A signed chain head (PROTOCOL.md 9.12): sig = Ed25519 over be64(seq) || chain. */
typedef struct {
    uint64_t seq;
    uint8_t chain[32];
    uint8_t sig[64];
} lbc_head_t;

/*
 * The newest head a heartbeat carried (the highest seq; not verified: see
 * lbc_head_verify). 0 with *out; LB_ENOTFOUND when no heartbeat with a
 * chain and sig has arrived yet (an older daemon sends none).
 */
int lbc_sub_head(const lbc_sub_t *sub, lbc_head_t *out);

/*
 * An event's topic, KIND "." AREA, from its body's kind and area into out.
 * Returns 0; LB_EBADREQ when kind or area is missing (or not strings), out
 * is NULL or too small (out then holds a truncated topic). Any thread.
 */
int lbc_event_topic(const lb_val_t *body, char *out, size_t outlen);

/* ---------------------------------------------------------------------- */
/* Command-line helpers (args.c)                                           */
/* ---------------------------------------------------------------------- */

/*
 * Adds one KEY=VALUE argument to map. Dotted keys build nested maps
 * (findings.income=bmn22 sets {findings: {income: ...}}). The value is:
 * a list when it contains a comma ("bmn22,bmn20" -> ["bmn22", "bmn20"];
 * "bmn22," -> ["bmn22"]; empty items are dropped); an int when it is a
 * decimal integer without leading zeros that fits int64 (so "0065" stays
 * text); a string when wrapped in double quotes ("\"6501\"" -> "6501",
 * no splitting); otherwise a string. List items follow the same int rule.
 * Returns 0; LB_EBADREQ with err for no '=', an empty key or key segment,
 * a key set twice, or a key used both as a value and as a map; LB_ENOMEM.
 */
int lbc_kv_parse(lb_val_t *map, const char *arg, char *err, size_t errlen);

/*
 * Parses a time: unix milliseconds (digits only) or ISO-8601
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS[.fff]" (a space may
 * replace the T), optionally followed by "Z" or "+HH:MM"/"-HH:MM"; without a
 * zone the local time zone applies. Returns 0 with *ms; LB_EBADREQ (s
 * NULL, malformed, or out of range). Any thread (reentrant time calls).
 */
int lbc_parse_time(const char *s, int64_t *ms);

/*
 * Formats unix ms as local "YYYY-MM-DD HH:MM" into out (>= 20 bytes; the
 * plain number when the time cannot be formatted). Nothing written when
 * out is NULL or outlen 0. Cannot fail; any thread.
 */
void lbc_format_time(int64_t ms, char *out, size_t outlen);

/*
 * Milliseconds on the monotonic clock: for deadlines and intervals, never
 * for dates. Cannot fail; any thread.
 */
int64_t lbc_mono_ms(void);

/*
 * Display width of UTF-8 text in a terminal: one column per code point,
 * zero for Thai combining marks (U+0E31, U+0E34-U+0E3A, U+0E47-U+0E4E).
 * Invalid bytes count one column each. s NULL counts 0. Cannot fail; any
 * thread.
 */
size_t lbc_display_width(const char *s);

#endif
