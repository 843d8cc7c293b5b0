/*
 * mp.h - msgpack written and read a piece at a time, for a module that knows
 * the shape of its document (the stored case, workflow/wf_case_pack.c) and
 * need not build an lb_val_t tree for all of it. The writer produces the same
 * bytes as proto_pack of the equivalent value; the reader checks what
 * proto_unpack checks (bounds before allocation, UTF-8, limits), so a
 * document read piecewise is one proto_unpack would accept. Part of proto/:
 * <msgpack.h> stays inside it.
 */
#ifndef PROTO_MP_H
#define PROTO_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* ---------------------------------------------------------------------- */
/* Writer                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * Appends to out. The first error (LB_ENOMEM) sticks in rc and every later
 * call does nothing; check rc once at the end (out then holds a partial
 * document: the caller cuts it back). One thread; out is borrowed.
 */
typedef struct {
    lb_buf_t *out;
    int rc;
} proto_w_t;

void proto_w_init(proto_w_t *w, lb_buf_t *out);
/* Headers of a map of n pairs and of an array of n items, as proto_pack writes them. */
void proto_w_map(proto_w_t *w, uint32_t n);
void proto_w_arr(proto_w_t *w, uint32_t n);
/* A str of strlen(s) bytes (s not NULL), e.g. a map key. */
void proto_w_str(proto_w_t *w, const char *s);
/* An integer in its shortest form (proto_pack's LB_INT). */
void proto_w_int(proto_w_t *w, int64_t i);
/* A whole value, exactly as proto_pack(v) would append it (NULL: nil). */
void proto_w_val(proto_w_t *w, const lb_val_t *v);

/* ---------------------------------------------------------------------- */
/* Reader                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * A cursor over len bytes at p (borrowed; they must outlive the reader and
 * every string it hands out). Fields are the reader's own: use the functions.
 * depth arguments are those of proto_unpack: the nesting of the container
 * that holds the value being read, 0 for the top-level document.
 * Every read returns 0 and moves past what it read; LB_EBADREQ when the next
 * value is not of the asked type, is malformed or truncated (the cursor then
 * stays where it was for a type mismatch, is undefined otherwise); LB_ETOOLARGE
 * over a limit; LB_ENOMEM. err holds the detail of the last failure.
 */
typedef struct {
    const uint8_t *p;
    size_t len, pos;
    proto_limits_t lim;
    uint64_t nodes;
    proto_err_t *err;
    char *id_out;
    proto_err_t err_store;
} proto_r_t;

/* lim as proto_unpack's (NULL or zero fields: the defaults). */
void proto_r_init(proto_r_t *r, const void *p, size_t len, const proto_limits_t *lim);
/* True when every byte has been read. */
bool proto_r_done(const proto_r_t *r);
/* A map header: *n pairs follow (keys first). */
int proto_r_map(proto_r_t *r, uint32_t depth, uint32_t *n);
/* An array header: *n items follow. */
int proto_r_arr(proto_r_t *r, uint32_t depth, uint32_t *n);
/* A str (not bin): *s points into the bytes (not NUL-terminated), *n bytes, valid UTF-8 without
 * NUL, at most lim.max_str bytes. */
int proto_r_str(proto_r_t *r, const char **s, uint32_t *n);
/* An integer of any msgpack encoding that fits int64_t. */
int proto_r_int(proto_r_t *r, int64_t *i);
/* Any one value as a new tree owned by the caller (*out NULL on error). */
int proto_r_val(proto_r_t *r, uint32_t depth, lb_val_t **out);

#endif
