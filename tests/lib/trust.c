/*
 * trust.c - see trust.h. The daemon start below is a copy of the few lines
 * of testd.c's spawn() that fork and exec (testd.h has no "start without
 * waiting"), kept here so testd.c stays untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "../../proto/proto.h"
#include "trust.h"

int64_t trust_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

int trust_config_edit(testd_t *t, const char *limits, const char *security)
{
    char *cfg = read_all(t->config);
    if (!cfg)
        return -1;
    size_t n =
        strlen(cfg) + (limits ? strlen(limits) : 0) + (security ? strlen(security) * 2 : 0) + 256;
    char *out = malloc(n);
    if (!out) {
        free(cfg);
        return -1;
    }
    out[0] = '\0';
    for (char *line = strtok(cfg, "\n"); line; line = strtok(NULL, "\n")) {
        if (limits && strncmp(line, "limits: {", 9) == 0) {
            char *close = strrchr(line, '}');
            if (!close)
                goto fail;
            *close = '\0';
            snprintf(out + strlen(out), n - strlen(out), "%s, %s }\n", line, limits);
            continue;
        }
        snprintf(out + strlen(out), n - strlen(out), "%s\n", line);
        if (security && strcmp(line, "security:") == 0) {
            /* each "k: v" of security (comma-separated) becomes an indented line */
            char *sec = strdup(security), *save = NULL;
            for (char *kv = strtok_r(sec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                while (*kv == ' ')
                    kv++;
                snprintf(out + strlen(out), n - strlen(out), "  %s\n", kv);
            }
            free(sec);
        }
    }
    free(cfg);
    FILE *f = fopen(t->config, "w");
    if (!f) {
        free(out);
        return -1;
    }
    fputs(out, f);
    free(out);
    return fclose(f) ? -1 : 0;
fail:
    free(cfg);
    free(out);
    return -1;
}

int trust_start(testd_t *t, const testd_opts_t *o, const char *limits, const char *security)
{
    if (testd_start(t, o))
        return -1;
    if (testd_stop(t) != 0 || trust_config_edit(t, limits, security))
        return -1;
    return testd_restart(t);
}

int trust_spawn(testd_t *t)
{
    lbc_destroy(&t->admin);
    const char *bin = getenv("LOGBOOKD");
    if (!bin)
        bin = "bin/logbookd";
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        if (t->manual_clock)
            execl(bin, "logbookd", "--config", t->config, "--clock", "manual", "--foreground",
                  (char *)NULL);
        else
            execl(bin, "logbookd", "--config", t->config, "--foreground", (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    return 0;
}

int trust_wait_exit(testd_t *t, int timeout_ms)
{
    if (t->pid <= 0)
        return -1;
    int64_t end = trust_ms() + timeout_ms;
    for (;;) {
        int status;
        if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
            t->pid = 0;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
        }
        if (trust_ms() > end)
            return -1;
        nap_ms(10);
    }
}

int trust_wait_exit_or_ready(testd_t *t, int timeout_ms)
{
    int64_t end = trust_ms() + timeout_ms;
    char cert[400];
    snprintf(cert, sizeof cert, "%s/keys/admin.key_secret", t->data);
    while (trust_ms() < end) {
        int code = trust_wait_exit(t, 50);
        if (code != -1)
            return code;
        char server[400];
        snprintf(server, sizeof server, "%s/keys/server.key", t->data);
        if (access(cert, R_OK) == 0 && access(server, R_OK) == 0) {
            lbc_t *c = testd_client(t, NULL, 200, 0);
            lb_val_t *r = NULL;
            char err[256];
            bool up = c && lbc_call(c, "ping", NULL, &r, err, sizeof err) == 0 && lbc_reply_ok(r);
            lb_val_free(&r);
            lbc_destroy(&c);
            if (up)
                return -1;
        }
    }
    return -1;
}

bool trust_wait_file(const char *path, int timeout_ms)
{
    int64_t end = trust_ms() + timeout_ms;
    while (access(path, F_OK) != 0) {
        if (trust_ms() > end)
            return false;
        nap_ms(10);
    }
    return true;
}

lbc_t *trust_client(testd_t *t, const char *cert, int timeout_ms)
{
    return testd_client(t, cert, timeout_ms, 0);
}

lb_val_t *trust_call(testd_t *t, const char *cert, const char *op, const lb_val_t *args)
{
    lbc_t *c = trust_client(t, cert, 5000);
    if (!c)
        return NULL;
    lb_val_t *r = NULL;
    char err[256];
    /* a per-key token bucket may refuse a call right after a flood: try again for a while
     * (rate_limited stores nothing, so a new request id is fine) */
    int64_t end = trust_ms() + 5000;
    while (lbc_call(c, op, args, &r, err, sizeof err) == 0 &&
           strcmp(testd_code(r), "rate_limited") == 0 && trust_ms() < end) {
        lb_val_free(&r);
        nap_ms(20);
    }
    lbc_destroy(&c);
    return r;
}

const char *trust_msg(const lb_val_t *reply)
{
    const char *m = reply ? lb_map_str(lb_map_get(reply, "error"), "message") : NULL;
    return m ? m : "";
}

int64_t trust_result_int(const lb_val_t *reply, const char *key, int64_t def)
{
    int64_t v;
    if (lb_map_int(lbc_reply_result(reply), key, &v) == 0)
        return v;
    return def;
}

int64_t trust_stat(testd_t *t, const char *key)
{
    lb_val_t *r = trust_call(t, NULL, "admin.stats", NULL);
    int64_t v = trust_result_int(r, key, -1);
    lb_val_free(&r);
    return v;
}

int64_t trust_total(testd_t *t, const char *area, const char *by, const char *key)
{
    lb_val_t *a = lb_map();
    lb_map_set_str(a, "area", area);
    lb_map_set_str(a, "by", by);
    lb_val_t *r = trust_call(t, NULL, "report.summary", a);
    lb_val_free(&a);
    int64_t v = -1;
    lb_map_int(lb_map_get(lbc_reply_result(r), "totals"), key, &v);
    lb_val_free(&r);
    return v;
}

int64_t trust_advance(testd_t *t, int64_t s)
{
    lb_val_t *a = lb_map();
    lb_map_set_int(a, "advance_s", s);
    lb_val_t *r = trust_call(t, NULL, "admin.clock", a);
    lb_val_free(&a);
    int64_t now = trust_result_int(r, "now", -1);
    lb_val_free(&r);
    return now;
}

int64_t trust_last_seq(testd_t *t)
{
    lb_val_t *r = trust_call(t, NULL, "ping", NULL);
    int64_t v = trust_result_int(r, "last_seq", -1);
    lb_val_free(&r);
    return v;
}

int trust_open_case(testd_t *t, const char *cert, unsigned long n, const char *area, char out[32])
{
    lb_val_t *a = lb_map();
    lb_map_set(a, "household", testd_household(n, area));
    lb_val_t *r = trust_call(t, cert, "case.open", a);
    const char *id = lb_map_str(lbc_reply_result(r), "case_id");
    int rc = id ? 0 : -1;
    if (id)
        snprintf(out, 32, "%s", id);
    else
        fprintf(stderr, "\n  trust_open_case %lu: %s %s\n", n, testd_code(r), trust_msg(r));
    lb_val_free(&r);
    lb_val_free(&a);
    return rc;
}

int trust_keygen(testd_t *t, const char *name, char pub[41], char *secret, size_t n)
{
    return testd_keygen(t, name, pub, secret, n);
}

/* ---- pipelining ---- */

int trust_pipeline(lbc_t *c, const char *prefix, int n, int window, const char *op,
                   trust_args_fn args, trust_reply_fn on_reply, void *ctx, bool retry_limited,
                   int timeout_ms)
{
    char *done = calloc((size_t)n, 1);
    int *resend = calloc((size_t)n + 1, sizeof(int));
    int nresend = 0, next = 0, inflight = 0, answered = 0;
    if (!done || !resend) {
        free(done);
        free(resend);
        return 0;
    }
    while (answered < n) {
        while (inflight < window && (next < n || nresend > 0)) {
            int i;
            if (next < n) {
                i = next++;
            } else {
                i = resend[--nresend];
                nap_ms(5); /* back-off before a resend: the bucket refills with time */
            }
            char id[80];
            snprintf(id, sizeof id, "%s-%d", prefix, i);
            lb_val_t *a = args ? args(i, ctx) : NULL;
            int rc = lbc_send(c, id, op, a);
            lb_val_free(&a);
            if (rc)
                goto out;
            inflight++;
        }
        lb_val_t *r = NULL;
        if (lbc_recv(c, timeout_ms, &r))
            goto out;
        const char *id = lbc_reply_id(r);
        size_t pl = strlen(prefix);
        int i = -1;
        if (strncmp(id, prefix, pl) == 0 && id[pl] == '-')
            i = atoi(id + pl + 1);
        if (i >= 0 && i < n && !done[i]) {
            inflight--;
            if (retry_limited && strcmp(testd_code(r), "rate_limited") == 0) {
                resend[nresend++] = i;
            } else {
                done[i] = 1;
                answered++;
                if (on_reply)
                    on_reply(i, r, ctx);
            }
        }
        lb_val_free(&r);
    }
out:
    free(done);
    free(resend);
    return answered;
}

/* ---- events ---- */

int trust_sub_open(testd_t *t, const char *cert, trust_sub_t *s)
{
    char admin[400], server[400], err[256];
    snprintf(admin, sizeof admin, "%s/keys/admin.key_secret", t->data);
    snprintf(server, sizeof server, "%s/keys/server.key", t->data);
    lb_cert_t *ck = NULL, *sk = NULL;
    memset(s, 0, sizeof *s);
    if (lb_cert_load(cert ? cert : admin, &ck, err, sizeof err) ||
        lb_cert_load(server, &sk, err, sizeof err)) {
        lb_cert_destroy(&ck);
        return -1;
    }
    s->ctx = zmq_ctx_new();
    s->sock = zmq_socket(s->ctx, ZMQ_SUB);
    int linger = 0, hwm = 0; /* unlimited: a storm of events must not be dropped here */
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, sk->public_key, 32);
    zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, ck->public_key, 32);
    zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, ck->secret_key, 32);
    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0);
    int rc = zmq_connect(s->sock, t->ev_ep);
    lb_cert_destroy(&ck);
    lb_cert_destroy(&sk);
    return rc ? -1 : 0;
}

int trust_sub_recv(trust_sub_t *s, int timeout_ms, char *topic, size_t tlen, lb_val_t **body,
                   lb_buf_t *raw)
{
    if (body)
        *body = NULL;
    zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s->sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    size_t n = zmq_msg_size(&m) < tlen - 1 ? zmq_msg_size(&m) : tlen - 1;
    memcpy(topic, zmq_msg_data(&m), n);
    topic[n] = '\0';
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (!more)
        return 1;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s->sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    if (raw) {
        raw->len = 0;
        lb_buf_append(raw, zmq_msg_data(&m), zmq_msg_size(&m));
    }
    if (body) {
        proto_err_t perr;
        proto_unpack(zmq_msg_data(&m), zmq_msg_size(&m), &proto_default_limits, body, &perr);
    }
    zmq_msg_close(&m);
    return 1;
}

int trust_sub_event(trust_sub_t *s, int timeout_ms, char *topic, size_t tlen, lb_val_t **body)
{
    int64_t end = trust_ms() + timeout_ms;
    for (;;) {
        int64_t left = end - trust_ms();
        if (left < 0)
            left = 0;
        int rc = trust_sub_recv(s, (int)left, topic, tlen, body, NULL);
        if (rc <= 0)
            return rc;
        if (strcmp(topic, "hb") != 0)
            return 1;
        if (body)
            lb_val_free(body);
        if (left == 0)
            return 0;
    }
}

void trust_sub_close(trust_sub_t *s)
{
    if (s->sock)
        zmq_close(s->sock);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    memset(s, 0, sizeof *s);
}

void trust_tally_reply(int i, const lb_val_t *r, void *ctx)
{
    (void)i;
    trust_tally_t *t = ctx;
    if (lbc_reply_ok(r))
        t->ok++;
    else
        t->other++;
}
