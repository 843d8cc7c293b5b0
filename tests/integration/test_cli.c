/*
 * test_cli.c - the `logbook` command line against a real logbookd (manual
 * clock): each command runs as a subprocess with -e/-k/-s pointing at the
 * test daemon, and its stdout, stderr and exit code are checked. The binary
 * is $LOGBOOK_BIN/logbook (LOGBOOK_BIN defaults to "bin"). Background
 * processes (watch) are stopped by their pid; conditions are polled for,
 * never slept for. The tests live in tests/integration/cli/; they share one
 * daemon, so they run in this order. (The JSON checker they use, tval.h, is
 * tested in test_proto.)
 */
#include "cli/cli_test.h"

int main(void)
{
    static const cu_test_t tests[] = {
        {"ping, and --json", test_ping},
        {"LOGBOOK_ENDPOINT, LOGBOOK_CERT, LOGBOOK_SERVER_CERT", test_environment},
        {"open with Thai names, members, deprived; show and --json", test_open_show},
        {"open --member :NAME", test_open_member_name_only},
        {"act with dotted keys, lists, numbers, quoted text", test_act_dotted_keys_and_numbers},
        {"shortcuts through the shipped workflow to resolved; close", test_shortcuts_to_resolved},
        {"admin clock, then ack", test_clock_and_ack},
        {"ledger, agenda and record ids", test_ledger_and_agenda},
        {"history", test_history},
        {"find --house and --nid", test_find},
        {"list --area --state --team --overdue --limit", test_list_filters},
        {"import a CSV: BOM, CRLF, quotes, Thai, bad rows with their lines", test_import_csv},
        {"watch prints events; --after --json replays", test_watch},
        {"keygen: 0600, no overwrite without --force", test_keygen},
        {"a keygen key is admitted after admin reload", test_keygen_key_is_admitted_after_reload},
        {"verify", test_verify},
        {"admin stats, backup, reload; workflows", test_admin},
        {"a refused request exits 1 with the error code", test_refused_exits_1},
        {"an unreachable daemon exits 3", test_unreachable_exits_3},
        {"usage errors exit 2; help exits 0", test_usage_exits_2},
        {"list follows the cursor past one page", test_list_follows_cursor},
        {"user add: 0600, argon2id, read back", test_user_add},
        {"user: refusals change nothing", test_user_refusals},
        {"user passwd, disable, enable, list", test_user_passwd_disable_enable},
        {"user: config/users.tsv in a source tree", test_user_default_file},
        {"a stopped daemon is named within seconds, default timeouts",
         test_stopped_daemon_named_fast},
        {"an unknown command suggests the nearest", test_unknown_command_suggests},
        {"missing and extra arguments named; quote names with spaces", test_arguments_named},
        {"ids are checked in digits", test_ids_in_digits},
        {"invalid_transition lists the allowed actions", test_invalid_transition_lists_actions},
        {"a Buddhist-era year is named", test_buddhist_era_year},
        {"lower-case case ids; an endpoint without tcp://", test_lower_case_ids_and_bare_endpoint},
        {"list --unacked and the ACKED column", test_list_unacked},
        {"outside a checkout the keys used (or missing) are named", test_installed_keys_named},
        {"transfer, reassign, admin remap", test_casework},
        {"member, duplicates, merge", test_member_duplicates_merge},
    };
    return cu_run("cli", suite_init, suite_clean, tests, CU_COUNT(tests));
}
