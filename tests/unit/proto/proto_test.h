/*
 * proto_test.h - shared by test_proto.c and its files in tests/unit/proto/:
 * helpers (helpers.c) and each file's table of tests.
 */
#ifndef PROTO_TEST_H
#define PROTO_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../proto/lb.h"
#include "../../../proto/proto.h"
#include "../../lib/cu.h"
#include "../../lib/tval.h"

/* {v:1, id:"req-1", op, args} with args as JSON-ish text (NULL: no args key). */
lb_val_t *R(const char *op, const char *args);
/* Packs v into a fresh b; aborts on failure. */
void pack_or_die(const lb_val_t *v, lb_buf_t *b);
/* Packs doc (consumed), decodes it and checks the result code and error field. */
void expect_at(lb_val_t *doc, int code, const char *field, const proto_limits_t *lim, int line);
#define EXPECT(doc, code, field) expect_at((doc), (code), (field), NULL, __LINE__)
/* Decodes raw bytes with proto_unpack; returns the code and frees the result. */
int unpack_raw(const void *p, size_t n, const proto_limits_t *lim, proto_err_t *err);
/* A valid household, as JSON-ish text. */
extern const char *const HH;
/* case.open args with the household given as JSON-ish text. */
lb_val_t *open_req(const char *household);
/* xorshift64*: deterministic across runs, so a failure reproduces. Seed rng_state first. */
extern uint64_t rng_state;
uint64_t rng(void);

/* One valid request per op (and a few variants): requests.c. */
size_t valid_req_count(void);
lb_val_t *valid_req(size_t i);

extern const cu_test_t proto_values_tests[];
extern const size_t proto_values_count;
extern const cu_test_t proto_msgpack_tests[];
extern const size_t proto_msgpack_count;
extern const cu_test_t proto_requests_tests[];
extern const size_t proto_requests_count;
extern const cu_test_t proto_hostile_tests[];
extern const size_t proto_hostile_count;
extern const cu_test_t proto_events_tests[];
extern const size_t proto_events_count;
extern const cu_test_t proto_users_tests[];
extern const size_t proto_users_count;

#endif
