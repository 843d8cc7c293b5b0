/*
 * test_store.c - CUnit tests of store/: persistence across reopen, the
 * schema check, cases and every index and counter kept with them, events,
 * timers, idempotency records, nested transactions, map growth, backup.
 * Each test works in its own folder under /tmp, removed when it ends. The
 * tests live in tests/unit/store/, one file per suite; this is the main.
 */
#include "store/store_test.h"

int main(void)
{
    const cu_suite_t suites[] = {
        store_open_suite, store_cases_suite, store_counters_suite, store_events_suite,
        store_idem_suite, store_txn_suite,   store_months_suite,   store_wal_suite,
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
