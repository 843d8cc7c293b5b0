/*
 * logbook.h - private to the logbook program: the state every command gets, the option
 * parser, requests, text output, and the commands main.c's table dispatches to.
 */
#ifndef LOGBOOK_H
#define LOGBOOK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../proto/proto.h"
#include "../lib/client.h"

/* Exit codes: done, refused by the daemon (or a failed check), usage, unreachable. */
enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

/* The global options, and the connection made from them. */
typedef struct {
    const char *endpoint;
    const char *events_endpoint;
    const char *cert;
    const char *server_cert;
    bool json;
    bool no_curve;
    int timeout_ms;
    int retries;
    bool installed_keys; /* cert and server_cert are the installed daemon's (no var/data here) */
    lbc_t *c;            /* connected on first use */
    char ep_buf[256], ev_buf[256]; /* endpoints with tcp:// added */
} app_t;

/* ---------------------------------------------------------------------- */
/* Arguments (core.c)                                                      */
/* ---------------------------------------------------------------------- */

#define ARGS_MAX 256

/* A command's arguments; the strings are borrowed from argv. */
typedef struct {
    int npos;
    const char *pos[ARGS_MAX];
    int nopts;
    const char *opt_name[ARGS_MAX];  /* the spec entry matched ("note=") */
    const char *opt_val[ARGS_MAX];   /* NULL for a flag */
    const char *pos_after[ARGS_MAX]; /* the option spec whose value came just before, or NULL */
    const char *pos_prev[ARGS_MAX];  /* the word just before the positional, or "" */
    bool help;
} args_t;

/* Prints "logbook CMD: message" and a pointer to --help on stderr (cmd may be NULL). */
void usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A global option at argv[*i] (-e, -k, -s, -E, --timeout, --retries, --json,
 * --no-curve) goes into app, its value consumed. Returns 1 when it was one,
 * 0 when not, -1 when its value is missing.
 */
int global_opt(app_t *app, int argc, char **argv, int *i);

/* The value of option name (spec spelling without '='), "" for a flag, NULL; the last one wins. */
const char *opt(const args_t *a, const char *name);

/* true when the flag (or option) name was given. */
bool flag(const args_t *a, const char *name);

/*
 * Common start of a command: parses argv (argv[0] the command) by spec
 * ("name" a flag, "name=" takes a value, "name=*" repeatable; NULL = none),
 * answers --help (*done set) and checks min_pos..max_pos positionals
 * (max_pos < 0: no limit). Returns 0 or an exit code, after printing why.
 */
int prologue(app_t *app, int argc, char **argv, const char *const *spec, args_t *a, int min_pos,
             int max_pos, bool *done);

/* Declares args_t a and int rc in a command and returns early as prologue says. */
#define PROLOGUE(spec, min, max)                                                                   \
    args_t a;                                                                                      \
    bool done_;                                                                                    \
    int rc = prologue(app, argc, argv, spec, &a, min, max, &done_);                                \
    if (rc || done_)                                                                               \
        return rc;

/* ---------------------------------------------------------------------- */
/* Requests and argument builders (core.c)                                 */
/* ---------------------------------------------------------------------- */

/* Connects app->c once. Returns EX_OK, or EX_USAGE / EX_UNREACHABLE after printing why. */
int app_connect(app_t *app);

/* Prints an error reply as "error: code: message (field: F) (case C)" on stderr. */
void print_error_reply(const lb_val_t *reply);

/*
 * One request (args borrowed, may be NULL). Returns EX_OK with *reply (an ok
 * reply; caller frees), EX_REFUSED after printing an error reply,
 * EX_USAGE or EX_UNREACHABLE after printing why; *reply is NULL then.
 */
int request(app_t *app, const char *op, const lb_val_t *args, lb_val_t **reply);

/* Prints an ok reply's result for people; ctx is the caller's. */
typedef void (*text_fn)(const lb_val_t *res, const void *ctx);

/*
 * request(), then its result printed: as JSON with --json, else by text
 * (NULL: nothing). Returns request()'s exit code; the reply is freed.
 */
int request_print(app_t *app, const char *op, const lb_val_t *args, text_fn text, const void *ctx);

/* New request arguments {case_id}, or NULL when out of memory. */
lb_val_t *case_args(const char *case_id);

/*
 * Sticky builders in the manner of lb_put_* (proto/lb.h): each does nothing
 * while *rc is non-zero and records its first error there (LB_ENOMEM).
 * push_list: appends the sep-separated items of s to arr, trimmed, empty
 * ones dropped (arr NULL records LB_ENOMEM).
 * put_opt_str: sets key to val when val (an option's value) is not NULL.
 * put_opt_list: sets key to the list of val's comma-separated items, when
 * val is not NULL.
 */
void push_list(lb_val_t *arr, const char *s, char sep, int *rc);
void put_opt_str(lb_val_t *m, const char *key, const char *val, int *rc);
void put_opt_list(lb_val_t *m, const char *key, const char *val, int *rc);

/* Sets "at" from --at when given. 0; EX_USAGE on a bad time (printed); EX_UNREACHABLE. */
int set_at(lb_val_t *m, const args_t *a, const char *cmd);

/* A whole number lo..hi into *out; false (out untouched) when s is NULL or not one. */
bool parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* ---------------------------------------------------------------------- */
/* Hints for people (hints.c, reach.c)                                     */
/* ---------------------------------------------------------------------- */

/* Levenshtein distance, ASCII case ignored; SIZE_MAX for words over 64 bytes. */
size_t edit_distance(const char *a, const char *b);

/* The command nearest to name by edit_distance when it is close (main.c), or NULL. */
const char *nearest_command(const char *name);

/* The k-th positional word of a usage text ("show CASE": 0 is CASE) into out; false if none. */
bool usage_positional(const char *usage, int k, char *out, size_t outlen);

/*
 * Checks the positionals by their usage names: CASE a case id (a lower-case
 * c is made upper case in place), HOUSE_ID 11 digits, AREA 8 digits. 0, or
 * EX_USAGE after saying in digits what was expected.
 */
int check_positionals(const char *cmd, const char *usage, args_t *a);

/* s is n digits, else EX_USAGE after "WHAT must be N digits (like EXAMPLE)". */
int check_digits(const char *cmd, const char *what, const char *s, size_t n, const char *example);

/* A case id (normalised to upper case in place), else EX_USAGE after saying why. */
int check_case_id(const char *cmd, char *s);

/* A national id: 13 digits with a valid check digit, else EX_USAGE after saying which. */
int check_nid(const char *cmd, const char *s);

/* Names the missing or extra positional (and asks to quote names); prints usage. EX_USAGE. */
int count_error(const char *cmd, const char *usage, const args_t *a, int min_pos, int max_pos);

/* lbc_parse_time with a Buddhist-era year (> 2400) refused by name. 0 or EX_USAGE (printed). */
int parse_time_arg(const char *cmd, const char *what, const char *s, int64_t *ms);

/* true when s starts with n ASCII digits. */
bool all_digits_prefix(const char *s, size_t n);

/* ep, or "tcp://" ep in buf when ep names no scheme. */
const char *endpoint_with_scheme(const char *ep, char *buf, size_t buflen);

/*
 * Connects to a tcp:// or ipc:// endpoint and hangs up, within timeout_ms:
 * 0 when something accepts; -1 with why (strerror or resolver text). Other
 * transports are not checked (0).
 */
int probe_endpoint(const char *ep, int timeout_ms, char *why, size_t whylen);

/* How long the first contact's connect check waits (ms); see logbook(1), ENVIRONMENT. */
#define PROBE_TIMEOUT_MS 1500

/* ---------------------------------------------------------------------- */
/* Output (output.c)                                                       */
/* ---------------------------------------------------------------------- */

/* Prints v as indented JSON and a newline on stdout. */
void print_json(const lb_val_t *v);

/* The string under key in m (borrowed), or dflt when missing or not a string. */
const char *map_str_or(const lb_val_t *m, const char *key, const char *dflt);

/*
 * Table text, newly allocated (caller frees; NULL when out of memory):
 * val_text: scalars plainly, lists of scalars joined by ", ", the rest as JSON;
 * time_text: the ms time under key as local time ("" when absent);
 * findings_text: {dimension: [code...]} as "income: bmn22, bmn20; health: bmn4".
 */
char *val_text(const lb_val_t *v);
char *time_text(const lb_val_t *m, const char *key);
char *findings_text(const lb_val_t *f);

/* A text table with aligned columns (Thai-aware widths). */
typedef struct {
    size_t ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells; /* row-major, owned */
} table_t;

/* Starts a table with the header row hdr (ncols strings, copied). */
void table_init(table_t *t, size_t ncols, const char *const *hdr);

/* Appends a row of ncols strings, taking them over (NULL cells print empty). */
void table_add_owned(table_t *t, char **vals);

/* Prints the rows on f, each column padded to its widest cell; no trailing blanks. */
void table_print(const table_t *t, FILE *f);

/* Frees the cells and zeroes *t. */
void table_free(table_t *t);

/* Prints "label  value" with the label padded; nothing when value is NULL or "". */
void kv_line(const char *label, const char *value);
/*
 * The area of a case view or summary m with its names when the daemon sent
 * them (a gazetteer is loaded): "65010101 ในเมือง หมู่ 1 (Nai Mueang Moo 1)",
 * else the code alone; "" without an area. Owned by the caller (free); NULL
 * on ENOMEM.
 */
char *area_text(const lb_val_t *m);

/* ---------------------------------------------------------------------- */
/* Commands                                                                */
/* ---------------------------------------------------------------------- */

/* A command: argv[0] is its name. Returns the exit code. */
typedef int (*cmd_fn)(app_t *app, int argc, char **argv);

typedef struct {
    const char *name;
    cmd_fn fn;
    const char *usage;
    const char *summary;
} command_t;

/* The command table's row for name (main.c), or NULL. */
const command_t *find_command(const char *name);

/* Prints a command's usage and summary on stdout. Returns EX_OK. */
int show_help(const char *name);

/* cases.c */
int cmd_open(app_t *app, int argc, char **argv);
int cmd_act(app_t *app, int argc, char **argv);
int cmd_schedule(app_t *app, int argc, char **argv);
int cmd_visit(app_t *app, int argc, char **argv);
int cmd_assist(app_t *app, int argc, char **argv);
int cmd_followup(app_t *app, int argc, char **argv);
int cmd_close(app_t *app, int argc, char **argv);
int cmd_resolve(app_t *app, int argc, char **argv);
int cmd_ack(app_t *app, int argc, char **argv);

/* lookup.c */
int cmd_show(app_t *app, int argc, char **argv);
int cmd_history(app_t *app, int argc, char **argv);
int cmd_find(app_t *app, int argc, char **argv);
int cmd_list(app_t *app, int argc, char **argv);

/* import.c */
int cmd_import(app_t *app, int argc, char **argv);

/* admin.c */
int cmd_ping(app_t *app, int argc, char **argv);
int cmd_watch(app_t *app, int argc, char **argv);
int cmd_keygen(app_t *app, int argc, char **argv);
int cmd_verify(app_t *app, int argc, char **argv);
int cmd_admin(app_t *app, int argc, char **argv);
int cmd_workflows(app_t *app, int argc, char **argv);
int cmd_report(app_t *app, int argc, char **argv);
/* ledger.c: the agency ledger and the committee agenda (PROTOCOL.md 9.19) */
int cmd_ledger(app_t *app, int argc, char **argv);
int cmd_agenda(app_t *app, int argc, char **argv);

/* witness.c */
int cmd_witness(app_t *app, int argc, char **argv);
/*
 * verify --witness: loads the head in the witness file at path, checks its
 * signature with the audit key (--audit-key in a, else audit.pub beside -s)
 * and that the store's event at its seq has its chain. EX_OK; EX_REFUSED
 * with why set when the head is forged or not in the store; EX_USAGE or
 * EX_UNREACHABLE after printing why.
 */
int witness_verify_file(app_t *app, const args_t *a, const char *path, char *why, size_t whylen);

/* user.c */
int cmd_user(app_t *app, int argc, char **argv);

/* casework.c (PROTOCOL.md 9.17) */
int cmd_transfer(app_t *app, int argc, char **argv);
int cmd_reassign(app_t *app, int argc, char **argv);
/* `admin remap OLD=NEW...` (a->pos[0] is "remap"): admin.remap until done. An exit code. */
int admin_remap(app_t *app, const char *cmd, const args_t *a);
/* members.c (PROTOCOL.md 9.18) */
int cmd_member(app_t *app, int argc, char **argv);
int cmd_duplicates(app_t *app, int argc, char **argv);
int cmd_merge(app_t *app, int argc, char **argv);

/*
 * admin.c: subscribes to topics (none = everything) after seq after
 * (LBC_SEQ_NOW: from now on), with SIGINT and SIGTERM setting cli_stop_flag;
 * the signals are blocked while libzmq starts its threads. An exit code.
 */
int cli_subscribe(app_t *app, const char *const *topics, size_t ntopics, uint64_t after,
                  lbc_sub_t **sub);
/* Set by SIGINT or SIGTERM once cli_subscribe has put its handlers in place. */
extern volatile sig_atomic_t cli_stop_flag;

#endif
