/*
 * test_proto.c - CUnit tests of proto/: the lb.h value tree, JSON and
 * identifiers, strict msgpack decoding (limits, truncation, random and mutated
 * input), request schemas for every op and error code, replies, the event
 * audit chain and the users file. Run under ASan and valgrind as well: the fuzz-style tests rely
 * on them to catch leaks and out-of-bounds reads. The tests live in
 * tests/unit/proto/, one file per suite; this is the binary's main.
 */
#include "proto/proto_test.h"

int main(void)
{
    const cu_suite_t suites[] = {
        {.name = "values", .tests = proto_values_tests, .n = proto_values_count},
        {.name = "msgpack", .tests = proto_msgpack_tests, .n = proto_msgpack_count},
        {.name = "requests", .tests = proto_requests_tests, .n = proto_requests_count},
        {.name = "hostile", .tests = proto_hostile_tests, .n = proto_hostile_count},
        {.name = "events", .tests = proto_events_tests, .n = proto_events_count},
        {.name = "users", .tests = proto_users_tests, .n = proto_users_count},
    };
    return cu_run_suites(suites, CU_COUNT(suites));
}
