/*
 * crashtest.c - the power-loss test (docs/CRASHTEST.md), in the manner of
 * ALICE and CrashMonkey: runs logbookd under the recording shim with a
 * mixed workload from several clients, kills it, then for many cut points
 * rebuilds the data folder as a power loss there could have left it
 * (model.c), starts logbookd on it and checks that every write acknowledged
 * before the cut is there.
 *
 *   crashtest [--writes N] [--cuts N] [--seed S] [--clients N] [--keep]
 *   crashtest --replay DIR --cut N --seed S     (one cut of a kept run again)
 *
 * Environment: LOGBOOKD (the daemon), CRASH_SHIM (the shim; default
 * crash_shim.so beside this program), CRASH_WRITES, CRASH_CUTS, CRASH_SEED.
 * Exit status 0 when every cut passed.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "model.h"

typedef struct {
    int writes, cuts, clients;
    uint64_t seed;
    bool keep;
    const char *replay;
    long long cut;
} args_t;

static uint64_t rnd(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static int parse(int argc, char **argv, args_t *a)
{
    *a = (args_t){.writes = env_int("CRASH_WRITES", 300),
                  .cuts = env_int("CRASH_CUTS", 25),
                  .clients = 4,
                  .cut = -1};
    const char *s = getenv("CRASH_SEED");
    a->seed = s && *s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--keep") == 0) {
            a->keep = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "crashtest: %s needs a value\n", o);
            return -1;
        }
        i++;
        if (strcmp(o, "--writes") == 0)
            a->writes = atoi(v);
        else if (strcmp(o, "--cuts") == 0)
            a->cuts = atoi(v);
        else if (strcmp(o, "--clients") == 0)
            a->clients = atoi(v);
        else if (strcmp(o, "--seed") == 0)
            a->seed = strtoull(v, NULL, 10);
        else if (strcmp(o, "--replay") == 0)
            a->replay = v;
        else if (strcmp(o, "--cut") == 0)
            a->cut = atoll(v);
        else {
            fprintf(stderr, "crashtest: unknown option %s\n", o);
            return -1;
        }
    }
    if (a->writes < 1 || a->cuts < 1 || a->clients < 1 || a->clients > 64 ||
        (a->replay && a->cut < 0)) {
        fprintf(stderr, "crashtest: bad arguments (--replay needs --cut and --seed)\n");
        return -1;
    }
    return 0;
}

static void shim_path(char *out, size_t n)
{
    const char *e = getenv("CRASH_SHIM");
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (e && *e) {
        snprintf(out, n, "%s", e);
        return;
    }
    self[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(out, n, "%.*s/crash_shim.so", slash ? (int)(slash - self) : 1, slash ? self : ".");
}

static void rm_rf(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "crashtest: cannot remove %s\n", dir);
}

static void show_log(const char *log)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "tail -n 20 '%s'", log);
    fflush(stdout);
    if (system(cmd) != 0)
        printf("    (no log)\n");
}

/* Whether two files hold the same bytes (false when either cannot be read). */
static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/*
 * One cut: rebuild into run/cut-N, start a daemon there without the shim,
 * check it, stop it. Returns 0 when it passed (the folder is then removed).
 */
static int one_cut(const char *run, const crash_log_t *log, const crash_acks_t *acks, size_t cut,
                   uint64_t seed, const char *why)
{
    char dir[PATH_MAX], data[PATH_MAX + 8], err[512];
    snprintf(dir, sizeof dir, "%s/cut-%zu-%" PRIu64, run, cut, seed);
    snprintf(data, sizeof data, "%s/data", dir);
    rm_rf(dir);
    crash_stats_t st;
    if (mkdir(dir, 0700) || mkdir(data, 0700) ||
        crash_rebuild(log, cut, seed, data, &st, err, sizeof err)) {
        printf("cut %zu seed %" PRIu64 ": cannot rebuild: %s\n", cut, seed, err);
        return -1;
    }
    uint64_t cutoff = cut ? crash_log_end(log, cut - 1) : 0;
    testd_t d;
    /* the checks send requests as fast as replies come: no rate limit in their way */
    testd_opts_t o = {.dir = dir, .rate_per_key = 1000000};
    size_t acked = 0;
    for (size_t i = 0; i < acks->n; i++)
        acked += acks->a[i].logsize <= cutoff;
    int bad;
    if (testd_start(&d, &o) != 0) {
        printf("    logbookd refused to start on the rebuilt folder; its log:\n");
        show_log(d.log);
        bad = 1;
    } else {
        size_t checked = 0;
        bad = crash_check(&d, acks, cutoff, &checked);
        /* clients hold the server's public key: once a write was acknowledged it must stay */
        char was[PATH_MAX + 32], now[PATH_MAX + 32];
        snprintf(was, sizeof was, "%s/data/keys/server.key", run);
        snprintf(now, sizeof now, "%s/keys/server.key", data);
        if (acked && !same_file(was, now)) {
            printf("    the server's key changed: %s is not %s\n", now, was);
            bad++;
        }
        if (testd_stop(&d) != 0)
            bad++;
    }
    printf("cut %zu/%zu (%s) seed %" PRIu64 ": %zu acked writes before it; %zu files, write pieces "
           "%zu kept %zu dropped, metadata %zu of %zu pending kept: %s\n",
           cut, crash_log_count(log), why, seed, acked, st.files, st.pieces_kept, st.pieces_cut,
           st.meta_kept, st.meta_pending, bad ? "FAILED" : "ok");
    if (bad) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = '\0';
        const char *daemon = getenv("LOGBOOKD");
        char cwd[PATH_MAX];
        printf(
            "    kept %s; reproduce (from %s): %s%s%s%s --replay %s --cut %zu --seed %" PRIu64 "\n",
            dir, getcwd(cwd, sizeof cwd) ? cwd : "the repository root", daemon ? "LOGBOOKD=" : "",
            daemon ? daemon : "", daemon ? " " : "", self, run, cut, seed);
        return -1;
    }
    rm_rf(dir);
    return 0;
}

/*
 * The cut points, in turn: right after a sync, between two writes, right after a
 * name changed (a file created, renamed or removed, a folder made), anywhere.
 */
static size_t pick_cut(const crash_log_t *log, uint64_t *rng, int i, const char **why)
{
    size_t n = crash_log_count(log);
    for (int tries = 0; tries < 1000; tries++) {
        size_t e = (size_t)(rnd(rng) % n);
        uint32_t type = crash_log_event(log, e)->type;
        if (i % 4 == 0 && (type == CRASH_FSYNC || type == CRASH_FDATASYNC)) {
            *why = "after a sync";
            return e + 1;
        }
        if (i % 4 == 1 && type == CRASH_WRITE && e + 1 < n &&
            crash_log_event(log, e + 1)->type == CRASH_WRITE) {
            *why = "inside writes";
            return e + 1;
        }
        const crash_rec_t *r = crash_log_event(log, e);
        if (i % 4 == 2 && (type == CRASH_RENAME || type == CRASH_UNLINK || type == CRASH_MKDIR ||
                           (type == CRASH_OPEN && (r->bits & CRASH_B_CREATED)))) {
            *why = "after a name change";
            return e + 1;
        }
        if (i % 4 == 3)
            break;
    }
    *why = "anywhere";
    return 1 + (size_t)(rnd(rng) % n);
}

static int replay(const args_t *a)
{
    char path[PATH_MAX + 16], err[512];
    crash_log_t *log = NULL;
    crash_acks_t acks = {0};
    snprintf(path, sizeof path, "%s/shim.log", a->replay);
    if (crash_log_load(path, &log, err, sizeof err)) {
        fprintf(stderr, "crashtest: %s\n", err);
        return 1;
    }
    size_t cut = (size_t)a->cut < crash_log_count(log) ? (size_t)a->cut : crash_log_count(log);
    snprintf(path, sizeof path, "%s/acks.tsv", a->replay);
    int rc =
        crash_acks_load(path, &acks) ? -1 : one_cut(a->replay, log, &acks, cut, a->seed, "replay");
    free(acks.a);
    crash_log_destroy(&log);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    args_t a;
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line per cut, also into a file */
    if (parse(argc, argv, &a))
        return 2;
    if (a.replay)
        return replay(&a);
    printf("crashtest: seed %" PRIu64 ", %d acknowledged writes from %d clients, %d cuts\n", a.seed,
           a.writes, a.clients, a.cuts);
    char run[] = "/tmp/logbook-crash-XXXXXX", data[64], logpath[64], shim[PATH_MAX];
    if (!mkdtemp(run))
        return 1;
    snprintf(data, sizeof data, "%s/data", run);
    snprintf(logpath, sizeof logpath, "%s/shim.log", run);
    shim_path(shim, sizeof shim);
    if (mkdir(data, 0700) || access(shim, R_OK)) {
        fprintf(stderr, "crashtest: no %s (set CRASH_SHIM)\n", shim);
        return 1;
    }
    /* The daemon under the shim; an ASan build must not insist on being loaded first. */
    static char e_pre[PATH_MAX + 16], e_dir[96], e_log[96], e_asan[512];
    snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", shim);
    snprintf(e_dir, sizeof e_dir, "LOGBOOK_CRASH_DIR=%s", data);
    snprintf(e_log, sizeof e_log, "LOGBOOK_CRASH_LOG=%s", logpath);
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(e_asan, sizeof e_asan, "ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    char *env[] = {e_pre, e_dir, e_log, e_asan, NULL};
    testd_t t;
    testd_opts_t o = {.dir = run, .env = env, .rate_per_key = 1000000};
    if (testd_start(&t, &o) != 0) {
        fprintf(stderr, "crashtest: logbookd did not start under the shim; log %s/logbookd.log\n",
                run);
        return 1;
    }
    crash_acks_t acks = {0};
    int rc = crash_workload(&t, logpath, a.writes, a.clients, a.seed, &acks);
    testd_kill(&t); /* the power goes */
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/acks.tsv", run);
    crash_log_t *log = NULL;
    if (rc == 0 && crash_acks_save(&acks, path))
        rc = -1;
    if (rc == 0 && crash_log_load(logpath, &log, err, sizeof err)) {
        fprintf(stderr, "crashtest: %s\n", err);
        rc = -1;
    }
    if (rc) {
        fprintf(stderr, "crashtest: the workload failed; kept %s\n", run);
        free(acks.a);
        return 1;
    }
    printf("crashtest: %zu writes acknowledged, %zu events recorded in %s\n", acks.n,
           crash_log_count(log), logpath);
    uint64_t rng = a.seed;
    int failed = 0;
    for (int i = 0; i < a.cuts; i++) {
        const char *why = "";
        size_t cut = pick_cut(log, &rng, i, &why);
        uint64_t cseed = rnd(&rng) % 1000000000ULL;
        if (one_cut(run, log, &acks, cut, cseed, why))
            failed++;
    }
    printf("crashtest: %d of %d cuts passed (seed %" PRIu64 ", %zu acknowledged writes, %zu "
           "events)\n",
           a.cuts - failed, a.cuts, a.seed, acks.n, crash_log_count(log));
    crash_log_destroy(&log);
    free(acks.a);
    if (failed || a.keep)
        printf("crashtest: kept %s\n", run);
    else
        rm_rf(run);
    return failed ? 1 : 0;
}
