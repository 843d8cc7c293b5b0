/*
 * users.h - the users file: the people who log in to logbook-web, each with
 * a role, area prefixes and an argon2id password hash (libsodium
 * crypto_pwhash_str). The daemon reads it to apply a person's role and areas
 * to requests a gateway key makes on their behalf (`as`); the gateway reads it
 * to check passwords; `logbook user` writes it. libsodium only, so all three
 * share it. The file format is PROTOCOL.md section 9.15.
 *
 * Format: UTF-8 text, one user a line, five TAB-separated fields:
 *
 *     NAME  ROLE  AREAS  STATE  HASH
 *
 *   NAME   [a-z0-9._-]{1,63}, unique in the file
 *   ROLE   field | committee | reporter | admin  (never gateway: that role is
 *          for client keys in clients.yaml, which act for the people listed here)
 *   AREAS  comma-separated area prefixes of 2, 4, 6 or 8 digits, or "*"
 *   STATE  active | disabled
 *   HASH   a crypto_pwhash_str string ("$argon2id$..."), or "!" for a user
 *          who has no password yet (cannot log in)
 *
 * Blank lines and lines starting with '#' are ignored. Anything else that is
 * not a valid line refuses the whole file, with "path:line: reason".
 *
 * Thread rule: a loaded lb_users_t is immutable; any number of threads may
 * read it. Functions that write the file are for one process at a time (the
 * file is replaced whole and crash-safely by lb_file_replace).
 */
#ifndef LB_USERS_H
#define LB_USERS_H

#include <stdbool.h>
#include <stddef.h>

#define LB_USER_NAME_MAX 64 /* bytes with the NUL */
#define LB_USER_HASH_MAX 128
#define LB_USERS_MAX 100000          /* lines a file may hold */
#define LB_USERS_FILE_MAX (16 << 20) /* bytes a file may hold */

/*
 * The roles of PROTOCOL.md section 6, the one list the daemon's clients
 * registry and the users file share. LB_ROLE_GATEWAY is a key's role only: a
 * gateway key acts for users and never runs an op as itself.
 */
typedef enum {
    LB_ROLE_FIELD = 0,
    LB_ROLE_COMMITTEE,
    LB_ROLE_REPORTER,
    LB_ROLE_ADMIN,
    LB_ROLE_GATEWAY,
    LB_ROLE_COUNT
} lb_role_t;

typedef struct {
    char name[LB_USER_NAME_MAX];
    lb_role_t role;
    char **areas; /* n_areas prefixes; "" means every area ("*" in the file) */
    size_t n_areas;
    bool disabled;
    char hash[LB_USER_HASH_MAX]; /* "!" when no password is set */
} lb_user_t;

typedef struct {
    lb_user_t *v; /* sorted by name */
    size_t n;
} lb_users_t;

/*
 * "field", "committee", "reporter", "admin", "gateway" -> *out: 0, or
 * LB_EBADREQ (*out untouched). Callers for people refuse LB_ROLE_GATEWAY.
 */
int lb_role_parse(const char *s, lb_role_t *out);
/* The role's name; "?" for a value outside the enum. Static storage. */
const char *lb_role_name(lb_role_t r);

/*
 * Parses len bytes of a users file. path names it in messages only (may be
 * NULL: "users"). *out is filled (lb_users_clear frees it); on error it is
 * left empty.
 * Returns 0; LB_EBADREQ with err = "path:line: reason" for a bad line, a
 * duplicate name, more than LB_USERS_MAX users or len over LB_USERS_FILE_MAX;
 * LB_ENOMEM.
 */
int lb_users_parse(const char *text, size_t len, const char *path, lb_users_t *out, char *err,
                   size_t errlen);

/*
 * Reads and parses the file at path. A missing file is an empty list (0).
 * Returns 0; LB_EIO (unreadable, err says why); the errors of lb_users_parse.
 */
int lb_users_load(const char *path, lb_users_t *out, char *err, size_t errlen);

/* Frees what out holds and empties it. Safe on an empty or zeroed list. */
void lb_users_clear(lb_users_t *u);

/* The user called name, or NULL. Borrowed: valid until u is cleared. */
const lb_user_t *lb_users_find(const lb_users_t *u, const char *name);

/* true when area (2-8 digits) lies inside one of the user's prefixes. */
bool lb_user_covers(const lb_user_t *u, const char *area);

/*
 * Checks a password against the user's hash in constant time (libsodium
 * crypto_pwhash_str_verify). false for a disabled user, a user without a
 * password, or a wrong password. Slow on purpose (argon2id): call it off any
 * latency-critical loop.
 */
bool lb_user_check_password(const lb_user_t *u, const char *password);

/*
 * Hashes password with argon2id (crypto_pwhash_str, interactive limits) into
 * hash[LB_USER_HASH_MAX]. Returns 0; LB_EBADREQ (password empty or over 1,024
 * bytes); LB_ENOMEM (argon2id could not get its memory); LB_EINTERNAL.
 */
int lb_user_hash_password(const char *password, char hash[LB_USER_HASH_MAX]);

/*
 * Writes the list to path crash-safely (lb_file_replace, mode 0600) with a
 * header comment. Returns 0, or the errors of lb_file_replace with err.
 */
int lb_users_save(const lb_users_t *u, const char *path, char *err, size_t errlen);

/*
 * Adds a user (name must not exist) or replaces the fields of an existing
 * one, keeping the list sorted; areas are copied. Returns 0; LB_EBADREQ (bad
 * name, area or hash, role gateway, or a full list; err says which);
 * LB_ECONFLICT (add of an existing name, with replace false); LB_ENOMEM.
 */
int lb_users_put(lb_users_t *u, const lb_user_t *user, bool replace, char *err, size_t errlen);

#endif
