/*
 * wf_internal.h - what the workflow/ files share and no other module sees:
 * the YAML node tree (with 1-based source positions for error messages), the
 * in-memory form of loaded definitions and the catalog, and small helpers.
 * Not part of the module's contract; workflow.h is.
 */
#ifndef WF_INTERNAL_H
#define WF_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workflow.h"

/* Bounds on definition files: checked before anything is sized by them. */
#define WF_FILE_MAX (4u << 20) /* bytes of one YAML file */
#define WF_YAML_DEPTH 32       /* nesting of maps and lists */
#define WF_YAML_NODES 200000   /* nodes in one file */
#define WF_STATES_MAX 256
#define WF_ACTIONS_MAX 256
#define WF_STEPS_MAX 32 /* escalation steps per state */
#define WF_REQUIRE_MAX 32
#define WF_CATALOG_MAX 4096
#define WF_DURATION_TEXT 24 /* longest duration text kept, incl. NUL */

/* ---- YAML tree ---- */

typedef enum { WF_Y_SCALAR, WF_Y_SEQ, WF_Y_MAP } wf_ykind_t;

typedef struct wf_ynode wf_ynode_t;
struct wf_ynode {
    wf_ykind_t kind;
    unsigned line, col; /* 1-based */
    bool plain;         /* plain scalar: the only style read as int, bool or null */
    char *s;            /* scalar text, NUL-terminated (never contains NUL) */
    size_t n;
    wf_ynode_t **kids; /* SEQ: items; MAP: key, value, key, value, ... */
    size_t nkids, cap;
};

/* Where error messages go and which file name they carry. */
typedef struct {
    const char *file;
    char *err;
    size_t errlen;
} wf_ectx_t;

/* Writes "file:line:col: message" and returns LB_ECONFIG. */
int wf_yerr(const wf_ectx_t *e, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same at a node's position. */
int wf_ynerr(const wf_ectx_t *e, const wf_ynode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses one YAML document into a tree. Refuses syntax errors, more than one
 * document, aliases, anchors, tags, non-scalar or duplicate map keys, NUL
 * bytes in scalars and inputs over the bounds above: LB_ECONFIG with err
 * filled (LB_ENOMEM on allocation failure). *root is owned by the caller.
 */
int wf_yaml_parse(const wf_ectx_t *e, const char *text, size_t len, wf_ynode_t **root);
void wf_ynode_free(wf_ynode_t **n);

/* Reads a whole file (at most WF_FILE_MAX bytes). LB_ECONFIG with "file: message". */
int wf_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen);

/* The value under key in a MAP node, or NULL. */
const wf_ynode_t *wf_ymap_get(const wf_ynode_t *map, const char *key);
/*
 * Refuses keys of map not in allowed and reports the first of required that
 * is missing (at the map's position). Both lists end with NULL; what names
 * the map in messages.
 */
int wf_ymap_check(const wf_ectx_t *e, const wf_ynode_t *map, const char *what,
                  const char *const *allowed, const char *const *required);
/* A plain empty, "~" or "null" scalar. */
bool wf_yis_null(const wf_ynode_t *n);
/* A non-null scalar's text. */
int wf_ystr(const wf_ectx_t *e, const wf_ynode_t *n, const char *what, const char **out);
/* A plain decimal integer. */
int wf_yint(const wf_ectx_t *e, const wf_ynode_t *n, const char *what, int64_t *out);
/* A plain true or false. */
int wf_ybool(const wf_ectx_t *e, const wf_ynode_t *n, const char *what, bool *out);

/* ---- names ---- */

/* 1 to 63 bytes of [a-z0-9] plus the characters of extra. */
bool wf_valid_name(const char *s, const char *extra);
/* Index of s in a list of n names, or -1. */
int wf_name_index(const char *const *names, size_t n, const char *s);

/* ---- definitions ---- */

enum {
    WF_REC_NONE = -1,
    WF_REC_VISIT = 0,
    WF_REC_ASSIST,
    WF_REC_FOLLOWUP,
    WF_REC_NOTE,
    WF_REC_MEMBER,
    WF_REC_DECISION,
    WF_NREC
};
/* visit assistance follow_up note member decision */
extern const char *const wf_record_names[WF_NREC];

typedef struct {
    int64_t after_ms;  /* the duration; for business days the shortest span (ordering checks) */
    uint32_t after_bd; /* N of `after: Nbd` (working days), 0 = a duration */
    char after[WF_DURATION_TEXT]; /* the text as written, for workflow.get */
    int level;                    /* index into wf_esc_levels */
} wf_step_t;

typedef struct {
    char name[WF_NAME_MAX];
    char *title; /* NULL when none */
    bool terminal;
    const char *outcome; /* "resolved" or "closed" for terminal states, else NULL */
    wf_step_t *steps;
    size_t nsteps;
} wf_state_t;

typedef struct {
    char name[WF_NAME_MAX];
    bool *from;     /* one flag per state, "*" already expanded */
    int to;         /* state index, -1 = stay */
    unsigned roles; /* bit i = wf_roles[i] */
    char (*require)[WF_NAME_MAX];
    size_t nrequire;
    int record; /* WF_REC_*, WF_REC_NONE when the action appends none */
    bool restart_timers;
} wf_action_t;

/* One entry of a file's migrate map: a state of an earlier version and where its cases go. */
typedef struct {
    char from[WF_NAME_MAX]; /* not a state of this definition */
    int to;                 /* state index */
} wf_migrate_t;

struct wf_def {
    char name[WF_NAME_MAX];
    int64_t version;
    char *title;
    int initial;
    wf_state_t *states;
    size_t nstates;
    wf_action_t *actions;
    size_t nactions;
    wf_migrate_t *migrate; /* the migrate map, in file order */
    size_t nmigrate;
    int64_t deliver_within; /* ms; 0 = not in the file (WF_DELIVER_WITHIN_DEFAULT) */
    char deliver_within_text[WF_DURATION_TEXT];
    char *file;           /* where it came from, for duplicate messages */
    unsigned vline, vcol; /* position of its version, ditto */
};

struct wf_set {
    wf_def_t **defs; /* sorted by name, then version */
    size_t n;
};

int wf_def_state_index(const wf_def_t *def, const char *name);

/* ---- the ledger's part of wf_apply (wf_ledger.c) ---- */

/* true for the record keys wf_ledger_check checks (status, pledge, decision, due). */
bool wf_ledger_key(const char *key);
/*
 * The ledger's rules for a record of kind rec with data at time at on c:
 * status, pledge (an earlier open pledge of c), a decision's due. LB_EGUARD
 * with field, or 0. Nothing changes.
 */
int wf_ledger_check(int rec, const lb_val_t *data, const wf_case_t *c, int64_t at, wf_error_t *err);
/* The id of the next record of c: one more than the largest id any record holds. */
uint64_t wf_next_record_id(const wf_case_t *c);
/* Writes a decision record's due as unix ms (it was checked). 0 or LB_ENOMEM. */
int wf_ledger_fix_due(lb_val_t *rec);
/*
 * After record rec (kind kind, id id) was appended to c: a record cancels the
 * decision timers, a decision sets its own, a pledge sets one at at +
 * deliver_within, a delivery clears its pledge's. 0 or LB_ENOMEM.
 */
int wf_ledger_after(const wf_def_t *def, wf_case_t *c, int kind, const lb_val_t *rec, uint64_t id);
int wf_def_action_index(const wf_def_t *def, const char *name);

#endif
