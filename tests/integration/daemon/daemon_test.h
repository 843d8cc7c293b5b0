/*
 * daemon_test.h - shared by test_daemon.c and its files in
 * tests/integration/daemon/: the helpers (helpers.c) and every test.
 */
#ifndef DAEMON_TEST_H
#define DAEMON_TEST_H

#include <stdint.h>

#include "../../../proto/proto.h"
#include "../../lib/cu.h"
#include "../../lib/testd.h"

#define AREA "65010101"

extern testd_t D; /* the shared daemon (manual clock) of the "daemon" suite */
/* The next unused house id number; take one with next_house++. */
extern unsigned long next_house;

int suite_init(void);
int suite_clean(void);

lb_val_t *args_new(void);
/* case.open args for a household (testd_household) with this house number in area. */
lb_val_t *open_args(unsigned long house, const char *area);
/* Opens a case in area; returns its id in out (or "" on failure). */
void open_case(testd_t *t, const char *area, char out[LB_CASE_ID_MAX]);
/* case.act on t; data (consumed) may be NULL; returns the reply (caller frees). */
lb_val_t *act(testd_t *t, const char *case_id, const char *action, lb_val_t *data);
/* case.get; the reply (caller frees). */
lb_val_t *get_case(testd_t *t, const char *case_id);
/* A string / integer of the reply's result ("" / -1 when absent). */
const char *result_str(const lb_val_t *r, const char *key);
int64_t result_int(const lb_val_t *r, const char *key);
/* {team: TEAM} */
lb_val_t *team_data(const char *team);
/* {v, id, op, args}; args (consumed) may be NULL. */
lb_val_t *request_doc(const char *id, int64_t v, const char *op, lb_val_t *args);
/* The reply's error code, or "". */
const char *reply_code(const lb_val_t *r);

/* requests.c */
void test_ping_over_curve(void);
void test_unknown_key_gets_no_answer(void);
void test_plain_client_gets_no_answer(void);
void test_open_get_conflict(void);
void test_bad_requests(void);
void test_transitions_and_errors(void);
void test_idempotent_retry(void);
void test_events_contiguous_and_since(void);

/* operations.c */
void test_escalation_manual_clock(void);
void test_list_cursor(void);
void test_import(void);
void test_admin_ops(void);
void test_sighup_reload(void);
void test_subscriber_catches_up_through_events_since(void);
void test_roles_and_scopes(void);

/* lifecycle.c */
void test_persistence_and_sigterm(void);
void test_downtime_timers_fire_at_start(void);
void test_sigkill_under_load_loses_nothing(void);
void test_full_disk_refuses_writes_keeps_reads(void);
void test_bad_config_exits_2(void);
void test_bad_clients_checked_before_keys(void);

#endif
