/*
 * What jobshim tells the server (status.c): the one-line start report, and status.json once the
 * job has ended.
 */
#ifndef JOBWORKER_STATUS_H
#define JOBWORKER_STATUS_H

#include <stdnoreturn.h>

#include "shim.h"

/* The one line the server reads from the shim's stdout: "started PID MS" or "failed WHY". */
void report_to_server(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes status.json, tells the server the job has ended (EOF on the events FIFO) and exits. */
noreturn void finish(struct shim *s, const char *error, int exit_code);

/* Reports a start that failed, records it as the job's status and exits. */
noreturn void fail_start(struct shim *s, const char *message);

#endif
