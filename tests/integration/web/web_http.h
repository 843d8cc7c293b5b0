/*
 * web_http.h - test_web's harness: a real logbookd (testd) with a gateway
 * key and a users file, a real bin/logbook-web in front of it, and an HTTP
 * client (libcurl) that returns status, headers and body.
 */
#ifndef TEST_WEB_HTTP_H
#define TEST_WEB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "../../lib/testd.h"

typedef struct {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    char *headers; /* every response header line, NUL-terminated */
} http_res_t;

typedef struct {
    testd_t d;
    char dir[300];
    char users[400];
    char base[64]; /* http://127.0.0.1:PORT */
    int port;
    int pid;
    char case_a[32]; /* in 65010101 (district 6501), team-1 scheduled */
    char case_b[32]; /* in 65020101 (district 6502) */
} webenv_t;

extern webenv_t W;

/* Starts the daemon and the gateway, writes the users and the fixture cases. 0 or -1. */
int webenv_start(void);
void webenv_stop(void);

/* Rewrites the users file: each line "NAME ROLE AREAS STATE" with password NAME-pw. */
int webenv_users(const char *const *lines);

/*
 * One request: method, path (after the base URL), headers (NULL-terminated
 * "Name: value" list, may be NULL), body (may be NULL). 0 with *res filled
 * (http_free), -1 when no HTTP answer came.
 */
int http(const char *method, const char *path, const char *const *headers, const char *body,
         size_t len, http_res_t *res);
void http_free(http_res_t *res);
/* The value of header name in res (case-insensitive) into out; false when absent. */
bool http_header(const http_res_t *res, const char *name, char *out, size_t cap);

/* A logged-in person: the cookie header and the CSRF header, ready to send. */
typedef struct {
    char cookie[320];
    char csrf[120];
} web_login_t;

/* POST /api/session as name with password NAME-pw. The status (201 when logged in). */
long web_login(const char *name, web_login_t *out);
/* "Authorization: Basic ..." for name with password NAME-pw. */
void web_basic(const char *name, char *out, size_t cap);

#endif
