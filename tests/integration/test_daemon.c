/*
 * test_daemon.c - integration tests: real logbookd processes on loopback
 * ports, spoken to over ZeroMQ with CURVE, stopped by their pid. The tests
 * live in tests/integration/daemon/; the "daemon" suite shares one daemon,
 * so its tests run in this order.
 */
#include "daemon/daemon_test.h"

int main(void)
{
    static const cu_test_t daemon[] = {
        {"ping over CURVE with the generated admin certificate", test_ping_over_curve},
        {"an unknown key gets no answer", test_unknown_key_gets_no_answer},
        {"a client without CURVE gets no answer", test_plain_client_gets_no_answer},
        {"case.open, case.get, conflict, case.find", test_open_get_conflict},
        {"bad requests get their error codes", test_bad_requests},
        {"transitions and their errors", test_transitions_and_errors},
        {"an idempotent retry gets the stored reply", test_idempotent_retry},
        {"events are contiguous and events.since is byte-identical",
         test_events_contiguous_and_since},
        {"escalation under the manual clock", test_escalation_manual_clock},
        {"case.list pages with a cursor", test_list_cursor},
        {"case.import opens, skips and reports errors", test_import},
        {"admin operations", test_admin_ops},
        {"roles and area scopes", test_roles_and_scopes},
        {"SIGHUP reloads the registry; an invalid one keeps the old", test_sighup_reload},
        {"a late subscriber catches up through events.since",
         test_subscriber_catches_up_through_events_since},
    };
    static const cu_test_t lifecycle[] = {
        {"persistence across restart, SIGTERM exits 0", test_persistence_and_sigterm},
        {"timers due during downtime fire at start", test_downtime_timers_fire_at_start},
        {"SIGKILL under load loses no acknowledged write", test_sigkill_under_load_loses_nothing},
        {"a full disk refuses writes with unavailable, reads go on",
         test_full_disk_refuses_writes_keeps_reads},
        {"a bad configuration exits 2", test_bad_config_exits_2},
        {"a bad clients.yaml exits 2 before keys or data_dir exist",
         test_bad_clients_checked_before_keys},
    };
    const cu_suite_t suites[] = {
        {.name = "daemon",
         .init = suite_init,
         .clean = suite_clean,
         .tests = daemon,
         .n = CU_COUNT(daemon)},
        {.name = "lifecycle", .tests = lifecycle, .n = CU_COUNT(lifecycle)},
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
