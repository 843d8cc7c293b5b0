/*
 * test_workflow.c - CUnit tests of workflow/: the shipped workflows and
 * catalog load, every refusal of the loaders points at the right
 * file:line:column, and every engine rule (transitions, roles, records,
 * needs, timers, escalations, the stored case form) behaves as specified,
 * and the gazetteer (config/areas.tsv, wf_areas_*) loads and answers.
 * Runs from the repository root; fixtures are under tests/data/workflows.
 * The tests live in tests/unit/workflow/, one file per suite; this is the main.
 */
#include "workflow/workflow_test.h"

int main(void)
{
    const cu_suite_t suites[] = {
        workflow_loading_suite,  workflow_transitions_suite, workflow_records_suite,
        workflow_outcomes_suite, workflow_stored_suite,      workflow_migrate_suite,
        workflow_areas_suite,    workflow_holidays_suite,    workflow_members_suite,
        workflow_ledger_suite,   workflow_packed_suite,
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
