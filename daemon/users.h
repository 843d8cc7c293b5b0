/*
 * users.h (daemon) - people acting through gateway keys (PROTOCOL.md 9.15):
 * the users file of security.users, loaded at start, watched from the loop
 * (a change applies within a second, no signal needed) and reloaded with
 * the definitions; and lbd_act_as, which turns a gateway key's request `as`
 * a person into a request of that person's role and areas. The file format
 * and parser are proto/users.h. For the loop thread; a request a reader
 * thread runs borrows the list, which lbd_users_t.before_swap guards.
 */
#ifndef LBD_USERS_H
#define LBD_USERS_H

#include <sys/types.h>
#include <time.h>

#include "daemon.h"

#define LBD_USERS_POLL_MS 500 /* how often the loop looks at the file */

/* What stat(2) said of the file: a change in any of it means a reload. */
typedef struct {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} lbd_file_id_t;

typedef struct {
    lb_users_t list;   /* the people in force; every `as` is refused while it is empty */
    lb_users_t staged; /* loaded by lbd_users_stage, put in force by the next lbd_users_poll */
    bool has_staged;
    lbd_file_id_t seen, staged_seen; /* the file as last loaded (or tried) */
    int64_t next_poll_ms;            /* monotonic */
    /* Called (when set) just before the list in force is freed and replaced: the daemon
     * quiesces its reader threads there, whose requests may borrow from the list. */
    void (*before_swap)(void *arg);
    void *swap_arg;
} lbd_users_t;

/*
 * Loads path ("" or NULL: no users file, nobody) into u (zeroed first) at
 * start-up. 0; LB_ECONFIG with "path:line: reason" in err for a bad or
 * unreadable file (logbookd refuses to start); LB_ENOMEM.
 */
int lbd_users_init(lbd_users_t *u, const char *path, char *err, size_t errlen);

/*
 * From the loop, between batches, as often as it likes: puts a staged list
 * in force, and every LBD_USERS_POLL_MS (monotonic now_ms) compares the
 * file's identity (inode, size, mtime) with the loaded one and reloads it
 * when it changed. A bad file keeps the old list and is logged once (until
 * it changes again). Every lbd_client_t that lbd_act_as made before is then
 * dangling: call it only where no request holds one.
 */
void lbd_users_poll(lbd_users_t *u, const char *path, int64_t now_ms);

/*
 * Loads path now (SIGHUP, admin.reload) and stages it for the next
 * lbd_users_poll, so clients of a batch in flight stay valid. 0; LB_ECONFIG
 * with the reason in err (nothing staged, the old list stays); LB_ENOMEM.
 */
int lbd_users_stage(lbd_users_t *u, const char *path, char *err, size_t errlen);

/* Frees both lists and zeroes u; safe on a zeroed u. */
void lbd_users_free(lbd_users_t *u);

/*
 * Who a request acts as. key is the client of the CURVE key; as is the
 * request's `as` ("" when absent). Without `as`, a key that is not a gateway
 * acts as itself (*out = key). With it, a gateway key acts as that user:
 * *eff is filled with the user's role and areas (borrowed from u: valid
 * until the next lbd_users_poll), the events permission of the key and the
 * name "USER via KEYNAME", and *out = eff.
 * Returns 0, or LB_EFORBIDDEN with err's message and field ("as") set and a
 * log line: `as` from a key that is not a gateway, a gateway without `as`,
 * an unknown or disabled user.
 */
int lbd_act_as(const lbd_users_t *u, const lbd_client_t *key, const char *as, lbd_client_t *eff,
               const lbd_client_t **out, proto_err_t *err);

#endif
