/*
 * bench_pg.c - part 2 of `make bench`: PostgreSQL 15 running the transaction
 * of case.act add_note (read the case row, update it, append a note, commit)
 * with pgbench, on a throwaway cluster in a scratch folder, fsync on, so that
 * the logbookd figures have a yardstick measured in the same run.
 *
 * The server runs as the user 'postgres' when the bench runs as root (it
 * refuses root), as the bench's own user otherwise; it is the bench's child
 * and is stopped by its pid (SIGINT, a fast shutdown).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef PG_BIN /* -DPG_BIN=... only to try the bench without PostgreSQL */
#define PG_BIN "/usr/lib/postgresql/15/bin"
#endif
#define PG_CASES 10000

static const char PG_INITDB[] = PG_BIN "/initdb";
static const char PG_POSTGRES[] = PG_BIN "/postgres";
static const char PG_PSQL[] = PG_BIN "/psql";
static const char PG_PGBENCH[] = PG_BIN "/pgbench";

typedef struct {
    char dir[256];  /* scratch folder: data, socket, logs, scripts */
    char data[300]; /* the cluster */
    char port[16];
    pid_t pid; /* the postmaster, the bench's child */
    bool drop; /* run the server as uid/gid */
    uid_t uid;
    gid_t gid;
} pg_t;

/* ---------------------------------------------------------------------- */
/* Processes                                                               */
/* ---------------------------------------------------------------------- */

/* fork + exec argv with stdout and stderr appended to out; as pg's user when drop. */
static pid_t spawn(const pg_t *pg, char *const argv[], const char *out, bool drop)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    if (chdir(pg->dir) != 0)
        _exit(126);
    if (drop && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0))
        _exit(126);
    /* after setuid, which clears it: a killed bench does not leave a server behind */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(argv[0], argv);
    _exit(127);
}

/* Runs argv to its end; its exit status (or -1) and, when ru is not NULL, its rusage. */
static int run(const pg_t *pg, char *const argv[], const char *out, bool drop, struct rusage *ru)
{
    pid_t pid = spawn(pg, argv, out, drop);
    if (pid < 0)
        return -1;
    int st;
    struct rusage r;
    if (wait4(pid, &st, 0, &r) != pid)
        return -1;
    if (ru)
        *ru = r;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Children of pid (by a scan of /proc), with their CPU seconds added to *cpu when not NULL. */
static int children(pid_t pid, double *cpu)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long c = strtol(e->d_name, &end, 10);
        if (*end || c <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", c);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        const char *p = strrchr(buf, ')');
        int ppid;
        if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1 || ppid != pid)
            continue;
        n++;
        double s = bench_proc_cpu_s((pid_t)c);
        if (cpu && s > 0)
            *cpu += s;
    }
    closedir(d);
    return n;
}

/* The server's CPU seconds: the postmaster, its reaped children and its live ones. */
static double server_cpu(const pg_t *pg)
{
    double cpu = bench_proc_cpu_all_s(pg->pid);
    children(pg->pid, &cpu);
    return cpu;
}

/* ---------------------------------------------------------------------- */
/* The cluster                                                             */
/* ---------------------------------------------------------------------- */

static int write_file(const pg_t *pg, const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", pg->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* psql -f file, or with -c sql when file is NULL; the output (trimmed) into out. 0 or -1. */
static int psql(const pg_t *pg, const char *file, const char *sql, char *out, size_t n)
{
    char log[400];
    snprintf(log, sizeof log, "%s/psql.out", pg->dir);
    unlink(log);
    char *argv[] = {(char *)PG_PSQL,
                    "-X",
                    "-q",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    (char *)pg->dir,
                    "-p",
                    (char *)pg->port,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    file ? "-f" : "-c",
                    (char *)(file ? file : sql),
                    NULL};
    int rc = run(pg, argv, log, false, NULL);
    if (out && n) {
        out[0] = '\0';
        FILE *f = fopen(log, "r");
        if (f) {
            size_t k = fread(out, 1, n - 1, f);
            out[k] = '\0';
            fclose(f);
            while (k && (out[k - 1] == '\n' || out[k - 1] == ' '))
                out[--k] = '\0';
        }
    }
    if (rc != 0)
        fprintf(stderr, "bench: psql failed (%d), see %s\n", rc, log);
    return rc == 0 ? 0 : -1;
}

static bool pm_ready(const pg_t *pg)
{
    char path[400], buf[1024];
    snprintf(path, sizeof path, "%s/postmaster.pid", pg->data);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    return strstr(buf, "\nready") != NULL;
}

/* initdb, then the server on a free port of 127.0.0.1 and a socket in the folder. 0 or -1. */
static int pg_start(pg_t *pg)
{
    char log[400], pstr[16];
    snprintf(log, sizeof log, "%s/initdb.log", pg->dir);
    char *init[] = {(char *)PG_INITDB, "-D", pg->data, "-U",        "postgres", "--auth=trust",
                    "--no-locale",     "-E", "UTF8",   "--no-sync", NULL};
    if (run(pg, init, log, pg->drop, NULL) != 0) {
        fprintf(stderr, "bench: initdb failed, see %s\n", log);
        return -1;
    }
    int port = testd_free_port();
    if (port < 0)
        return -1;
    snprintf(pstr, sizeof pstr, "%d", port);
    snprintf(pg->port, sizeof pg->port, "%d", port);
    snprintf(log, sizeof log, "%s/postgres.log", pg->dir);
    char *srv[] = {(char *)PG_POSTGRES,
                   "-D",
                   pg->data,
                   "-p",
                   pstr,
                   "-k",
                   pg->dir,
                   "-c",
                   "listen_addresses=127.0.0.1",
                   "-c",
                   "fsync=on",
                   "-c",
                   "synchronous_commit=on",
                   "-c",
                   "full_page_writes=on",
                   "-c",
                   "max_connections=64",
                   NULL};
    pg->pid = spawn(pg, srv, log, pg->drop);
    if (pg->pid < 0)
        return -1;
    for (int i = 0; i < 3000 && !pm_ready(pg); i++) {
        if (waitpid(pg->pid, NULL, WNOHANG) == pg->pid) {
            pg->pid = 0;
            fprintf(stderr, "bench: postgres exited at start, see %s\n", log);
            return -1;
        }
        pause_ms(20); /* postmaster.pid says "ready" once it accepts connections */
    }
    return pm_ready(pg) ? 0 : -1;
}

/* A fast shutdown by the postmaster's pid (SIGKILL after 30 s), and the folder removed. */
static void pg_stop(pg_t *pg)
{
    if (pg->pid > 0) {
        kill(pg->pid, SIGINT);
        int i = 0;
        while (waitpid(pg->pid, NULL, WNOHANG) == 0 && i++ < 3000)
            pause_ms(10);
        if (i > 3000) {
            kill(pg->pid, SIGKILL);
            waitpid(pg->pid, NULL, 0);
        }
        pg->pid = 0;
    }
    if (pg->dir[0] && !getenv("TESTD_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", pg->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", pg->dir);
    }
}

/* What logbookd keeps of a case, in a row: the household and its state; notes in a table. */
static const char SCHEMA[] =
    "CREATE TABLE cases (id int PRIMARY KEY, house_id text NOT NULL, area text NOT NULL,\n"
    "  workflow text NOT NULL, state text NOT NULL, seq bigint NOT NULL,\n"
    "  entered_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, doc jsonb NOT NULL);\n"
    "CREATE TABLE notes (id bigserial PRIMARY KEY, case_id int NOT NULL REFERENCES cases(id),\n"
    "  at timestamptz NOT NULL, actor text NOT NULL, note text NOT NULL);\n"
    "CREATE INDEX notes_case ON notes (case_id, at);\n"
    "INSERT INTO cases SELECT g, (10000000000 + g)::text,\n"
    "  '65' || lpad((1 + g % 9)::text, 2, '0') || '0' || (1 + g % 4) || '0' || (1 + g % 5),\n"
    "  'tpmap-household', 'identified', 0, now(), now(),\n"
    "  jsonb_build_object('source', 'tpmap', 'deprived', jsonb_build_array('bmn1', 'bmn7'),\n"
    "    'escalation', null, 'team', null)\n"
    "FROM generate_series(1, 10000) g;\n"
    "VACUUM ANALYZE;\n"
    "CHECKPOINT;\n";

static const char SCRIPT[] =
    "\\set id random(1, 10000)\n"
    "BEGIN;\n"
    "SELECT state, seq, doc FROM cases WHERE id = :id FOR UPDATE;\n"
    "UPDATE cases SET seq = seq + 1, updated_at = now() WHERE id = :id;\n"
    "INSERT INTO notes (case_id, at, actor, note) VALUES (:id, now(), 'admin', 'bench');\n"
    "COMMIT;\n";

/* ---------------------------------------------------------------------- */
/* pgbench                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    double tps, lat_avg_ms;
    uint64_t n, failed;
    double p50, p99, p999, max;
    double server_us, client_us; /* CPU per transaction */
    double disk_kib, wal_kib;    /* bytes per transaction: the device (every process), WAL */
    double wal_syncs_s;          /* WAL fsyncs per second */
    int fail;
} pgres_t;

/* "wal_sync|wal_bytes" from pg_stat_wal. */
static int wal_stats(const pg_t *pg, double *syncs, double *bytes)
{
    char out[128];
    if (psql(pg, NULL, "SELECT wal_sync, wal_bytes FROM pg_stat_wal", out, sizeof out))
        return -1;
    return sscanf(out, "%lf|%lf", syncs, bytes) == 2 ? 0 : -1;
}

/* Per-transaction latencies (column 3, us) of pgbench's -l files named prefix.*. */
static size_t read_latencies(const pg_t *pg, const char *prefix, uint64_t **out)
{
    DIR *d = opendir(pg->dir);
    size_t n = 0, cap = 0;
    uint64_t *v = NULL;
    struct dirent *e;
    size_t pl = strlen(prefix);
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, pl) != 0 || e->d_name[pl] != '.')
            continue;
        char path[600], line[256];
        snprintf(path, sizeof path, "%s/%s", pg->dir, e->d_name);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            unsigned long long us;
            if (sscanf(line, "%*d %*d %llu", &us) != 1)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 4096;
                uint64_t *nv = realloc(v, nc * sizeof *nv);
                if (!nv)
                    break;
                v = nv;
                cap = nc;
            }
            v[n++] = us * 1000;
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    *out = v;
    return n;
}

static double field_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static pgres_t pgbench(const pg_t *pg, const char *script, int clients, int seconds)
{
    pgres_t r = {0};
    char cs[16], js[16], ts[16], prefix[32], out[400];
    snprintf(cs, sizeof cs, "%d", clients);
    snprintf(js, sizeof js, "%d", clients < 2 ? 1 : 2);
    snprintf(ts, sizeof ts, "%d", seconds);
    snprintf(prefix, sizeof prefix, "lat-%d", clients);
    snprintf(out, sizeof out, "%s/pgbench-%d.out", pg->dir, clients);
    char *argv[] = {(char *)PG_PGBENCH,
                    "-n",
                    "-M",
                    "prepared",
                    "-c",
                    cs,
                    "-j",
                    js,
                    "-T",
                    ts,
                    "-f",
                    (char *)script,
                    "-l",
                    "--log-prefix",
                    prefix,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    (char *)pg->port,
                    "-U",
                    "postgres",
                    "postgres",
                    NULL};
    double syncs0 = 0, wal0 = 0, syncs1 = 0, wal1 = 0, cpu0, cpu1;
    long long dev0, dev1;
    int before = children(pg->pid, NULL);
    wal_stats(pg, &syncs0, &wal0);
    cpu0 = server_cpu(pg);
    dev0 = bench_dev_written(pg->data);
    struct rusage ru;
    uint64_t t0 = bench_now_ns();
    int rc = run(pg, argv, out, false, &ru);
    double wall = bench_ms_since(t0) / 1e3;
    /* the backends exit after pgbench disconnects; their CPU counts once they are reaped */
    for (int i = 0; i < 500 && children(pg->pid, NULL) > before; i++)
        pause_ms(10);
    dev1 = bench_dev_written(pg->data);
    cpu1 = server_cpu(pg);
    wal_stats(pg, &syncs1, &wal1);
    char text[8192] = "";
    FILE *f = fopen(out, "r");
    if (f) {
        size_t k = fread(text, 1, sizeof text - 1, f);
        text[k] = '\0';
        fclose(f);
    }
    r.tps = field_after(text, "tps = ");
    r.lat_avg_ms = field_after(text, "latency average = ");
    double done = field_after(text, "actually processed: ");
    double failed = field_after(text, "number of failed transactions: ");
    r.n = done > 0 ? (uint64_t)done : 0;
    r.failed = failed > 0 ? (uint64_t)failed : 0;
    if (rc != 0 || r.tps <= 0 || r.n == 0) {
        fprintf(stderr, "bench: pgbench failed (exit %d), see %s\n", rc, out);
        r.fail = 1;
        return r;
    }
    uint64_t *lat = NULL;
    size_t nl = read_latencies(pg, prefix, &lat);
    qsort(lat, nl, sizeof *lat, bench_cmp_u64);
    r.p50 = (double)bench_pct(lat, nl, 0.50) / 1e6;
    r.p99 = (double)bench_pct(lat, nl, 0.99) / 1e6;
    r.p999 = (double)bench_pct(lat, nl, 0.999) / 1e6;
    r.max = nl ? (double)lat[nl - 1] / 1e6 : 0;
    free(lat);
    double tx = (double)r.n;
    r.server_us = (cpu1 - cpu0) * 1e6 / tx;
    r.client_us = ((double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6) *
                  1e6 / tx;
    r.disk_kib = dev0 >= 0 && dev1 >= dev0 ? (double)(dev1 - dev0) / 1024.0 / tx : -1;
    r.wal_kib = (wal1 - wal0) / 1024.0 / tx;
    r.wal_syncs_s = wall > 0 ? (syncs1 - syncs0) / wall : 0;
    return r;
}

static void print_pg(const char *label, const pgres_t *r)
{
    if (r->fail) {
        printf("pgbench %-11s FAILED (see stderr)\n", label);
        return;
    }
    printf("pgbench %-11s %9s tps  p50 %-10s p99 %-10s p99.9 %-10s max %-9s (%s transactions, "
           "%s failed; latency average %s)\n",
           label, bench_num(r->tps), bench_ms(r->p50), bench_ms(r->p99), bench_ms(r->p999),
           bench_ms(r->max), bench_num((double)r->n), bench_num((double)r->failed),
           bench_ms(r->lat_avg_ms));
    printf("  per transaction: CPU server %.0f us, pgbench %.0f us; WAL %.1f KiB, the disk wrote "
           "%.1f KiB (its device, every process); WAL fsyncs %s/s\n",
           r->server_us, r->client_us, r->wal_kib, r->disk_kib, bench_num(r->wal_syncs_s));
    fflush(stdout);
}

/* ---------------------------------------------------------------------- */

/* The folder and the user the server runs as; 1 when it cannot run here (said on stdout). */
static int pg_prepare(pg_t *pg)
{
    snprintf(pg->dir, sizeof pg->dir, "/tmp/logbook-bench-pg-XXXXXX");
    if (!mkdtemp(pg->dir)) {
        pg->dir[0] = '\0';
        return -1;
    }
    snprintf(pg->data, sizeof pg->data, "%s/data", pg->dir);
    if (geteuid() != 0)
        return 0;
    const struct passwd *pw = getpwnam("postgres");
    if (!pw) {
        printf("PostgreSQL 15 comparison: not run: the bench runs as root and there is no user "
               "'postgres' to run the server as (apt-get install postgresql-15 creates it)\n");
        return 1;
    }
    pg->drop = true;
    pg->uid = pw->pw_uid;
    pg->gid = pw->pw_gid;
    if (chown(pg->dir, pg->uid, pg->gid) != 0) {
        fprintf(stderr, "bench: chown %s: %s\n", pg->dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_ratio(const char *what, double lb, double pg)
{
    if (lb > 0 && pg > 0)
        printf("  %-26s %s/s / %s/s = %.1fx\n", what, bench_num(lb), bench_num(pg), lb / pg);
}

int bench_part_pg(const bench_tx_t *one, const bench_tx_t *many)
{
    if (access(PG_INITDB, X_OK) != 0 || access(PG_POSTGRES, X_OK) != 0 ||
        access(PG_PGBENCH, X_OK) != 0 || access(PG_PSQL, X_OK) != 0) {
        printf("PostgreSQL 15 comparison: not run: PostgreSQL 15 is not installed (no %s/initdb, "
               "postgres, pgbench, psql); install it with: apt-get install postgresql-15\n",
               PG_BIN);
        return 0;
    }
    pg_t pg = {0};
    int rc = pg_prepare(&pg);
    if (rc == 0)
        rc = pg_start(&pg);
    char path[400], script[400], ver[256] = "?", wsm[64] = "?", sb[64] = "?", la[64];
    if (rc == 0)
        rc = write_file(&pg, "schema.sql", SCHEMA, path, sizeof path) ||
                     write_file(&pg, "add_note.sql", SCRIPT, script, sizeof script) ||
                     psql(&pg, path, NULL, NULL, 0)
                 ? -1
                 : 0;
    if (rc == 0) {
        psql(&pg, NULL, "SHOW server_version", ver, sizeof ver);
        psql(&pg, NULL, "SHOW wal_sync_method", wsm, sizeof wsm);
        psql(&pg, NULL, "SHOW shared_buffers", sb, sizeof sb);
        int secs = (int)(bench_cfg.tx_seconds + 0.5);
        bench_loadavg(la, sizeof la);
        printf("PostgreSQL %s, the same transaction as case.act add_note with pgbench: SELECT "
               "the case row FOR UPDATE, UPDATE it, INSERT a note, COMMIT (-M prepared, a "
               "random case of %s, %d s per run)\n",
               ver, bench_num(PG_CASES), secs);
        printf("  cluster: initdb in %s, server run as %s, 127.0.0.1:%s, fsync on, "
               "synchronous_commit on, full_page_writes on, wal_sync_method %s, shared_buffers "
               "%s; load average %s\n",
               pg.dir, pg.drop ? "user postgres" : "the bench's user", pg.port, wsm, sb, la);
        pgres_t a = pgbench(&pg, script, 1, secs);
        print_pg("1 client", &a);
        pgres_t b = pgbench(&pg, script, 32, secs);
        print_pg("32 clients", &b);
        if ((one || many) && !(a.fail && b.fail)) {
            printf("logbookd / PostgreSQL 15 (durable transactions per second, same run):\n");
            if (many && !b.fail)
                print_ratio("32x4 / 32 clients", many->per_s, b.tps);
            if (one && !a.fail)
                print_ratio("1x1 / 1 client", one->per_s, a.tps);
        }
        rc = a.fail || b.fail ? -1 : 0;
    } else if (rc < 0) {
        printf("PostgreSQL 15 comparison: FAILED to set up the cluster (see stderr)\n");
    }
    fflush(stdout);
    pg_stop(&pg);
    return rc < 0 ? -1 : 0;
}
