/*
 * proto.h - bytes <-> values for wire v1 (PROTOCOL.md sections 2, 3 and 7):
 * strict, bounded msgpack decoding into lb_val_t trees, per-operation argument
 * checks, reply and event encoding with the BLAKE2b audit chain. Knows
 * nothing of LMDB or ZeroMQ; the only module that includes <msgpack.h>.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb.h"

#define PROTO_VERSION 1
#define PROTO_ID_MAX 64         /* request id bytes */
#define PROTO_AS_MAX 63         /* bytes of `as`, a user name (users.h: LB_USER_NAME_MAX - 1) */
#define PROTO_IMPORT_MAX 10000  /* households in one case.import */
#define PROTO_LIST_MAX 1000     /* case.list limit */
#define PROTO_EVENTS_MAX 10000  /* events.since limit */
#define PROTO_HISTORY_MAX 10000 /* case.history limit */

/* Limits on any decoded document; every length is checked before it sizes anything. */
typedef struct {
    uint32_t max_depth; /* nesting of arrays/maps; default 16 */
    uint32_t max_items; /* elements of one array or map; default 10,000 */
    uint32_t max_str;   /* bytes of one string; default 65,536 */
    uint32_t max_nodes; /* values in the whole document; default 2,000,000 */
} proto_limits_t;

extern const proto_limits_t proto_default_limits;

typedef struct {
    int code;       /* LB_E* */
    char field[64]; /* the offending key (dotted path, e.g. "household.members.2.nid"), or "" */
    char message[256];
} proto_err_t;

/* ---- generic msgpack ---- */

/* Encodes v; appends to out. LB_ENOMEM. Maps keep insertion order. */
int proto_pack(const lb_val_t *v, lb_buf_t *out);
/*
 * Decodes exactly one msgpack document filling all of buf (trailing bytes are
 * an error). Strings must be valid UTF-8 without NUL; map keys must be
 * unique strings; ext types are refused. On error returns LB_EBADREQ (or
 * LB_ETOOLARGE for a limit) with err filled and *out NULL.
 */
int proto_unpack(const void *buf, size_t len, const proto_limits_t *lim, lb_val_t **out,
                 proto_err_t *err);

/* ---- requests ---- */

typedef enum {
    PROTO_OP_PING = 0,
    PROTO_OP_WORKFLOW_LIST,
    PROTO_OP_WORKFLOW_GET,
    PROTO_OP_CASE_OPEN,
    PROTO_OP_CASE_IMPORT,
    PROTO_OP_CASE_ACT,
    PROTO_OP_CASE_ACK,
    PROTO_OP_CASE_GET,
    PROTO_OP_CASE_FIND,
    PROTO_OP_CASE_HISTORY,
    PROTO_OP_CASE_LIST,
    PROTO_OP_REPORT_SUMMARY,
    PROTO_OP_EVENTS_SINCE,
    PROTO_OP_ADMIN_STATS,
    PROTO_OP_ADMIN_BACKUP,
    PROTO_OP_ADMIN_RELOAD,
    PROTO_OP_ADMIN_VERIFY,
    PROTO_OP_ADMIN_CLOCK,
    PROTO_OP_CASE_TRANSFER, /* casework (PROTOCOL.md 9.17) */
    PROTO_OP_CASE_REASSIGN,
    PROTO_OP_ADMIN_REMAP,
    PROTO_OP_CASE_DUPLICATES,
    PROTO_OP_CASE_MERGE,
    PROTO_OP_REPORT_LEDGER,
    PROTO_OP_REPORT_AGENDA,
    PROTO_OP_COUNT
} proto_op_t;

/* "case.open" etc.; NULL for an out-of-range op. */
const char *proto_op_name(proto_op_t op);
/* The op for a name, or -1. */
int proto_op_lookup(const char *name);
/* true for ops that write (go through the group-commit batch). */
bool proto_op_writes(proto_op_t op);

/*
 * An op's argument schema: the keys its args may hold with their types,
 * bounds and formats, and any rule across keys. Opaque; proto.c defines one
 * static object per op, valid for the life of the program. The daemon's op
 * table points at these, so each op's schema is written once.
 */
typedef struct proto_schema proto_schema_t;
extern const proto_schema_t proto_schema_ping, proto_schema_workflow_list,
    proto_schema_workflow_get, proto_schema_case_open, proto_schema_case_import,
    proto_schema_case_act, proto_schema_case_ack, proto_schema_case_get, proto_schema_case_find,
    proto_schema_case_history, proto_schema_case_list, proto_schema_report_summary,
    proto_schema_events_since, proto_schema_admin_stats, proto_schema_admin_backup,
    proto_schema_admin_reload, proto_schema_admin_verify, proto_schema_admin_clock;
/* Casework (PROTOCOL.md 9.17): cases one case.reassign may move, pairs of an admin.remap map,
 * cases one admin.remap call may move. */
#define PROTO_REASSIGN_MAX 10000
#define PROTO_REMAP_PAIRS_MAX 1000
#define PROTO_REMAP_SLICE_MAX 10000
extern const proto_schema_t proto_schema_case_transfer, proto_schema_case_reassign,
    proto_schema_admin_remap;
extern const proto_schema_t proto_schema_case_duplicates, proto_schema_case_merge;
/* The agency ledger and the committee agenda (PROTOCOL.md 9.19). */
extern const proto_schema_t proto_schema_report_ledger, proto_schema_report_agenda;
/* The schema proto_decode_request checks op's args with; NULL for an out-of-range op. */
const proto_schema_t *proto_op_schema(proto_op_t op);

typedef struct {
    char id[PROTO_ID_MAX + 1]; /* "" when unreadable */
    char as[PROTO_AS_MAX + 1]; /* who a gateway key acts for (section 9.15); "" when absent */
    proto_op_t op;
    lb_val_t *args; /* always a map after a successful decode (empty when omitted) */
    lb_val_t *doc;  /* the whole decoded request (owns args) */
} proto_req_t;

/*
 * Decodes and checks a request: envelope (v == 1 else LB_EBADVER, id 1-64
 * bytes, op known else LB_EUNKNOWNOP, args a map), then the op's arguments:
 * every key known (else LB_EBADREQ naming the field), types, enums, ranges,
 * house id / area / national id formats, list limits (LB_ETOOLARGE). On any
 * error req->id is still filled when the id was readable, so the reply can
 * echo it. Call proto_req_clear afterwards in every case.
 *
 * Argument rules beyond types (see proto/PROTOCOL.md for the full table):
 *   household: house_id 11 digits, area 8 digits, head <= 256 bytes,
 *     address <= 1024, members <= 64 each {nid?, name?, birth_year? 1850-2200,
 *     sex? m|f}, deprived <= 64 strings of 1-16 bytes
 *   source: tpmap | socialmap | field; team 1-63 bytes; workflow [a-z0-9-]{1,63}
 *   case_id: "C" + digits; action 1-63 bytes; expect_state 1-63 bytes
 *   at, after_seq, seq >= 0; limits 1..their maximum
 *   case.find: exactly one of house_id, nid
 *   report.summary by: province district subdistrict village state dimension level
 *   area filters: 2/4/6/8 digits; admin.backup path 1-4096 bytes;
 *   admin.clock advance_s 0..10 years in seconds
 *   data (case.act): a map, depth <= 6
 */
int proto_decode_request(const void *buf, size_t len, const proto_limits_t *lim, proto_req_t *req,
                         proto_err_t *err);
/*
 * The first half of proto_decode_request: the envelope only (v, id, op,
 * args a map, absent args made an empty map). The args are left unchecked
 * for the caller's proto_check_args. Same errors, same rules for req and err.
 */
int proto_decode_envelope(const void *buf, size_t len, const proto_limits_t *lim, proto_req_t *req,
                          proto_err_t *err);
/*
 * The second half: checks args (a map) against schema. 0, LB_EBADREQ or
 * LB_ETOOLARGE with err filled (field relative to args), LB_EINTERNAL when
 * schema is NULL or args not a map. err may be NULL.
 */
int proto_check_args(const proto_schema_t *schema, const lb_val_t *args, proto_err_t *err);
void proto_req_clear(proto_req_t *req);

/*
 * Checks one household map by the rules of case.open's `household` argument
 * (keys, types, house id, area, national ids, list limits). case.import checks
 * only the outer shape of `households`, so that one bad item does not fail the
 * batch; the daemon calls this per item and lists the failures in `errors`.
 * 0, LB_EBADREQ (not a map, unknown/missing/mistyped key, bad format) or
 * LB_ETOOLARGE (members or deprived over 64); err->field is relative to the
 * household ("members.0.nid"). err may be NULL.
 */
int proto_check_household(const lb_val_t *h, proto_err_t *err);

/* ---- replies ---- */

/* {v:1, id, ok:true, result}; result may be NULL (encoded as an empty map). */
int proto_reply_ok(const char *id, const lb_val_t *result, lb_buf_t *out);
/*
 * {v:1, id, ok:false, error:{code, message, field?, case_id?}}; code is an
 * LB_E* turned into its wire string by lb_errcode; field and case_id may be
 * NULL or "".
 */
int proto_reply_error(const char *id, int code, const char *message, const char *field,
                      const char *case_id, lb_buf_t *out);

/* ---- events and the audit chain ---- */

/*
 * Encodes an event body: the map body (without "chain") followed by the
 * entry chain: bin(32), where chain = BLAKE2b-256(prev || encoding of body
 * without chain). Appends the published bytes to out and the new chain value
 * to chain_out.
 */
int proto_event_encode(const lb_val_t *body, const uint8_t prev[32], lb_buf_t *out,
                       uint8_t chain_out[32]);
/*
 * Checks a stored body: it must be a map whose last entry is chain: bin(32)
 * equal to BLAKE2b-256(prev || the body without that entry). 0 with the
 * chain value in chain_out, LB_ECORRUPT when it does not match or the body
 * is malformed.
 */
int proto_event_check(const void *body, size_t len, const uint8_t prev[32], uint8_t chain_out[32]);

#endif
