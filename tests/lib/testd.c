/*
 * testd.c - see testd.h. Servers are stopped by their pid; readiness is
 * polled with ping, never slept for.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "../../proto/proto.h"
#include "cu.h"
#include "testd.h"

int testd_bad_exits;

int testd_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static const char *daemon_path(void)
{
    const char *p = getenv("LOGBOOKD");
    return p ? p : "bin/logbookd";
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int spawn(testd_t *t)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* a killed test binary must not leave its daemon behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        for (char *const *e = t->env; e && *e; e++)
            putenv(*e);
        if (t->manual_clock)
            execl(daemon_path(), "logbookd", "--config", t->config, "--clock", "manual",
                  "--foreground", (char *)NULL);
        else
            execl(daemon_path(), "logbookd", "--config", t->config, "--foreground", (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    /* Ready when it answers ping with the admin certificate it generated. */
    char cert[400];
    snprintf(cert, sizeof cert, "%s/keys/admin.key_secret", t->data);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            t->pid = 0;
            fprintf(stderr, "testd: logbookd exited early (status %d), log %s\n", status, t->log);
            return -1;
        }
        if (access(cert, R_OK) == 0) {
            lbc_t *c = testd_client(t, NULL, 200, 0);
            if (c) {
                lb_val_t *r = NULL;
                char err[256];
                if (lbc_call(c, "ping", NULL, &r, err, sizeof err) == 0 && lbc_reply_ok(r)) {
                    lb_val_free(&r);
                    lbc_destroy(&c);
                    /* The tests' admin client: generous timeout (sanitizer builds, loaded
                     * machines) and retries, which are safe: they reuse the request id. */
                    lbc_destroy(&t->admin);
                    t->admin = testd_client(t, NULL, 20000, 2);
                    return t->admin ? 0 : -1;
                }
                lb_val_free(&r);
                lbc_destroy(&c);
            }
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 20) {
            fprintf(stderr, "testd: logbookd did not answer ping in 20 s, log %s\n", t->log);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            t->pid = 0;
            return -1;
        }
        /* poll interval for the child to bind; the condition itself is re-checked */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int testd_start(testd_t *t, const testd_opts_t *o)
{
    testd_opts_t def = {0};
    if (!o)
        o = &def;
    memset(t, 0, sizeof *t);
    t->env = o->env;
    if (o->dir) {
        if (snprintf(t->dir, sizeof t->dir, "%s", o->dir) >= (int)sizeof t->dir)
            return -1;
    } else {
        snprintf(t->dir, sizeof t->dir, "/tmp/logbook-test-XXXXXX");
        if (!mkdtemp(t->dir))
            return -1;
    }
    snprintf(t->config, sizeof t->config, "%s/logbookd.yaml", t->dir);
    snprintf(t->data, sizeof t->data, "%s/data", t->dir);
    snprintf(t->log, sizeof t->log, "%s/logbookd.log", t->dir);
    t->req_port = testd_free_port();
    t->ev_port = testd_free_port();
    while (t->ev_port == t->req_port)
        t->ev_port = testd_free_port();
    snprintf(t->req_ep, sizeof t->req_ep, "tcp://127.0.0.1:%d", t->req_port);
    snprintf(t->ev_ep, sizeof t->ev_ep, "tcp://127.0.0.1:%d", t->ev_port);
    t->manual_clock = o->manual_clock;
    t->curve_off = o->curve_off;
    char cwd[200], clients[400], cfg[4096];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    snprintf(clients, sizeof clients, "%s/clients.yaml", t->dir);
    if (write_text(clients, o->clients_yaml ? o->clients_yaml : "clients: []\n"))
        return -1;
    char wfdir[300];
    if (o->workflows)
        snprintf(wfdir, sizeof wfdir, "%s", o->workflows);
    else
        snprintf(wfdir, sizeof wfdir, "%s/config/workflows", cwd);
    char rate[96] = ""; /* the daemon's default bucket unless the caller sets one */
    if (o->rate_per_key > 0)
        snprintf(rate, sizeof rate, ", rate_per_key: %lld, burst_per_key: %lld",
                 (long long)o->rate_per_key, 2 * (long long)o->rate_per_key);
    snprintf(cfg, sizeof cfg,
             "data_dir: data\n"
             "endpoints:\n  requests: [\"%s\"]\n  events: [\"%s\"]\n"
             "workflows: %s\n"
             "indicators: %s/config/indicators.yaml\n"
             "default_workflow: tpmap-household\n"
             "security:\n  curve: %s\n  clients: clients.yaml\n"
             "limits: { max_message_bytes: 1048576, batch_max: %d%s }\n"
             "log_level: debug\n%s",
             t->req_ep, t->ev_ep, wfdir, cwd, o->curve_off ? "false" : "true",
             o->batch_max ? o->batch_max : 512, rate, o->extra_config ? o->extra_config : "");
    if (write_text(t->config, cfg))
        return -1;
    if (o->tmpfs_kb > 0) {
        char cmd[900];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s' && mount -t tmpfs -o size=%dk tmpfs '%s' 2>/dev/null", t->data,
                 o->tmpfs_kb, t->data);
        if (geteuid() != 0 || system(cmd) != 0)
            return -2;
        t->tmpfs = true;
    }
    return spawn(t);
}

int testd_restart(testd_t *t)
{
    lbc_destroy(&t->admin);
    return spawn(t);
}

int testd_stop(testd_t *t)
{
    lbc_destroy(&t->admin);
    if (t->pid <= 0)
        return -1;
    int status = -1;
    kill(t->pid, SIGTERM);
    if (waitpid(t->pid, &status, 0) != t->pid)
        status = -1;
    t->pid = 0;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc != 0) {
        testd_bad_exits++;
        cu_fail_outside("logbookd did not exit 0 when stopped");
        fprintf(stderr, "\ntestd: logbookd exited with %d (status %d); end of %s:\n", rc, status,
                t->log);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", t->log);
        if (system(cmd) != 0)
            fprintf(stderr, "testd: cannot show the log\n");
    }
    return rc;
}

void testd_kill(testd_t *t)
{
    lbc_destroy(&t->admin);
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    t->pid = 0;
}

void testd_cleanup(testd_t *t)
{
    if (t->pid > 0)
        testd_stop(t);
    if (t->tmpfs) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "umount '%s'", t->data);
        if (system(cmd) != 0)
            fprintf(stderr, "testd: could not unmount %s\n", t->data);
        t->tmpfs = false;
    }
    if (t->dir[0] && !getenv("TESTD_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "testd: could not remove %s\n", t->dir);
    }
}

lbc_t *testd_client(testd_t *t, const char *cert, int timeout_ms, int retries)
{
    char admin[400], server[400], err[256];
    snprintf(admin, sizeof admin, "%s/keys/admin.key_secret", t->data);
    snprintf(server, sizeof server, "%s/keys/server.key", t->data);
    lbc_opts_t o;
    lbc_opts_init(&o);
    o.endpoint = t->req_ep;
    o.client_cert = cert ? cert : t->curve_off ? NULL : admin;
    o.server_cert = cert || !t->curve_off ? server : NULL;
    o.timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    o.retries = retries;
    lbc_t *c = NULL;
    if (lbc_connect(&o, &c, err, sizeof err))
        return NULL;
    return c;
}

lb_val_t *testd_call(testd_t *t, const char *op, const lb_val_t *args)
{
    lb_val_t *r = NULL;
    char err[256];
    if (!t->admin || lbc_call(t->admin, op, args, &r, err, sizeof err))
        return NULL;
    return r;
}

const char *testd_code(const lb_val_t *reply)
{
    const char *code = "", *msg, *field;
    if (!reply)
        return "no reply";
    if (lbc_reply_ok(reply))
        return "";
    lbc_reply_error(reply, &code, &msg, &field);
    return code ? code : "?";
}

int testd_keygen(testd_t *t, const char *name, char pub_z85[41], char *secret_path, size_t n)
{
    lb_cert_t *c = NULL;
    char err[256];
    if (lb_cert_generate(&c))
        return -1;
    int rc = lb_cert_save(c, t->dir, name, err, sizeof err);
    if (rc == 0) {
        memcpy(pub_z85, c->public_z85, 41);
        snprintf(secret_path, n, "%s/%s.key_secret", t->dir, name);
    }
    lb_cert_destroy(&c);
    return rc ? -1 : 0;
}

int testd_set_clients(testd_t *t, const char *yaml)
{
    char path[400];
    snprintf(path, sizeof path, "%s/clients.yaml", t->dir);
    if (write_text(path, yaml))
        return -1;
    lb_val_t *r = testd_call(t, "admin.reload", NULL);
    int ok = r && lbc_reply_ok(r);
    lb_val_free(&r);
    return ok ? 0 : -1;
}

void testd_nid(unsigned long long seed, char out[14])
{
    snprintf(out, 14, "1%011llu", seed % 100000000000ULL);
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (out[i] - '0') * (13 - i);
    out[12] = (char)('0' + (11 - sum % 11) % 10);
    out[13] = '\0';
}

lb_val_t *testd_household(unsigned long n, const char *area)
{
    char house[12];
    snprintf(house, sizeof house, "%011lu", n);
    lb_val_t *h = lb_map();
    lb_map_set_str(h, "house_id", house);
    lb_map_set_str(h, "area", area);
    return h;
}

int testd_run_all(void)
{
    return cu_run_registered();
}

/* Talks ZeroMQ directly (REQ, the admin's CURVE keys): the client library only sends valid msgpack.
 */
lb_val_t *testd_raw(testd_t *t, const void *buf, size_t len, int timeout_ms)
{
    char admin[400], server[400], err[256];
    snprintf(admin, sizeof admin, "%s/keys/admin.key_secret", t->data);
    snprintf(server, sizeof server, "%s/keys/server.key", t->data);
    lb_cert_t *ck = NULL, *sk = NULL;
    if (lb_cert_load(admin, &ck, err, sizeof err) || lb_cert_load(server, &sk, err, sizeof err))
        return NULL;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, sk->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, ck->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, ck->secret_key, 32);
    zmq_connect(s, t->req_ep);
    zmq_send(s, buf, len, 0);
    lb_val_t *reply = NULL;
    char *rbuf = malloc(1 << 20);
    int n = zmq_recv(s, rbuf, 1 << 20, 0);
    if (n > 0) {
        proto_err_t perr;
        proto_unpack(rbuf, (size_t)n, &proto_default_limits, &reply, &perr);
    }
    free(rbuf);
    zmq_close(s);
    zmq_ctx_term(ctx);
    lb_cert_destroy(&ck);
    lb_cert_destroy(&sk);
    return reply;
}
