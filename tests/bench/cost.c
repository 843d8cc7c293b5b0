/*
 * cost.c - the helpers of make txcost and make importcost (cost.h).
 */
#include "cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long cost_env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s && *s ? atol(s) : def;
}

double cost_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *s = strrchr(buf, ')');
    unsigned long ut, st;
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int cost_callgrind_wrapper(const char *prog, const char *out, char *path, size_t size)
{
    const char *bin = getenv("LOGBOOKD") ? getenv("LOGBOOKD") : "bin/logbookd";
    char real[4096];
    if (!realpath(bin, real))
        return -1;
    snprintf(path, size, "/tmp/%s-callgrind.%d.sh", prog, (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
            "--callgrind-out-file='%s' '%s' \"$@\"\n",
            out, real);
    if (fclose(f) || chmod(path, 0700))
        return -1;
    return setenv("LOGBOOKD", path, 1);
}

void cost_callgrind_ctl(const char *prog, pid_t pid, const char *what)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "callgrind_control %s %d >/dev/null", what, (int)pid);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: %s failed\n", prog, cmd);
}
