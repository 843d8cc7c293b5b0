/*
 * workflow.h - the indicator catalog, the gazetteer of areas, YAML workflow
 * definitions and the pure case state machine (PROTOCOL.md sections 4, 5
 * and 9.16). Nothing here reads a clock or does I/O after loading: time, the
 * case and the actor come in as arguments, which is what lets the engine be
 * tested exhaustively.
 *
 * Threads: no global state. A loaded wf_catalog_t, wf_areas_t or wf_set_t
 * is never changed after its load returns, so any number of threads may read
 * it at once until it is destroyed; a wf_case_t is used by one thread at a
 * time.
 * Errors: 0 or a negative LB_E* code; loaders write "file:line:column:
 * message" (or "file: message") into err, which may be NULL when errlen is
 * 0. Strings and values a getter returns are borrowed from their owner (the
 * set, the catalog, the gazetteer, the case) and valid until it is destroyed
 * or changed.
 */
#ifndef WF_WORKFLOW_H
#define WF_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/lb.h"

#define WF_NAME_MAX 64  /* workflow, state, action names and team incl. NUL */
#define WF_SHORT_MAX 16 /* dimension, level, source, outcome incl. NUL */

/*
 * The fixed vocabularies are proto/lb.h's (lb_dimensions, lb_esc_levels,
 * lb_progress_levels), written out once in proto/lb.c; these names are
 * aliases kept for the module's callers. Index = position = wire order.
 */
#define WF_NDIM LB_NDIM
#define wf_dimensions lb_dimensions
/* Index of a dimension name in lb_dimensions, or -1 (also for NULL). Any thread. */
int wf_dimension_index(const char *dim);

/* Escalation levels, lowest first: the escalation ladder. */
#define WF_NLEVEL LB_NESC_LEVEL
#define wf_esc_levels lb_esc_levels
/* Household progress levels. */
#define WF_NPROGRESS LB_NPROGRESS
#define wf_progress_levels lb_progress_levels
/* Roles of PROTOCOL.md section 6 (static storage). */
extern const char *const wf_roles[4]; /* field committee reporter admin */

/* ---------------------------------------------------------------------- */
/* YAML as values                                                          */
/* ---------------------------------------------------------------------- */

/*
 * Loads the YAML file at path into a new value tree for a reader with its
 * own schema (the daemon's config file and clients registry): mappings
 * become LB_MAP (key order kept), sequences LB_ARR, every scalar LB_STR, an
 * empty value "" (typing scalars is the reader's job). The parse is the one
 * the workflow loader uses, with its bounds: at most 4 MiB, one document,
 * nesting at most 32 deep, no anchors, aliases or tags, map keys scalar and
 * unique, no NUL in a scalar.
 * Returns 0 with *out owned by the caller (lb_val_free); LB_ECONFIG when the
 * file cannot be read, is empty or breaks a rule above, with
 * "file:line:column: message" in err ("file: message" when the file cannot
 * be read at all); LB_ENOMEM; LB_EINTERNAL when path or out is NULL. *out is
 * NULL on every error. err may be NULL when errlen is 0. Any thread; no
 * shared state.
 */
int wf_yaml_load_val(const char *path, lb_val_t **out, char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* Indicator catalog                                                       */
/* ---------------------------------------------------------------------- */

typedef struct wf_catalog wf_catalog_t;

/*
 * Loads the indicator catalog (config/indicators.yaml):
 *   indicators:
 *     - { code: bmn1, dimension: health, th: "...", en: "..." }
 * *out is owned by the caller (wf_catalog_destroy); NULL on error.
 * Errors: LB_ECONFIG (unreadable file, YAML refused as for wf_yaml_load_val,
 * or a catalog rule broken: unknown or missing keys, unknown dimension,
 * duplicate code, no indicators or more than 4096) with "file:line:column:
 * message" in err; LB_ENOMEM ("file: out of memory").
 */
int wf_catalog_load(const char *path, wf_catalog_t **out, char *err, size_t errlen);
/* Frees the catalog and sets *cat to NULL; safe on NULL and *cat NULL. */
void wf_catalog_destroy(wf_catalog_t **cat);
/* The dimension of an indicator code (an lb_dimensions string), or NULL when unknown. */
const char *wf_catalog_dimension(const wf_catalog_t *cat, const char *code);
/* The number of indicators. */
size_t wf_catalog_count(const wf_catalog_t *cat);
/* [{code, dimension, th, en}] as a new value owned by the caller; NULL on ENOMEM. */
lb_val_t *wf_catalog_describe(const wf_catalog_t *cat);

/* ---------------------------------------------------------------------- */
/* Gazetteer                                                               */
/* ---------------------------------------------------------------------- */

typedef struct wf_areas wf_areas_t;

#define WF_AREA_NAME_MAX 256         /* bytes of one name incl. NUL */
#define WF_AREAS_FILE_MAX (4u << 20) /* bytes of a gazetteer file */
#define WF_AREAS_MAX 100000          /* areas in one file */
/* Room for a label of wf_areas_label: a subdistrict's name, " หมู่ 99" / " Moo 99", NUL. */
#define WF_AREA_LABEL_MAX (WF_AREA_NAME_MAX + 16)

/*
 * Loads the gazetteer (config/areas.tsv, PROTOCOL.md 9.16): UTF-8 text, one
 * area a line, CODE<TAB>NAME_TH<TAB>NAME_EN; '#' lines and empty lines are
 * skipped, a CR before the LF is allowed. CODE is a province (2 digits, 10 to
 * 99), a district (4) or a subdistrict (6); no part of it is 00. Codes come
 * in ascending order, so each area's parent (the code without its last two
 * digits) comes before it.
 * Errors: LB_ECONFIG with "path:line: reason" in err: a line without exactly
 * three fields, a bad code, a code out of order or twice ("duplicate code
 * 6501, first on line 40"), a district whose province or a subdistrict whose
 * district is not in the file, invalid UTF-8 or a NUL byte, a control
 * character in a name, an empty name or one over WF_AREA_NAME_MAX - 1 bytes,
 * more than WF_AREAS_MAX areas; "path: reason" when the file cannot be read,
 * is over WF_AREAS_FILE_MAX bytes or holds no area; LB_ENOMEM ("path: out
 * of memory"); LB_EINTERNAL when path or out is NULL. *out is owned by the
 * caller (wf_areas_destroy), NULL on every error. err may be NULL when
 * errlen is 0.
 * Threads: a loaded gazetteer is never changed, so any number of threads
 * may read it at once. To reload (SIGHUP), load the new file into a second
 * wf_areas_t, swap the pointer, and destroy the old one once no reader holds
 * a name borrowed from it; a failed load leaves the old one in use.
 */
int wf_areas_load(const char *path, wf_areas_t **out, char *err, size_t errlen);
/*
 * The same from text in memory (fuzzing, tests): name stands for the file in
 * messages; text need not be NUL-terminated and is only read (copied). Same
 * errors, with "over WF_AREAS_FILE_MAX bytes" checked on len.
 */
int wf_areas_load_text(const char *name, const char *text, size_t len, wf_areas_t **out, char *err,
                       size_t errlen);
/* Frees the gazetteer and sets *areas to NULL; safe on NULL and *areas NULL. */
void wf_areas_destroy(wf_areas_t **areas);

/*
 * The number of areas with codes of that many digits (2 provinces, 4
 * districts, 6 subdistricts), or of all areas for 0; 0 for another digits
 * value or a NULL gazetteer.
 */
size_t wf_areas_count(const wf_areas_t *areas, int digits);

/*
 * The i-th area in code order (0 <= i < wf_areas_count(areas, 0)): its code,
 * Thai and English names into the out-parameters (each may be NULL),
 * borrowed from the gazetteer until it is destroyed. 0, or LB_ENOTFOUND past
 * the end or for a NULL gazetteer.
 */
int wf_areas_at(const wf_areas_t *areas, size_t i, const char **code, const char **th,
                const char **en);

/*
 * Names an area: for a 2-, 4- or 6-digit code, the area's Thai and English
 * names, returning 0; for an 8-digit village code PPAATTMM (no name list
 * exists for villages), the names of its subdistrict PPAATT, returning the
 * village number MM (1 to 99). th and en (each may be NULL) are borrowed from
 * the gazetteer until it is destroyed; O(log n), no allocation.
 * Errors: LB_EBADREQ when code is NULL, not 2, 4, 6 or 8 digits, or a
 * village number is 00; LB_ENOTFOUND when the area (for a village, its
 * subdistrict) is not in the gazetteer or the gazetteer is NULL. *th and *en
 * are NULL on error.
 */
int wf_areas_name(const wf_areas_t *areas, const char *code, const char **th, const char **en);

/*
 * The names as a reader sees them, copied into th and en (each may be NULL
 * with its length 0; WF_AREA_LABEL_MAX bytes always suffice): an area's
 * names, or for a village its subdistrict's names followed by " หมู่ N" and
 * " Moo N" (N without leading zero). Same returns and errors as
 * wf_areas_name, except that it returns 0 for a village too; the buffers
 * hold "" on error.
 */
int wf_areas_label(const wf_areas_t *areas, const char *code, char *th, size_t thlen, char *en,
                   size_t enlen);

/*
 * Checks that an area code names a place in the gazetteer: every level of a
 * 2-, 4-, 6- or 8-digit code (province, district, subdistrict, village
 * number 01 to 99) exists. 0 when it does. Otherwise LB_EBADREQ with a
 * message in err that names the first missing level and its nearest valid
 * parent, for example "district 6599 does not exist in province 65
 * Phitsanulok (พิษณุโลก)", "province 99 does not exist", or "area code must
 * be 2, 4, 6 or 8 digits" (the code itself is echoed only when it is all
 * digits); LB_EINTERNAL when areas is NULL. For case.open and case.import
 * the daemon replies bad_request with this message. No allocation.
 */
int wf_areas_check(const wf_areas_t *areas, const char *code, char *err, size_t errlen);

/* ---------------------------------------------------------------------- */
/* Working days                                                            */
/* ---------------------------------------------------------------------- */

/*
 * The public holiday calendar (config/holidays.yaml, PROTOCOL.md 9.20) that
 * business-day escalation steps (`after: 10bd`) count with. Dates are
 * calendar days in Asia/Bangkok, done as fixed UTC+7 (Thailand has had no
 * daylight saving time since 1920): a "day number" is floor((t_ms +
 * WF_TZ_OFFSET_MS) / 86400000), day 0 being 1970-01-01 in Bangkok.
 *   source: "who announced the dates"
 *   years: [2026, 2027]          # the years the file is complete for
 *   holidays:
 *     - { date: 2026-04-13, th: "...", en: "...", confirmed: false }
 * A loaded calendar is never changed: any number of threads may read it.
 */
typedef struct wf_calendar wf_calendar_t;

#define WF_TZ_OFFSET_MS (7 * 3600 * INT64_C(1000)) /* Asia/Bangkok, UTC+7, no DST */
#define WF_DAY_MS (86400 * INT64_C(1000))
#define WF_HOLIDAYS_MAX 4096 /* holidays one file may list */
#define WF_BD_MAX 1000       /* the largest N of an `after: Nbd` step */

/*
 * Loads a holiday file. Refused (LB_ECONFIG, "file:line:column: message" in
 * err): YAML as for wf_yaml_load_val; unknown or missing keys (source,
 * years and holidays are required; each holiday needs date, th and en and
 * may have confirmed: true|false and note); a date not written YYYY-MM-DD
 * or not in the calendar; a date whose year is not in `years`; a date
 * listed twice; a year outside 1970..9999 or listed twice; empty th, en or
 * source; more than WF_HOLIDAYS_MAX holidays or 100 years. LB_ENOMEM.
 * *out is the caller's (wf_calendar_destroy), NULL on error.
 */
int wf_calendar_load(const char *path, wf_calendar_t **out, char *err, size_t errlen);
/* The same from text in memory (fuzzing, tests); name stands for the file. */
int wf_calendar_load_text(const char *name, const char *text, size_t len, wf_calendar_t **out,
                          char *err, size_t errlen);
/* Frees the calendar and sets *cal to NULL; safe on NULL and *cal NULL. */
void wf_calendar_destroy(wf_calendar_t **cal);
/* The number of holidays listed (0 for NULL). */
size_t wf_calendar_count(const wf_calendar_t *cal);
/* true when year is among the file's `years` (false for NULL). */
bool wf_calendar_covers(const wf_calendar_t *cal, int year);
/* The Bangkok day number of unix ms t (see above). */
int64_t wf_day_of(int64_t t);
/* The Bangkok day number of a date; the date need not exist (2026-02-30 = 2026-03-02). */
int64_t wf_day_from_ymd(int year, int month, int day);
/* The Gregorian year of a Bangkok day number. */
int wf_year_of_day(int64_t day);
/*
 * true when day (a Bangkok day number) is Monday to Friday and not a listed
 * holiday. cal NULL = no holidays: Monday to Friday.
 */
bool wf_calendar_working_day(const wf_calendar_t *cal, int64_t day);
/*
 * The moment n working days after t: the same Bangkok time of day as t, on
 * the n-th working day after t's Bangkok date (t's own date never counts,
 * even when it is a working day). n = 0 gives t. A t before 1970 or after
 * 9999 (UTC) gives INT64_MAX: a due time that never comes. Pure; cal NULL =
 * no holidays.
 */
int64_t wf_calendar_add_bd(const wf_calendar_t *cal, int64_t t, uint32_t n);

/* ---------------------------------------------------------------------- */
/* Workflow definitions                                                    */
/* ---------------------------------------------------------------------- */

typedef struct wf_set wf_set_t; /* every loaded workflow */
typedef struct wf_def wf_def_t; /* one workflow at one version */

/*
 * Loads every *.yaml file of a folder (path is a directory) or one file
 * (path is a regular file), validating each against PROTOCOL.md section 5.
 * *out is owned by the caller (wf_set_destroy); NULL on error.
 * Errors: LB_ECONFIG, with "file:line:column: message" in err, when path
 * cannot be opened, a folder holds no *.yaml file (or too many), a file
 * cannot be read or is refused (YAML rules as for wf_yaml_load_val, then
 * the schema) or two files define the same name and version: the whole
 * load fails on the first; LB_ENOMEM.
 */
int wf_set_load(const char *path, wf_set_t **out, char *err, size_t errlen);
/* The same for an explicit list of n files (n may be 0: an empty set). Same errors. */
int wf_set_load_files(const char *const *paths, size_t n, wf_set_t **out, char *err, size_t errlen);
/*
 * Parses one workflow from YAML text in memory (fuzzing, tests); name
 * stands for the file in messages. text need not be NUL-terminated. Same
 * errors as wf_set_load.
 */
int wf_set_load_text(const char *name, const char *text, size_t len, wf_set_t **out, char *err,
                     size_t errlen);
/* Frees the set and every definition in it; sets *set to NULL; safe on NULL and *set NULL. */
void wf_set_destroy(wf_set_t **set);

/*
 * Lookups. Definitions and their strings are borrowed from the set and valid
 * until wf_set_destroy.
 */
/* The definition with that name and version; version 0 = the newest. NULL if none. */
const wf_def_t *wf_set_get(const wf_set_t *set, const char *name, int64_t version);
size_t wf_set_count(const wf_set_t *set);
/* The i-th definition (sorted by name, then version), NULL past the end. */
const wf_def_t *wf_set_at(const wf_set_t *set, size_t i);

const char *wf_def_name(const wf_def_t *def);
int64_t wf_def_version(const wf_def_t *def);
/* The initial state's name. */
const char *wf_def_initial(const wf_def_t *def);
/*
 * true when the state exists and is terminal; then *outcome (outcome may be
 * NULL) is "resolved" or "closed" (static storage).
 */
bool wf_def_is_terminal(const wf_def_t *def, const char *state, const char **outcome);
bool wf_def_has_state(const wf_def_t *def, const char *state);

/*
 * Reloads that never strand a case. A workflow file may carry a top-level
 *   migrate: { old_state: new_state, ... }
 * naming, for states an earlier version had and this one has not, the state
 * of this file their cases move to. The loader refuses (LB_ECONFIG with
 * file:line:column) a migrate that is not a map, a key that is not a state
 * name or is a state of this file, and a value that is not a state of this
 * file. workflow.get (wf_def_describe full) lists it as `migrate` when
 * present.
 *
 * wf_def_migrate: the state def's migrate map sends old_state to (a string
 * of def), or NULL when it has no entry (also for NULL arguments).
 */
const char *wf_def_migrate(const wf_def_t *def, const char *old_state);

/*
 * The states of workflow name that replacing old_set by new_set would
 * strand: for every definition of name in old_set (each version), every
 * non-terminal state that the definition which would run its cases after the
 * reload lacks. That definition is the one of new_set with the same version,
 * else the newest of name in new_set (PROTOCOL.md 9.9), else none (name is
 * gone: all its non-terminal states are reported). Terminal states are left
 * out: a case in one never acts again.
 * fn(state, old_version, migrate_to, ctx) is called once per (version,
 * state), in set order: state (borrowed from old_set), the old version, and
 * migrate_to = where the new definition's migrate map sends the state, or
 * NULL when it does not (then every open case of name in that state would be
 * stranded: count them, and refuse the reload when there are any). fn
 * returns 0 to go on, > 0 to stop (0 returned), < 0 an error returned as it
 * is. Either set may be NULL (empty). Errors: LB_EINTERNAL (name or fn NULL);
 * fn's. Pure: reads both sets only.
 */
typedef int (*wf_vanished_fn)(const char *state, int64_t old_version, const char *migrate_to,
                              void *ctx);
int wf_set_vanished(const wf_set_t *old_set, const wf_set_t *new_set, const char *name,
                    wf_vanished_fn fn, void *ctx);

/*
 * The definition as a new value owned by the caller: full=false gives the
 * workflow.list entry {name, version, initial, states: [str], terminal:
 * [str]}; full=true the workflow.get result (title, states with escalate
 * steps, actions with from, to, roles, require, record, restart_timers).
 * NULL on ENOMEM.
 */
lb_val_t *wf_def_describe(const wf_def_t *def, bool full);

/* ---------------------------------------------------------------------- */
/* Cases                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct {
    int64_t due;   /* unix ms */
    uint32_t step; /* index into the state's escalate list, from 0 */
    char level[WF_SHORT_MAX];
    /* "" = a step of the state's ladder; else a record's timer (wf_ledger.c): "pledge" or
     * "decision", for record `record` (PROTOCOL.md 9.19). Kept across state changes. */
    char kind[WF_SHORT_MAX];
    uint64_t record;
} wf_timer_t;

typedef struct {
    uint32_t step;
    char level[WF_SHORT_MAX];
    char state[WF_NAME_MAX]; /* the state it fired in */
    int64_t at;              /* when it fell due */
    int64_t acked_at;        /* 0 = not acknowledged */
    char acked_by[WF_NAME_MAX];
    char kind[WF_SHORT_MAX]; /* the timer's kind and record (wf_timer_t) */
    uint64_t record;
} wf_escalation_t;

/*
 * A case in memory. Strings are fixed buffers; record lists are values owned
 * by the case. Personal data (household head, member names and ids) is not
 * here: the daemon keeps it encrypted beside the case.
 */
typedef struct {
    uint64_t id;
    char case_id[LB_CASE_ID_MAX];
    char house_id[12];
    char area[9];
    char workflow[WF_NAME_MAX];
    int64_t workflow_version;
    char state[WF_NAME_MAX];
    int64_t opened_at;
    int64_t entered_at;  /* when the current state was entered */
    int64_t timers_base; /* when the current escalation clock started */
    char source[WF_SHORT_MAX];
    char team[WF_NAME_MAX];   /* "" = none */
    char level[WF_SHORT_MAX]; /* progress level, "" = none */
    lb_val_t *needs;          /* array of {dimension, indicator?, note?, status: open|met} */
    lb_val_t *visits;         /* arrays of records (PROTOCOL.md section 4), ordered by at */
    lb_val_t *assistance;
    lb_val_t *follow_ups;
    lb_val_t *notes;
    lb_val_t *member_changes; /* member records, PROTOCOL.md 9.18 (references, no personal data) */
    lb_val_t *decisions;      /* committee decisions (PROTOCOL.md 9.19) */
    char merged_into[LB_CASE_ID_MAX]; /* the case this one was merged into, "" = none */
    wf_escalation_t *esc;             /* every fired escalation, oldest first */
    uint32_t n_esc;
    wf_timer_t *timers; /* pending steps of the current state, due order */
    uint32_t n_timers;
    uint32_t fired_in_state; /* escalations fired since timers_base; overdue when > 0 */
    uint64_t last_seq;
    lb_val_t *history; /* seqs of the case's events, oldest first (kept with the case so
                          that case.history needs no index of its own) */
} wf_case_t;

/*
 * Zero-initialises c with empty record arrays, owned by c until
 * wf_case_clear. 0, or LB_ENOMEM (c then zeroed).
 */
int wf_case_init(wf_case_t *c);
/* Frees what c owns and zeroes it; safe on NULL and on a zeroed case. */
void wf_case_clear(wf_case_t *c);

/*
 * The records a case holds: visits + assistance + follow_ups + notes (what
 * the record cap of wf_apply counts). Saturates at UINT32_MAX.
 */
uint32_t wf_case_records(const wf_case_t *c);

/* overdue (fired_in_state > 0) */
bool wf_case_overdue(const wf_case_t *c);
/* The newest escalation (borrowed: valid until c changes), or NULL. */
const wf_escalation_t *wf_case_latest_esc(const wf_case_t *c);
/* Open needs per dimension into out, in lb_dimensions order. */
void wf_case_needs_open(const wf_case_t *c, uint32_t out[WF_NDIM]);

/*
 * The case as a new value owned by the caller (the stored form and the core
 * of the case.get view, PROTOCOL.md section 4, without household). NULL on
 * ENOMEM.
 */
lb_val_t *wf_case_to_val(const wf_case_t *c);
/*
 * The same value, but holding c's record lists (needs, visits, assistance,
 * follow_ups, notes, history) by reference instead of copies: for encoding a
 * case at once. The value may only be read, and must be released with
 * wf_case_val_return (never lb_val_free) before c changes. NULL on ENOMEM.
 */
lb_val_t *wf_case_to_val_lent(const wf_case_t *c);
void wf_case_val_return(lb_val_t **v);

/*
 * Limits for decoding a stored case (the bytes of proto_pack(wf_case_to_val(c)))
 * with proto_unpack: the four fields of a proto_limits_t, in its order
 *   proto_limits_t stored = {WF_CASE_DECODE_DEPTH, WF_CASE_DECODE_ITEMS,
 *                            WF_CASE_DECODE_STR, WF_CASE_DECODE_NODES};
 * The request limits (proto_default_limits: 10,000 elements, 2,000,000
 * values) do not fit stored cases: the record cap bounds only records (and
 * lets a closing action add one past it), while a case's history (one seq
 * per event) and escalations grow with every state change, acknowledgement
 * and fired step, and every record may hold 5 x 1,024 indicator codes. So
 * counts are not limited here: proto_unpack checks every declared count
 * against the bytes that remain before allocating, so what a decode
 * allocates stays proportional to the stored bytes. Depth and string size
 * are what the engine can write: a case nests 5 deep (case, visits, record,
 * findings, codes) and its longest string is a note (WF_TEXT_MAX bytes).
 */
#define WF_TEXT_MAX 65536 /* bytes of a note, or any string value in data */
#define WF_CASE_DECODE_DEPTH 16
#define WF_CASE_DECODE_ITEMS UINT32_MAX
#define WF_CASE_DECODE_STR WF_TEXT_MAX
#define WF_CASE_DECODE_NODES UINT32_MAX

/*
 * The reverse: fills c (which must be zeroed) from v, copying; c then owns
 * what it holds (wf_case_clear). v is only read. Unknown keys are ignored.
 * Errors: LB_ECORRUPT when v is NULL or not a case (a key missing, of the
 * wrong type or out of range); LB_ENOMEM. On error c is left zeroed.
 */
int wf_case_from_val(const lb_val_t *v, wf_case_t *c);
/*
 * The same, but moves the record lists out of v instead of copying them (v is
 * left a valid value with nil in their place): for a value about to be freed.
 */
int wf_case_from_val_take(lb_val_t *v, wf_case_t *c);
/*
 * The stored form as bytes, without a value tree for the whole case
 * (wf_case_pack.c): appends to out exactly the bytes of
 * proto_pack(wf_case_to_val(c)), so stored cases and their readers are as
 * before. 0, or LB_ENOMEM (out then as it was). c is only read.
 */
int wf_case_pack(const wf_case_t *c, lb_buf_t *out);
/*
 * Decodes the n bytes of a stored case at p into c (overwritten; c then owns
 * what it holds: wf_case_clear). Reads the form wf_case_pack writes directly;
 * anything else (a case stored by an older build, unknown keys) goes through
 * proto_unpack with the WF_CASE_DECODE_* limits and wf_case_from_val, which
 * decide. So the result is always that of those two.
 * Returns 0; LB_ECORRUPT when the bytes are not a case; LB_ENOMEM. On error c
 * is left zeroed. p is only read (nothing of c points into it).
 */
int wf_case_unpack(const void *p, size_t n, wf_case_t *c);
/*
 * The direct reader alone, for tests and fuzzing: as wf_case_unpack, but
 * LB_ECORRUPT also for a case it does not read itself (a key missing,
 * repeated or unknown, a value of another type or range); whatever it
 * accepts, wf_case_from_val(proto_unpack(p)) accepts as the same case.
 */
int wf_case_unpack_direct(const void *p, size_t n, wf_case_t *c);
/* Appends an event seq to the case's history. 0, or LB_ENOMEM. */
int wf_case_add_event(wf_case_t *c, uint64_t seq);

/*
 * Error detail from the engine: code is the returned error, field may be "".
 * Every engine call taking a wf_error_t * accepts NULL for it and zeroes it
 * first.
 */
typedef struct {
    int code;
    char field[WF_NAME_MAX];
    char message[256];
    /*
     * The case an error is about when the case itself, not the request, is
     * the cause (LB_ETOOLARGE: the case is full): its case_id, for the
     * reply's error.case_id. "" otherwise.
     */
    char case_id[LB_CASE_ID_MAX];
} wf_error_t;

/*
 * Opens a case: state = initial, opened_at = entered_at = timers_base = now,
 * the initial state's timers (business-day steps counted with cal, which
 * may be NULL: no holidays; see "Timers" below), one open need per deprived indicator (an array
 * of strings, may be NULL). c must be initialised and have id, case_id,
 * house_id, area, source, team set by the caller; workflow and version are
 * set here; deprived is only read. Errors: LB_EBADREQ (field "deprived")
 * when deprived is neither NULL, nil nor an array of strings, or names an
 * indicator not in the catalog; LB_ENOMEM. On error c may be partly set and
 * should be cleared by the caller.
 */
int wf_open(const wf_def_t *def, const wf_catalog_t *cat, const wf_calendar_t *cal, wf_case_t *c,
            const lb_val_t *deprived, int64_t now, wf_error_t *err);

/* The record cap when wf_act_t.max_records is 0 (config limits.case_records). */
#define WF_CASE_RECORDS_DEFAULT 2000

typedef struct {
    const char *action;
    const lb_val_t *data; /* map or NULL */
    const char *role;     /* field, committee, reporter, admin */
    const char *actor;    /* client name, for records */
    int64_t at;           /* when it happened (already bounded by the caller) */
    uint32_t max_records; /* records a case may hold (wf_case_records); 0 = the default */
    /*
     * true: data of an action that appends no record may hold only team,
     * level, reason and the action's require keys (wf_apply, check 5).
     * false keeps the open rule (any key with a scalar value) for clients
     * that still send others (e.g. note); the daemon sets it once they
     * have moved.
     */
    bool strict_data;
    /* The holidays business-day steps count with when the action sets timers; NULL = none. */
    const wf_calendar_t *calendar;
} wf_act_t;

typedef struct {
    char from[WF_NAME_MAX];
    char to[WF_NAME_MAX];
    bool state_changed;
    bool timers_changed;  /* old timers cancelled, new ones set (state change or restart) */
    const char *kind;     /* event kind: case, visit, assist, followup, note, member, decision */
    const char *record;   /* visit, assistance, follow_up, note, member, decision, or NULL */
    uint64_t record_id;   /* the appended record's id (0 = none appended) */
    lb_val_t *event_data; /* what the event carries as data (owned; may be NULL) */
} wf_outcome_t;

/* Frees o->event_data and zeroes o; safe on a zeroed outcome. */
void wf_outcome_clear(wf_outcome_t *o);

/*
 * Runs one action on c in place. Checks, in this order:
 *  1. the action exists (else LB_EINVALID, field "action", message naming it);
 *  2. the case is in one of its from-states (LB_EINVALID, field "action");
 *  3. the role may run it (LB_EFORBIDDEN; admin always may);
 *  4. the record cap: an action appending a record to a case that holds
 *     act->max_records (0 = WF_CASE_RECORDS_DEFAULT) records or more is
 *     LB_ETOOLARGE, field "", err->case_id = c->case_id; an action whose
 *     `to` state is terminal is exempt, so a full case can still be closed
 *     (and then holds one record over the cap at most);
 *  5. data is a map or absent (LB_EGUARD, field "data"); for an action that
 *     appends no record, when act->strict_data is set, its keys are only
 *     team, level, reason and the action's require keys (else LB_EGUARD,
 *     field = the key; unknown keys are named before missing ones); the
 *     require keys are present and not nil (LB_EGUARD, field = the key);
 *  6. the record valid against PROTOCOL.md section 4 and the catalog (notes
 *     and need notes at most WF_TEXT_MAX bytes, agency 256), or without a
 *     record every value a scalar and strings at most WF_TEXT_MAX bytes;
 *     team and level valid; the engine's rules for entering a terminal
 *     state (LB_EGUARD with field);
 * then LB_ENOMEM. Fields are relative to data (the daemon prefixes "data.").
 * act and its data are only read (copied into the case).
 * On success c has the new state, appended record (kept ordered by at),
 * updated needs, team and level, and timers, and *out is filled: its kind
 * and record are static strings, event_data is owned by out
 * (wf_outcome_clear). On a check's error c is unchanged; on LB_ENOMEM c may
 * be partly changed and must be discarded by the caller. *out is zeroed
 * first and left without data on error.
 */
int wf_apply(const wf_def_t *def, const wf_catalog_t *cat, wf_case_t *c, const wf_act_t *act,
             wf_outcome_t *out, wf_error_t *err);

/*
 * Fires the earliest pending timer of c when its due time is <= now: removes
 * it from c->timers, appends the escalation (at = due), increments
 * fired_in_state. Returns 1 and fills *fired (fired may be NULL) when one
 * fired, 0 when none is due; LB_ENOMEM, or LB_ETOOLARGE when the case holds
 * UINT32_MAX escalations already (c unchanged on both). The caller loops to
 * catch up on several steps.
 */
int wf_fire_due(wf_case_t *c, int64_t now, wf_escalation_t *fired);

/* The earliest pending due time into *due (due may be NULL): 1, or 0 when none. */
int wf_next_due(const wf_case_t *c, int64_t *due);

/*
 * Acknowledges the newest escalation: acked_at = now (1 when now <= 0, as 0
 * means "not acknowledged"), acked_by = actor (NULL = "", truncated to fit);
 * *acked (may be NULL) gets a copy. LB_ENOTFOUND when the case has no
 * escalation, LB_ECONFLICT when the newest is already acknowledged.
 */
int wf_ack(wf_case_t *c, const char *actor, int64_t now, wf_escalation_t *acked);

/*
 * Moves c into def's states after a reload: when c->state is a state of def,
 * nothing changes (0). Otherwise, when def's migrate map names it, c enters
 * the mapped state as if by an action at now: entered_at = timers_base =
 * max(now, entered_at), fired_in_state = 0, the new state's timers, and
 * workflow/workflow_version = def's (the case now follows def); returns 1.
 * The caller then saves the case (its state changed: indexes and counters)
 * and may log an event. Escalations and records are kept.
 * Errors: LB_ENOTFOUND (the state is in neither: c unchanged); LB_EINTERNAL
 * (def or c NULL); LB_ENOMEM (c partly changed: discard it).
 */
int wf_case_migrate(const wf_def_t *def, const wf_calendar_t *cal, wf_case_t *c, int64_t now);

/*
 * Timers. Entering a state (wf_open, wf_apply, wf_case_migrate) sets one
 * timer per escalation step, measured from timers_base: a step of `after:
 * 7d` (s, m, h, d) falls due that long after it; a step of `after: 10bd`
 * at the same Bangkok time of day on the 10th working day after
 * timers_base's Bangkok date (wf_calendar_add_bd with the calendar given).
 * A step never falls due before the step listed before it: when a mix of
 * units would put it earlier, it falls due with that step. A timer keeps its
 * due time once set: a calendar loaded later changes only timers set after.
 */

/*
 * Starts the escalation clock of c's current state again at now (a case
 * handed to another area's committees, PROTOCOL.md 9.17): timers_base =
 * max(now, timers_base), fired_in_state = 0 (no longer overdue), the state's
 * steps from there. Escalations that fired stay in c->esc. A terminal state
 * has no timers; working-day steps count with cal (may be NULL: no holidays). Errors: LB_ENOTFOUND
 * (c's state is not def's: c unchanged); LB_EINTERNAL (def or c NULL); LB_ENOMEM (c partly changed:
 * discard it).
 */
int wf_case_restart_clock(const wf_def_t *def, const wf_calendar_t *cal, wf_case_t *c, int64_t now);

/* ---------------------------------------------------------------------- */
/* Household membership and merging (wf_members.c, PROTOCOL.md 9.18)       */
/* ---------------------------------------------------------------------- */

/*
 * A member record is {at, change, member, new_head?, team?, level?}: change
 * one of wf_member_changes, member and new_head member references ("M" and
 * 32 lower-case hex digits, a keyed hash the daemon makes of a national id),
 * never a national id or a name: the engine keeps no personal data.
 */
#define WF_NMEMBER_CHANGE 4
extern const char *const wf_member_changes[WF_NMEMBER_CHANGE]; /* join leave head deceased */
/* "M" and 32 hex digits */
#define WF_MEMBER_REF_LEN 33
/* true when s is a member reference (NULL: false). Any thread. */
bool wf_member_ref_valid(const char *s);

/*
 * The record kind the named action of def appends ("visit", "assistance",
 * "follow_up", "note", "member"; static storage), or NULL when the action
 * appends none or does not exist. Lets the daemon prepare a member record's
 * data before wf_apply checks the action.
 */
const char *wf_def_action_record(const wf_def_t *def, const char *action);

/*
 * Merges drop's records into keep (case.merge): every record of drop's
 * visits, assistance, follow_ups, notes, member_changes and decisions is
 * copied into keep's list of its kind, each list staying ordered by at (a
 * record of drop goes after keep's records with the same at); drop's needs
 * that keep has no need for (the same indicator, or the same dimension and
 * note) are copied too, with their status. Record ids are unique only within
 * a case, so every copied id, and every pledge naming one, is raised by
 * wf_case_last_record_id(keep) as keep was before (wf_record_renumber);
 * drop's pledge and decision timers join keep's, naming the raised ids.
 * *added gets the number of records copied. drop is only read. Errors: LB_ETOOLARGE (field "",
 * err->case_id = keep's) when keep would then hold more than max_records records (0 = the default
 * cap), keep unchanged; LB_ENOMEM (keep partly changed: discard it).
 */
int wf_case_absorb(wf_case_t *keep, const wf_case_t *drop, uint32_t max_records, uint32_t *added,
                   wf_error_t *err);

/* The largest record id of c (PROTOCOL.md 9.19), 0 when no record holds one. */
uint64_t wf_case_last_record_id(const wf_case_t *c);
/*
 * Raises the record ids in rec (a record map: its id, and its pledge) by
 * offset, as wf_case_absorb does to a merged case's records (offset 0, or
 * rec not a map: nothing). 0 or LB_ENOMEM.
 */
int wf_record_renumber(lb_val_t *rec, uint64_t offset);

/* The first terminal state of def with outcome "closed" (borrowed), or NULL when it has none. */
const char *wf_def_closed_state(const wf_def_t *def);
/*
 * Closes c as a duplicate merged into the case into (a case id): c enters
 * wf_def_closed_state(def) as if by an action at now (entered_at =
 * timers_base = max(now, entered_at), no timers, fired_in_state 0) and
 * merged_into = into. Records and escalations are kept. LB_EINTERNAL when
 * def has no closed state or into does not fit; c unchanged then.
 */
int wf_case_close_merged(const wf_def_t *def, wf_case_t *c, const char *into, int64_t now);

/* ---------------------------------------------------------------------- */
/* The agency ledger and the committee agenda (wf_ledger.c, PROTOCOL.md 9.19) */
/* ---------------------------------------------------------------------- */

/* deliver_within when a workflow does not say: 90 days. */
#define WF_DELIVER_WITHIN_DEFAULT (90LL * 24 * 3600 * 1000)
/* The escalation level of a pledge or decision timer. */
#define WF_RECORD_TIMER_LEVEL "district"

/* The workflow's deliver_within in ms. */
int64_t wf_def_deliver_within(const wf_def_t *def);
/*
 * true when state exists, is not terminal, and the actions that move a case
 * on from it (to a state written later in the file; not those every state
 * has, from: "*") are at least one and all allowed to committee and not to
 * field: a case there waits for a committee (report.agenda).
 */
bool wf_def_committee_only(const wf_def_t *def, const char *state);
/* The record with that id in any of c's record lists (borrowed), or NULL. */
const lb_val_t *wf_case_record(const wf_case_t *c, uint64_t id);
/* true when an assistance record of c delivers (pledge: id) the pledge id. */
bool wf_case_pledge_delivered(const wf_case_t *c, uint64_t id);

/*
 * Parses "7d", "12h", "30m", "45s" into ms (ms may be NULL: a check only).
 * 0, or LB_ECONFIG (NULL, no digits, zero, another unit, or overflow).
 */
int wf_parse_duration(const char *s, int64_t *ms);

/*
 * An escalation step's `after`: a duration as wf_parse_duration (then *bd =
 * 0 and *ms its length), or N business days "Nbd", 1 <= N <= WF_BD_MAX
 * (then *bd = N and *ms the shortest span N working days can take: N days
 * plus two for each weekend they must cross, N + 2 * ((N - 1) / 5), which
 * is what ordering checks compare). ms and bd may be NULL. 0, or
 * LB_ECONFIG.
 */
int wf_parse_after(const char *s, int64_t *ms, uint32_t *bd);

#endif
