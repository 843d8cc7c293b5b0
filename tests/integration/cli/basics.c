/*
 * basics.c - test_cli: ping, the environment, open and show, act, the shortcuts through the shipped
 * workflow, the clock and ack.
 */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test.h"

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

void test_ping(void)
{
    run_t r;
    cli(&r, "ping");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "logbookd 0.1.0 at "));
    CU_ASSERT_TRUE(contains(r.out, D.req_ep));
    CU_ASSERT_TRUE(contains(r.out, "last seq "));
    CU_ASSERT_STRING_EQUAL(r.err, "");
    run_free(&r);
    /* global options are accepted after the command too */
    cli_bare(&r, "ping", "--json", "-e", D.req_ep, "-k", admin_key, "-s", server_key);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"version\": \"0.1.0\""));
    CU_ASSERT_TRUE(contains(r.out, "\"last_seq\": "));
    CU_ASSERT_TRUE(contains(r.out, "\"uptime_s\": "));
    run_free(&r);
}

void test_environment(void)
{
    char ep[100], cert[450], srv[450];
    snprintf(ep, sizeof ep, "LOGBOOK_ENDPOINT=%s", D.req_ep);
    snprintf(cert, sizeof cert, "LOGBOOK_CERT=%s", admin_key);
    snprintf(srv, sizeof srv, "LOGBOOK_SERVER_CERT=%s", server_key);
    const char *env[] = {ep, cert, srv, NULL};
    const char *args[] = {"ping", NULL};
    run_t r;
    run_argv(&r, args, env, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, D.req_ep));
    run_free(&r);
    /* -e on the command line wins over $LOGBOOK_ENDPOINT */
    const char *args2[] = {"-e", "tcp://127.0.0.1:1", "--timeout", "200", "--retries", "0", "ping",
                           NULL};
    run_argv(&r, args2, env, NULL);
    CU_ASSERT_EQUAL(r.code, 3);
    run_free(&r);
}

void test_open_show(void)
{
    char nid[14], member[100];
    testd_nid(310100200300ULL, nid);
    snprintf(member, sizeof member, "%s:สมหญิง ใจดี", nid);
    run_t r;
    cli(&r, "open", "65010000001", "65010101", "--head", "สมชาย ใจดี", "--member", member,
        "--member", ":ด.ช. ก้องภพ ใจดี", "--deprived", "bmn22,bmn8", "--deprived", "bmn4", "--team",
        "team-mueang-1");
    CU_ASSERT_EQUAL_FATAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "opened C"));
    CU_ASSERT_TRUE(contains(r.out, "for house 65010000001 (state identified, seq "));
    char cid[LB_CASE_ID_MAX];
    first_case_id(r.out, cid);
    CU_ASSERT_FATAL(cid[0] != '\0');
    run_free(&r);

    /* --member without a colon is a national id only: not valid here */
    cli(&r, "open", "65010000002", "65010101", "--member", "1234");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "bad_request"));
    CU_ASSERT_TRUE(contains(r.err, "household.members.0.nid"));
    run_free(&r);

    cli(&r, "show", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "สมชาย ใจดี"));
    CU_ASSERT_TRUE(contains(r.out, "สมหญิง ใจดี"));
    CU_ASSERT_TRUE(contains(r.out, nid));
    CU_ASSERT_TRUE(contains(r.out, "identified"));
    CU_ASSERT_TRUE(contains(r.out, "team-mueang-1"));
    CU_ASSERT_TRUE(contains(r.out, "tpmap-household v1"));
    CU_ASSERT_TRUE(contains(r.out, "needs (3)"));
    CU_ASSERT_TRUE(contains(r.out, "bmn22"));
    CU_ASSERT_TRUE(contains(r.out, "timers (3)"));
    run_free(&r);

    cli(&r, "--json", "show", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    char key[64];
    snprintf(key, sizeof key, "\"case_id\": \"%s\"", cid);
    CU_ASSERT_TRUE(contains(r.out, key));
    CU_ASSERT_TRUE(contains(r.out, "\"head\": \"สมชาย ใจดี\""));
    CU_ASSERT_TRUE(contains(r.out, "\"name\": \"สมหญิง ใจดี\""));
    CU_ASSERT_TRUE(contains(r.out, "\"name\": \"ด.ช. ก้องภพ ใจดี\""));
    CU_ASSERT_TRUE(contains(r.out, "\"state\": \"identified\""));
    CU_ASSERT_TRUE(contains(r.out, "\"indicator\": \"bmn8\""));
    CU_ASSERT_TRUE(contains(r.out, "\"overdue\": false"));
    CU_ASSERT_TRUE(contains(r.out, "\"workflow_version\": 1"));
    run_free(&r);
}

/* "--member :NAME" is a member with a name and no national id. */
void test_open_member_name_only(void)
{
    run_t r;
    cli(&r, "open", "65010000003", "65010101", "--member", ":มานี มีนา");
    CU_ASSERT_EQUAL(r.code, 0);
    char cid[LB_CASE_ID_MAX];
    first_case_id(r.out, cid);
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "\"name\": \"มานี มีนา\""));
    CU_ASSERT_FALSE(contains(r.out, "\"nid\""));
    run_free(&r);
}

void test_act_dotted_keys_and_numbers(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65010000010", "65010102");
    run_t r;
    /* a scalar data map: the team sets the case's team (only the keys the action
     * defines are taken, so a number is checked with amount_thb below) */
    cli(&r, "act", cid, "schedule_visit", "team=team-wangthong-2");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "schedule_visit -> state visit_scheduled"));
    run_free(&r);
    /* dotted keys nest; a comma makes a list ("bmn4," is a one-item list) */
    cli(&r, "act", cid, "record_visit", "findings.income=bmn22,bmn20", "findings.health=bmn4,",
        "note=พบครัวเรือนที่บ้าน", "--expect", "visit_scheduled");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_visit -> state visited"));
    run_free(&r);
    cli(&r, "act", cid, "plan_assistance");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    cli(&r, "act", cid, "record_assistance", "agency=อบต.วังทอง", "dimension=income",
        "kind=training", "amount_thb=1500", "meets=bmn20,");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    /* "..." keeps digits as text */
    cli(&r, "act", cid, "add_note", "note=\"0065\"");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);

    cli(&r, "--json", "show", cid);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    CU_ASSERT_TRUE(contains(r.out, "\"team\": \"team-wangthong-2\""));
    CU_ASSERT_TRUE(contains(r.out, "\"income\": [\n"));
    CU_ASSERT_TRUE(contains(r.out, "\"health\": [\n"));
    CU_ASSERT_TRUE(contains(r.out, "\"bmn20\""));
    CU_ASSERT_TRUE(contains(r.out, "\"amount_thb\": 1500"));
    CU_ASSERT_TRUE(contains(r.out, "\"note\": \"0065\""));
    CU_ASSERT_TRUE(contains(r.out, "\"note\": \"พบครัวเรือนที่บ้าน\""));
    run_free(&r);
    /* the number went over the wire as an int: the history shows it bare */
    cli(&r, "history", cid);
    CU_ASSERT_TRUE(contains(r.out, "{\"team\": \"team-wangthong-2\"}"));
    CU_ASSERT_TRUE(contains(r.out, "\"amount_thb\": 1500"));
    run_free(&r);

    /* --expect guards a stale view: conflict, exit 1 */
    cli(&r, "act", cid, "add_note", "note=x", "--expect", "identified");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: conflict"));
    run_free(&r);
    /* a bad KEY=VALUE is a usage error */
    cli(&r, "act", cid, "add_note", "no-equals-sign");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "act", cid, "add_note", "note=x", "--at", "yesterday");
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_TRUE(contains(r.err, "--at"));
    run_free(&r);
}

void test_shortcuts_to_resolved(void)
{
    char cid[LB_CASE_ID_MAX], cid2[LB_CASE_ID_MAX];
    cli_open(cid, "65010000020", "65010103");
    run_t r;
    cli(&r, "schedule", cid, "team-mueang-3");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "schedule_visit -> state visit_scheduled"));
    run_free(&r);

    /* a visit a day ago (teams sync late): --at keeps the record's time */
    int64_t at = daemon_now() - 86400LL * 1000;
    char at_s[32], at_key[48];
    snprintf(at_s, sizeof at_s, "%lld", (long long)at);
    snprintf(at_key, sizeof at_key, "\"at\": %lld", (long long)at);
    cli(&r, "visit", cid, "income=bmn22,bmn20", "health=bmn4", "--note", "บ้านชำรุด", "--at", at_s);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_visit -> state visited"));
    run_free(&r);
    /* the shipped workflow's plan_assistance has no shortcut */
    cli(&r, "act", cid, "plan_assistance");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "state assisting"));
    run_free(&r);
    cli(&r, "assist", cid, "--agency", "พมจ.พิษณุโลก", "--dimension", "income", "--kind", "cash",
        "--amount", "3000", "--meets", "bmn22", "--note", "เงินสงเคราะห์");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_assistance -> state assisting"));
    run_free(&r);
    /* assist without its required options is a usage error */
    cli(&r, "assist", cid, "--agency", "x");
    CU_ASSERT_EQUAL(r.code, 2);
    run_free(&r);
    cli(&r, "act", cid, "start_follow_up");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    /* resolving needs a follow-up at sufficient or better first */
    cli(&r, "resolve", cid, "sufficient");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "guard_failed"));
    run_free(&r);
    cli(&r, "followup", cid, "sufficient", "--met", "bmn20,bmn4", "--note", "มีรายได้เสริม");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "record_follow_up -> state follow_up, level sufficient"));
    run_free(&r);
    cli(&r, "resolve", cid, "sufficient", "--note", "พ้นเกณฑ์");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "resolve -> state resolved"));
    run_free(&r);

    cli(&r, "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "resolved since"));
    CU_ASSERT_TRUE(contains(r.out, "visits (1)"));
    CU_ASSERT_TRUE(contains(r.out, "income: bmn22, bmn20; health: bmn4"));
    CU_ASSERT_TRUE(contains(r.out, "assistance (1)"));
    CU_ASSERT_TRUE(contains(r.out, "พมจ.พิษณุโลก"));
    CU_ASSERT_TRUE(contains(r.out, "follow-ups (1)"));
    CU_ASSERT_TRUE(contains(r.out, "level        sufficient"));
    run_free(&r);
    cli(&r, "--json", "show", cid);
    CU_ASSERT_TRUE(contains(r.out, at_key));
    CU_ASSERT_TRUE(contains(r.out, "\"status\": \"met\""));
    run_free(&r);
    /* a terminal case takes no more actions */
    cli(&r, "schedule", cid, "team-x");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "invalid_transition"));
    run_free(&r);

    /* close: a reason outside the list is refused, a good one closes */
    cli_open(cid2, "65010000021", "65010103");
    cli(&r, "close", cid2, "bored");
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "guard_failed"));
    CU_ASSERT_TRUE(contains(r.err, "reason"));
    run_free(&r);
    cli(&r, "close", cid2, "moved", "--note", "ย้ายไปกรุงเทพฯ");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "close -> state closed"));
    run_free(&r);
}

void test_clock_and_ack(void)
{
    char cid[LB_CASE_ID_MAX];
    cli_open(cid, "65060000001", "65060101");
    run_t r;
    /* nothing fired yet */
    cli(&r, "ack", cid);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: not_found"));
    run_free(&r);

    int64_t before = daemon_now();
    cli(&r, "admin", "clock", "8d");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "daemon clock now "));
    char ms[48];
    snprintf(ms, sizeof ms, "(%lld ms)", (long long)(before + 8LL * 86400 * 1000));
    CU_ASSERT_TRUE(contains(r.out, ms));
    run_free(&r);
    CU_ASSERT_EQUAL(daemon_now(), before + 8LL * 86400 * 1000);
    /* other units and --json */
    cli(&r, "--json", "admin", "clock", "90");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(tval_json_ok(r.out));
    snprintf(ms, sizeof ms, "\"now\": %lld", (long long)(before + 8LL * 86400 * 1000 + 90000));
    CU_ASSERT_TRUE(contains(r.out, ms));
    run_free(&r);
    cli(&r, "admin", "clock", "0s");
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
    const char *bad[] = {"8w", "-1", "d", "1.5h", "3650d1", "3651d", NULL};
    for (int i = 0; bad[i]; i++) {
        cli(&r, "admin", "clock", bad[i]);
        CU_ASSERT_EQUAL(r.code, 2);
        run_free(&r);
    }
    CU_ASSERT_EQUAL(daemon_now(), before + 8LL * 86400 * 1000 + 90000);

    cli(&r, "list", "--area", "6506", "--overdue");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, cid));
    CU_ASSERT_TRUE(contains(r.out, "overdue"));
    run_free(&r);
    cli(&r, "ack", cid, "--note", "ศจพ.อ. รับทราบแล้ว");
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_TRUE(contains(r.out, "acknowledged escalation step 0 (level team)"));
    run_free(&r);
    cli(&r, "ack", cid);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_TRUE(contains(r.err, "error: conflict"));
    run_free(&r);
    cli(&r, "show", cid);
    CU_ASSERT_TRUE(contains(r.out, "escalations (1)"));
    CU_ASSERT_TRUE(contains(r.out, "admin")); /* acked by */
    run_free(&r);
}
