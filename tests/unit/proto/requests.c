/*
 * requests.c - test_proto: request schemas: every op valid, the envelope, and each op's error codes
 * and fields.
 */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_test.h"

/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static void test_op_names(void)
{
    for (int i = 0; i < PROTO_OP_COUNT; i++) {
        const char *n = proto_op_name((proto_op_t)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(n);
        CU_ASSERT_EQUAL(proto_op_lookup(n), i);
    }
    CU_ASSERT_PTR_NULL(proto_op_name(PROTO_OP_COUNT));
    CU_ASSERT_PTR_NULL(proto_op_name((proto_op_t)-1));
    CU_ASSERT_EQUAL(proto_op_lookup("case.opem"), -1);
    CU_ASSERT_EQUAL(proto_op_lookup(""), -1);
    CU_ASSERT_EQUAL(proto_op_lookup(NULL), -1);
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_OPEN));
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_IMPORT));
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_ACT));
    CU_ASSERT(proto_op_writes(PROTO_OP_CASE_ACK));
    CU_ASSERT(!proto_op_writes(PROTO_OP_CASE_GET));
    CU_ASSERT(!proto_op_writes(PROTO_OP_PING));
    CU_ASSERT(!proto_op_writes(PROTO_OP_EVENTS_SINCE));
    CU_ASSERT(!proto_op_writes(PROTO_OP_COUNT));
}

static const struct {
    const char *op;
    const char *args;
    proto_op_t want;
} valid_reqs[] = {
    {"ping", NULL, PROTO_OP_PING},
    {"ping", "{}", PROTO_OP_PING},
    {"workflow.list", NULL, PROTO_OP_WORKFLOW_LIST},
    {"workflow.get", "{'name':'tpmap-household'}", PROTO_OP_WORKFLOW_GET},
    {"case.open", NULL /* built from HH */, PROTO_OP_CASE_OPEN},
    {"case.import",
     "{'households':[{'house_id':'65010000001','area':'65010101'},"
     "{'house_id':'65010000002','area':'65010101'}],'source':'socialmap',"
     "'workflow':'tpmap-household'}",
     PROTO_OP_CASE_IMPORT},
    {"case.act",
     "{'case_id':'C000000042','action':'record_visit','data':{'team':'t1',"
     "'findings':{'health':['bmn1']},'needs':[{'dimension':'income'}]},"
     "'expect_state':'identified','at':1700000000000}",
     PROTO_OP_CASE_ACT},
    {"case.act", "{'case_id':'C000000042','action':'close'}", PROTO_OP_CASE_ACT},
    {"case.ack", "{'case_id':'C000000042','note':'seen by the committee'}", PROTO_OP_CASE_ACK},
    {"case.ack", "{'case_id':'C000000042'}", PROTO_OP_CASE_ACK},
    {"case.get", "{'case_id':'C1234567890'}", PROTO_OP_CASE_GET},
    {"case.find", "{'house_id':'65010000001'}", PROTO_OP_CASE_FIND},
    {"case.find", "{'nid':'1234567890121'}", PROTO_OP_CASE_FIND},
    {"case.history", "{'case_id':'C000000001','after_seq':0,'limit':10000}", PROTO_OP_CASE_HISTORY},
    {"case.history", "{'case_id':'C000000001'}", PROTO_OP_CASE_HISTORY},
    {"case.list",
     "{'area':'6501','state':'identified','workflow':'tpmap-household',"
     "'team':'team-a','overdue':true,'limit':1000,'after':'opaque'}",
     PROTO_OP_CASE_LIST},
    {"case.list", "{}", PROTO_OP_CASE_LIST},
    {"report.summary", "{'area':'65','by':'district'}", PROTO_OP_REPORT_SUMMARY},
    {"report.summary", "{'by':'level'}", PROTO_OP_REPORT_SUMMARY},
    {"events.since", "{'seq':0,'limit':10000}", PROTO_OP_EVENTS_SINCE},
    {"events.since", "{'seq':9007199254740993}", PROTO_OP_EVENTS_SINCE},
    {"admin.stats", NULL, PROTO_OP_ADMIN_STATS},
    {"admin.backup", "{'path':'/var/backups/logbook'}", PROTO_OP_ADMIN_BACKUP},
    {"admin.reload", "{}", PROTO_OP_ADMIN_RELOAD},
    {"admin.verify", NULL, PROTO_OP_ADMIN_VERIFY},
    {"admin.clock", "{'advance_s':0}", PROTO_OP_ADMIN_CLOCK},
    {"admin.clock", "{'advance_s':315360000}", PROTO_OP_ADMIN_CLOCK},
    {"case.transfer", "{'case_id':'C000000001','to_area':'66010101','reason':'moved'}",
     PROTO_OP_CASE_TRANSFER},
    {"case.reassign",
     "{'filter':{'area':'6501','team':'a','state':'visited'},'to_team':'b',"
     "'expect_count':0}",
     PROTO_OP_CASE_REASSIGN},
    {"case.reassign", "{'filter':{},'to_team':'b'}", PROTO_OP_CASE_REASSIGN},
    {"admin.remap", "{'map':{'6501':'6599','660101':'660202','67':'68'},'limit':10000}",
     PROTO_OP_ADMIN_REMAP},
    {"case.duplicates", NULL, PROTO_OP_CASE_DUPLICATES},
    {"case.duplicates", "{'area':'6501'}", PROTO_OP_CASE_DUPLICATES},
    {"case.merge", "{'keep':'C000000001','drop':'C000000002'}", PROTO_OP_CASE_MERGE},
    {"report.ledger", "{'area':'6501','by':'agency'}", PROTO_OP_REPORT_LEDGER},
    {"report.ledger", "{'by':'dimension'}", PROTO_OP_REPORT_LEDGER},
    {"report.agenda", "{'area':'6501','level':'district','limit':10}", PROTO_OP_REPORT_AGENDA},
};
size_t valid_req_count(void)
{
    return sizeof(valid_reqs) / sizeof(valid_reqs[0]);
}

lb_val_t *valid_req(size_t i)
{
    if (strcmp(valid_reqs[i].op, "case.open") == 0) {
        char args[2048];
        snprintf(args, sizeof(args),
                 "{'household':%s,'workflow':'tpmap-household','source':'field','team':'t-1'}", HH);
        return R("case.open", args);
    }
    return R(valid_reqs[i].op, valid_reqs[i].args);
}

static void test_every_op_valid(void)
{
    bool seen[PROTO_OP_COUNT] = {false};
    for (size_t i = 0; i < valid_req_count(); i++) {
        lb_val_t *r = valid_req(i);
        lb_buf_t b;
        pack_or_die(r, &b);
        proto_req_t req;
        proto_err_t err;
        int rc = proto_decode_request(b.p, b.len, NULL, &req, &err);
        if (rc)
            printf("\n  %s: %s (%s)\n", valid_reqs[i].op, err.message, err.field);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(req.op, valid_reqs[i].want);
        CU_ASSERT_STRING_EQUAL(req.id, "req-1");
        CU_ASSERT_PTR_NOT_NULL(req.args);
        if (req.args) {
            CU_ASSERT_EQUAL(req.args->type, LB_MAP);
            CU_ASSERT_PTR_EQUAL(req.args, lb_map_get(req.doc, "args"));
            if (valid_reqs[i].args)
                CU_ASSERT(lb_val_equal(req.args, lb_map_get(r, "args")));
        }
        seen[valid_reqs[i].want] = true;
        proto_req_clear(&req);
        CU_ASSERT_PTR_NULL(req.doc);
        proto_req_clear(&req);
        lb_buf_free(&b);
        lb_val_free(&r);
    }
    for (int i = 0; i < PROTO_OP_COUNT; i++)
        CU_ASSERT(seen[i]);
}

static void test_envelope_errors(void)
{
    lb_val_t *r;
    /* not a map */
    EXPECT(tval("[1,2]"), LB_EBADREQ, "");
    EXPECT(tval("'ping'"), LB_EBADREQ, "");
    /* version */
    r = R("ping", NULL);
    lb_map_set_int(r, "v", 2);
    EXPECT(r, LB_EBADVER, "v");
    r = R("ping", NULL);
    lb_map_set_int(r, "v", 0);
    EXPECT(r, LB_EBADVER, "v");
    r = R("no.such.op", "{'unknown':1}");
    lb_map_set_int(r, "v", 3); /* the version wins over everything else */
    EXPECT(r, LB_EBADVER, "v");
    r = R("ping", NULL);
    lb_map_del(r, "v");
    EXPECT(r, LB_EBADREQ, "v");
    r = R("ping", NULL);
    lb_map_set_str(r, "v", "1");
    EXPECT(r, LB_EBADREQ, "v");
    r = R("ping", NULL);
    lb_map_set(r, "v", lb_float(1.0));
    EXPECT(r, LB_EBADREQ, "v");
    /* id */
    r = R("ping", NULL);
    lb_map_del(r, "id");
    EXPECT(r, LB_EBADREQ, "id");
    r = R("ping", NULL);
    lb_map_set_str(r, "id", "");
    EXPECT(r, LB_EBADREQ, "id");
    r = R("ping", NULL);
    lb_map_set_int(r, "id", 5);
    EXPECT(r, LB_EBADREQ, "id");
    r = R("ping", NULL);
    lb_map_set_str(r, "id", "0123456789012345678901234567890123456789012345678901234567890123");
    EXPECT(r, 0, NULL); /* 64 bytes */
    r = R("ping", NULL);
    lb_map_set_str(r, "id", "01234567890123456789012345678901234567890123456789012345678901234");
    EXPECT(r, LB_EBADREQ, "id"); /* 65 */
    /* op */
    r = R("ping", NULL);
    lb_map_del(r, "op");
    EXPECT(r, LB_EBADREQ, "op");
    r = R("ping", NULL);
    lb_map_set_int(r, "op", 1);
    EXPECT(r, LB_EBADREQ, "op");
    EXPECT(R("case.delete", "{}"), LB_EUNKNOWNOP, "op");
    EXPECT(R("", NULL), LB_EUNKNOWNOP, "op");
    /* args */
    r = R("ping", NULL);
    lb_map_set(r, "args", tval("[]"));
    EXPECT(r, LB_EBADREQ, "args");
    r = R("ping", NULL);
    lb_map_set(r, "args", lb_nil());
    EXPECT(r, LB_EBADREQ, "args");
    EXPECT(R("ping", "{'x':1}"), LB_EBADREQ, "x");
    /* unknown envelope key */
    r = R("ping", NULL);
    lb_map_set_int(r, "extra", 1);
    EXPECT(r, LB_EBADREQ, "extra");
    /* missing args where an argument is required */
    EXPECT(R("case.get", NULL), LB_EBADREQ, "case_id");
}

static void test_id_echoed_on_errors(void)
{
    struct {
        lb_val_t *doc;
        int code;
    } cases[] = {
        {R("nope", NULL), LB_EUNKNOWNOP},
        {R("case.get", "{'case_id':'X1'}"), LB_EBADREQ},
        {R("case.list", "{'limit':5000}"), LB_ETOOLARGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lb_buf_t b;
        proto_req_t req;
        proto_err_t err;
        pack_or_die(cases[i].doc, &b);
        CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), cases[i].code);
        CU_ASSERT_STRING_EQUAL(req.id, "req-1");
        proto_req_clear(&req);
        lb_buf_free(&b);
        lb_val_free(&cases[i].doc);
    }
    /* v:2 with a good id: bad_version, id echoed */
    lb_val_t *r = R("ping", NULL);
    lb_map_set_int(r, "v", 2);
    lb_buf_t b;
    proto_req_t req;
    proto_err_t err;
    pack_or_die(r, &b);
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), LB_EBADVER);
    CU_ASSERT_STRING_EQUAL(req.id, "req-1");
    proto_req_clear(&req);
    lb_buf_free(&b);
    lb_val_free(&r);
    /* the id is read before a later malformed value breaks the document */
    const uint8_t raw[] = {0x84, 0xa1, 'v', 0x01, 0xa2, 'i',  'd', 0xa3, 'a',  'b',
                           'c',  0xa2, 'o', 'p',  0xa4, 'p',  'i', 'n',  'g',  0xa4,
                           'a',  'r',  'g', 's',  0x81, 0xa1, 'x', 0xa2, 0xc3, 0x28};
    CU_ASSERT_EQUAL(proto_decode_request(raw, sizeof(raw), NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "abc");
    CU_ASSERT_STRING_EQUAL(err.field, "x"); /* args-relative */
    proto_req_clear(&req);
    /* a bad id is never echoed */
    const uint8_t rawbad[] = {0x82, 0xa2, 'i', 'd', 0xa0, 0xa1, 'v', 0x01};
    CU_ASSERT_EQUAL(proto_decode_request(rawbad, sizeof(rawbad), NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "");
    proto_req_clear(&req);
    /* garbage: empty id */
    CU_ASSERT_EQUAL(proto_decode_request("\xc1", 1, NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(req.id, "");
    proto_req_clear(&req);
}

static void test_case_open_errors(void)
{
    char hh[1024];
    EXPECT(R("case.open", "{}"), LB_EBADREQ, "household");
    EXPECT(R("case.open", "{'household':[]}"), LB_EBADREQ, "household");
    EXPECT(open_req("{'area':'65010101'}"), LB_EBADREQ, "household.house_id");
    EXPECT(open_req("{'house_id':'65010000001'}"), LB_EBADREQ, "household.area");
    EXPECT(open_req("{'house_id':'6501000000','area':'65010101'}"), LB_EBADREQ,
           "household.house_id");
    EXPECT(open_req("{'house_id':'6501000000x','area':'65010101'}"), LB_EBADREQ,
           "household.house_id");
    EXPECT(open_req("{'house_id':65010000001,'area':'65010101'}"), LB_EBADREQ,
           "household.house_id");
    EXPECT(open_req("{'house_id':'65010000001','area':'650101'}"), LB_EBADREQ, "household.area");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','colour':'red'}"), LB_EBADREQ,
           "household.colour");
    EXPECT(open_req(
               "{'house_id':'65010000001','area':'65010101','members':[{'nid':'1234567890122'}]}"),
           LB_EBADREQ, "household.members.0.nid");
    EXPECT(
        open_req(
            "{'house_id':'65010000001','area':'65010101','members':[{},{'nid':'0234567890121'}]}"),
        LB_EBADREQ, "household.members.1.nid");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':[{'sex':'x'}]}"),
           LB_EBADREQ, "household.members.0.sex");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':[{'birth_year':1700}]}"),
           LB_EBADREQ, "household.members.0.birth_year");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':[{'age':3}]}"),
           LB_EBADREQ, "household.members.0.age");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','members':['x']}"), LB_EBADREQ,
           "household.members.0");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','deprived':['']}"), LB_EBADREQ,
           "household.deprived.0");
    EXPECT(open_req("{'house_id':'65010000001','area':'65010101','deprived':'bmn1'}"), LB_EBADREQ,
           "household.deprived");
    /* 65 members: too_large */
    size_t n =
        (size_t)snprintf(hh, sizeof(hh), "{'house_id':'65010000001','area':'65010101','members':[");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(hh + n, sizeof(hh) - n, "%s{}", i ? "," : "");
    snprintf(hh + n, sizeof(hh) - n, "]}");
    EXPECT(open_req(hh), LB_ETOOLARGE, "household.members");
    hh[n - 3] = ']'; /* 64 members: fine */
    hh[n - 2] = '}';
    hh[n - 1] = '\0';
    EXPECT(open_req(hh), 0, NULL);
    /* other arguments */
    char args[1024];
    snprintf(args, sizeof(args), "{'household':%s,'source':'facebook'}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "source");
    snprintf(args, sizeof(args), "{'household':%s,'workflow':'Bad_Name'}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "workflow");
    snprintf(args, sizeof(args), "{'household':%s,'team':''}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "team");
    snprintf(args, sizeof(args), "{'household':%s,'team':null}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "team");
    snprintf(args, sizeof(args), "{'household':%s,'priority':1}", HH);
    EXPECT(R("case.open", args), LB_EBADREQ, "priority");
}

static void test_check_household(void)
{
    proto_err_t err;
    lb_val_t *h = tval(HH);
    CU_ASSERT_EQUAL(proto_check_household(h, &err), 0);
    CU_ASSERT_EQUAL(proto_check_household(h, NULL), 0);
    lb_map_set_str(h, "area", "6501");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "area");
    lb_val_free(&h);
    h = tval("{'house_id':'65010000001','area':'65010101','members':[{'nid':'1234567890120'}]}");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "members.0.nid");
    lb_val_free(&h);
    /* the same person twice */
    h = tval("{'house_id':'65010000001','area':'65010101','members':[{'nid':'1101700203450'},"
             "{'name':'x'},{'nid':'1101700203450'}]}");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_STRING_EQUAL(err.field, "members");
    lb_val_free(&h);
    h = tval("'not a map'");
    CU_ASSERT_EQUAL(proto_check_household(h, &err), LB_EBADREQ);
    CU_ASSERT_EQUAL(proto_check_household(NULL, &err), LB_EBADREQ);
    lb_val_free(&h);
}

static void test_case_import(void)
{
    /* items are not checked by the decoder: one bad household must not fail the batch */
    EXPECT(R("case.import",
             "{'households':[{'house_id':'bad'},7,{'house_id':'65010000001','area':'65010101'}]}"),
           0, NULL);
    EXPECT(R("case.import", "{}"), LB_EBADREQ, "households");
    EXPECT(R("case.import", "{'households':{}}"), LB_EBADREQ, "households");
    EXPECT(R("case.import", "{'households':[],'team':'x'}"), LB_EBADREQ, "team");
    EXPECT(R("case.import", "{'households':[],'source':'nope'}"), LB_EBADREQ, "source");
    /* 10,000 is the limit */
    for (int count = 10000; count <= 10001; count++) {
        lb_val_t *r = R("case.import", "{'households':[]}");
        lb_val_t *hs = lb_map_get(lb_map_get(r, "args"), "households");
        for (int i = 0; i < count; i++)
            lb_arr_push(hs, lb_map());
        lb_val_t *copy = lb_val_dup(r);
        EXPECT(r, count == 10000 ? 0 : LB_ETOOLARGE, count == 10000 ? NULL : "households");
        /* with a larger document limit the schema's own limit still says too_large */
        proto_limits_t lim = proto_default_limits;
        lim.max_items = 20000;
        expect_at(copy, count == 10000 ? 0 : LB_ETOOLARGE, count == 10000 ? NULL : "households",
                  &lim, __LINE__);
    }
}

static void test_case_act_errors(void)
{
    EXPECT(R("case.act", "{'action':'visit'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.act", "{'case_id':'C000000001'}"), LB_EBADREQ, "action");
    EXPECT(R("case.act", "{'case_id':'C1','action':'visit'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.act", "{'case_id':'000000001','action':'visit'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':''}"), LB_EBADREQ, "action");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','data':[1]}"), LB_EBADREQ, "data");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':-1}"), LB_EBADREQ, "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':9007199254740992}"), 0, NULL);
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':9007199254740993}"), LB_EBADREQ,
           "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':1.5}"), LB_EBADREQ, "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','at':'now'}"), LB_EBADREQ, "at");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','expect_state':''}"), LB_EBADREQ,
           "expect_state");
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','date':1}"), LB_EBADREQ, "date");
    /* data may hold anything a record needs, including floats */
    EXPECT(R("case.act", "{'case_id':'C000000001','action':'a','data':{'amount_thb':1500.5}}"), 0,
           NULL);
}

static void test_other_op_errors(void)
{
    EXPECT(R("workflow.get", "{}"), LB_EBADREQ, "name");
    EXPECT(R("workflow.get", "{'name':'Has Space'}"), LB_EBADREQ, "name");
    EXPECT(R("case.ack", "{'note':'x'}"), LB_EBADREQ, "case_id");
    EXPECT(R("case.get", "{'case_id':'C000000001','x':1}"), LB_EBADREQ, "x");
    EXPECT(R("case.find", "{}"), LB_EBADREQ, "house_id");
    EXPECT(R("case.find", "{'house_id':'65010000001','nid':'1234567890121'}"), LB_EBADREQ, "nid");
    EXPECT(R("case.find", "{'nid':'1234567890122'}"), LB_EBADREQ, "nid");
    EXPECT(R("case.find", "{'nid':'9234567890121'}"), LB_EBADREQ, "nid");
    EXPECT(R("case.history", "{'case_id':'C000000001','after_seq':-1}"), LB_EBADREQ, "after_seq");
    EXPECT(R("case.history", "{'case_id':'C000000001','limit':10001}"), LB_ETOOLARGE, "limit");
    EXPECT(R("case.history", "{'case_id':'C000000001','limit':0}"), LB_EBADREQ, "limit");
    EXPECT(R("case.list", "{'limit':1001}"), LB_ETOOLARGE, "limit");
    EXPECT(R("case.list", "{'limit':0}"), LB_EBADREQ, "limit");
    EXPECT(R("case.list", "{'limit':-5}"), LB_EBADREQ, "limit");
    EXPECT(R("case.list", "{'area':'650'}"), LB_EBADREQ, "area");
    EXPECT(R("case.list", "{'overdue':1}"), LB_EBADREQ, "overdue");
    EXPECT(R("case.list", "{'after':''}"), LB_EBADREQ, "after");
    char args[400];
    int n = snprintf(args, sizeof(args), "{'after':'");
    memset(args + n, 'c', 257);
    snprintf(args + n + 257, sizeof(args) - (size_t)n - 257, "'}");
    EXPECT(R("case.list", args), LB_EBADREQ, "after");
    EXPECT(R("report.summary", "{}"), LB_EBADREQ, "by");
    EXPECT(R("report.summary", "{'by':'country'}"), LB_EBADREQ, "by");
    EXPECT(R("report.summary", "{'by':'state','area':'6'}"), LB_EBADREQ, "area");
    EXPECT(R("case.merge", "{'keep':'C000000001'}"), LB_EBADREQ, "drop");
    EXPECT(R("case.merge", "{'keep':'C1','drop':'C000000002'}"), LB_EBADREQ, "keep");
    EXPECT(R("case.duplicates", "{'area':'650'}"), LB_EBADREQ, "area");
    EXPECT(R("events.since", "{}"), LB_EBADREQ, "seq");
    EXPECT(R("events.since", "{'seq':-1}"), LB_EBADREQ, "seq");
    EXPECT(R("events.since", "{'seq':0,'limit':10001}"), LB_ETOOLARGE, "limit");
    EXPECT(R("events.since", "{'seq':0,'limit':0}"), LB_EBADREQ, "limit");
    EXPECT(R("admin.backup", "{}"), LB_EBADREQ, "path");
    EXPECT(R("admin.backup", "{'path':''}"), LB_EBADREQ, "path");
    EXPECT(R("admin.clock", "{}"), LB_EBADREQ, "advance_s");
    EXPECT(R("report.ledger", "{'by':'team'}"), LB_EBADREQ, "by");
    EXPECT(R("report.agenda", "{'area':'6501'}"), LB_EBADREQ, "level");
    EXPECT(R("report.agenda", "{'level':'ministry'}"), LB_EBADREQ, "level");
    EXPECT(R("admin.clock", "{'advance_s':-1}"), LB_EBADREQ, "advance_s");
    EXPECT(R("admin.clock", "{'advance_s':315360001}"), LB_EBADREQ, "advance_s");
    EXPECT(R("admin.stats", "{'verbose':true}"), LB_EBADREQ, "verbose");
    EXPECT(R("admin.verify", "{'x':1}"), LB_EBADREQ, "x");
    EXPECT(R("admin.reload", "{'x':1}"), LB_EBADREQ, "x");
    EXPECT(R("workflow.list", "{'x':1}"), LB_EBADREQ, "x");
    /* casework (PROTOCOL.md 9.17) */
    EXPECT(R("case.transfer", "{'case_id':'C000000001','reason':'x'}"), LB_EBADREQ, "to_area");
    EXPECT(R("case.transfer", "{'case_id':'C000000001','to_area':'6601','reason':'x'}"), LB_EBADREQ,
           "to_area");
    EXPECT(R("case.transfer", "{'case_id':'C000000001','to_area':'66010101','reason':''}"),
           LB_EBADREQ, "reason");
    EXPECT(R("case.reassign", "{'to_team':'b'}"), LB_EBADREQ, "filter");
    EXPECT(R("case.reassign", "{'filter':{'area':'650'},'to_team':'b'}"), LB_EBADREQ,
           "filter.area");
    EXPECT(R("case.reassign", "{'filter':{},'to_team':'b','expect_count':10001}"), LB_EBADREQ,
           "expect_count");
    EXPECT(R("admin.remap", "{'map':{'65':'6601'}}"), LB_EBADREQ, "map");
    EXPECT(R("admin.remap", "{'map':{'65':66}}"), LB_EBADREQ, "map");
    EXPECT(R("admin.remap", "{'map':{'65':'66'},'limit':10001}"), LB_ETOOLARGE, "limit");
    /* a long unknown key is named, truncated to fit, and still valid UTF-8 */
    lb_val_t *r = R("ping", "{}");
    char key[200] = "";
    for (int i = 0; i < 60; i++)
        memcpy(key + 3 * i, "\xe0\xb8\x81", 4); /* Thai ko kai, 3 bytes, and the NUL */
    lb_map_set_int(lb_map_get(r, "args"), key, 1);
    lb_buf_t b;
    proto_req_t req;
    proto_err_t err;
    pack_or_die(r, &b);
    CU_ASSERT_EQUAL(proto_decode_request(b.p, b.len, NULL, &req, &err), LB_EBADREQ);
    CU_ASSERT(strlen(err.field) > 0 && strlen(err.field) < sizeof(err.field));
    CU_ASSERT(lb_utf8_valid(err.field, strlen(err.field)));
    CU_ASSERT(lb_utf8_valid(err.message, strlen(err.message)));
    proto_req_clear(&req);
    lb_buf_free(&b);
    lb_val_free(&r);
}

const cu_test_t proto_requests_tests[] = {
    {"op names", test_op_names},
    {"every op valid", test_every_op_valid},
    {"envelope errors", test_envelope_errors},
    {"id echoed on errors", test_id_echoed_on_errors},
    {"case.open errors", test_case_open_errors},
    {"check household", test_check_household},
    {"case.import", test_case_import},
    {"case.act errors", test_case_act_errors},
    {"other op errors", test_other_op_errors},
};
const size_t proto_requests_count = CU_COUNT(proto_requests_tests);
