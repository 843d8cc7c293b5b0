/*
 * cost.h - what make txcost and make importcost share: settings from the
 * environment, a process's CPU time, and running the daemon under callgrind
 * with instrumentation switched on only around the measured part.
 */
#ifndef BENCH_COST_H
#define BENCH_COST_H

#include <sys/types.h>

/* The integer in environment variable name, or def when unset or empty. */
long cost_env_long(const char *name, long def);
/* utime + stime of pid in seconds, from /proc; -1 when it cannot be read. */
double cost_cpu_s(pid_t pid);
/*
 * Writes /tmp/PROG-callgrind.PID.sh, which runs $LOGBOOKD (default bin/logbookd)
 * under callgrind with instrumentation off at start and its output in out, and
 * sets LOGBOOKD to it; path (size bytes) gets the script's name. 0 or -1.
 */
int cost_callgrind_wrapper(const char *prog, const char *out, char *path, size_t size);
/* callgrind_control WHAT PID (-z, -i on, -d, -i off); a failure is printed, prefixed prog. */
void cost_callgrind_ctl(const char *prog, pid_t pid, const char *what);

#endif
