/*
 * cli_test.h - shared by test_cli.c and its files in tests/integration/cli/:
 * the harness (harness.c) and every test, in one suite that shares a daemon.
 */
#ifndef CLI_TEST_H
#define CLI_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../../proto/proto.h"
#include "../../lib/cu.h"
#include "../../lib/testd.h"
#include "../../lib/tval.h"

#define ARGV_MAX 64
#define WAIT_MS 15000 /* deadline for polled conditions */

extern testd_t D; /* one daemon with the manual clock for the whole suite */
extern char admin_key[400], server_key[400];
extern char logbook_path[4096];

typedef struct {
    int code;  /* exit code; -1 when it did not exit normally */
    char *out; /* stdout, NUL-terminated */
    char *err; /* stderr */
} run_t;

/* A background logbook: its pid until it is reaped, then its exit code. */
typedef struct {
    pid_t pid; /* -1 once reaped */
    int code;
} bg_t;

int suite_init(void);  /* starts D; -1 when bin/logbook or the daemon is missing */
int suite_clean(void); /* stops D; -1 when it did not exit 0 */

/* Running the CLI */
void run_free(run_t *r);
/* A file's contents, NUL-terminated ("" when it cannot be read); caller frees. */
char *slurp(const char *path);
/* Waits for pid; its exit code, or -1 when it did not exit normally. */
int wait_exit(pid_t pid);
/*
 * Starts logbook with argv[1..] = args (NULL-ended), stdout/stderr to
 * out_path/err_path, stdin from /dev/null, in folder cwd (NULL = ours), with
 * our environment less LOGBOOK_* plus env_extra. Returns the pid or -1.
 */
pid_t spawn_cli(const char *const *args, const char *const *env_extra, const char *cwd,
                const char *out_path, const char *err_path);
/* Runs logbook with exactly these arguments and waits for it. */
void run_argv(run_t *r, const char *const *args, const char *const *env_extra, const char *cwd);
/* logbook -e REQ -k ADMIN -s SERVER ARGS...: use cli(&r, ARGS...), which ends the list. */
void cli_(run_t *r, const char *first, ...);
/* logbook ARGS... with no global options added: use cli_bare(&r, ARGS...). */
void cli_bare_(run_t *r, const char *first, ...);
bool contains(const char *hay, const char *needle);
size_t count_lines(const char *s);
/* Copies the first case id ("C" + digits) found in s into out; "" when none. */
void first_case_id(const char *s, char out[LB_CASE_ID_MAX]);

/* Helpers over the API (set-up only; what is tested goes through the CLI) */
int64_t daemon_now(void);
int64_t daemon_last_seq(void);
/* logbook open HOUSE AREA ...; the new case id in out ("" on failure). */
void cli_open(char out[LB_CASE_ID_MAX], const char *house, const char *area);

/* Background watchers */
/*
 * Polls path until it contains needle, the process exits (it is reaped then)
 * or WAIT_MS pass; returns the file's text (caller frees).
 */
char *wait_for_text(const char *path, const char *needle, bg_t *bg);
/* Starts `logbook ... watch ARGS` in the background with -E. */
bg_t start_watch(const char *out, const char *err, const char *const *watch_args);
/* SIGTERM by its pid, unless it ended already; its exit code. */
int stop_watch(bg_t *bg);

/* A typed end marker: a bare NULL in a variadic list may be an int. */
#define cli(r, ...) cli_(r, __VA_ARGS__, (const char *)NULL)
#define cli_bare(r, ...) cli_bare_(r, __VA_ARGS__, (const char *)NULL)

/* basics.c */
void test_ping(void);
void test_environment(void);
void test_open_show(void);
void test_open_member_name_only(void);
void test_act_dotted_keys_and_numbers(void);
void test_shortcuts_to_resolved(void);
void test_clock_and_ack(void);

/* queries.c */
void test_history(void);
void test_find(void);
void test_list_filters(void);
void test_list_follows_cursor(void);
void test_import_csv(void);

/* tools.c */
void test_watch(void);
void test_keygen(void);
void test_keygen_key_is_admitted_after_reload(void);
void test_verify(void);
void test_admin(void);
void test_refused_exits_1(void);
void test_unreachable_exits_3(void);
void test_usage_exits_2(void);

/* users.c */
void test_user_add(void);
void test_user_refusals(void);
void test_user_passwd_disable_enable(void);
void test_user_default_file(void);
/* hints.c */
void test_stopped_daemon_named_fast(void);
void test_unknown_command_suggests(void);
void test_arguments_named(void);
void test_ids_in_digits(void);
void test_invalid_transition_lists_actions(void);
void test_buddhist_era_year(void);
void test_lower_case_ids_and_bare_endpoint(void);
void test_list_unacked(void);
void test_installed_keys_named(void);
/* members.c */
void test_member_duplicates_merge(void);
/* ledger.c */
void test_ledger_and_agenda(void);

/* casework.c */
void test_casework(void);
#endif
