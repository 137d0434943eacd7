/*
 * Signalling the job's process tree (job-tree.c): the stop with its grace period, the kill, and
 * the sweep of what a job without its own PID namespace leaves behind.
 */
#ifndef JOBWORKER_JOB_TREE_H
#define JOBWORKER_JOB_TREE_H

#include "shim.h"

void signal_tree(const struct shim *s, int sig);

/* SIGKILLs the shim's descendants until none is left (a job without --pidns). */
void kill_leftovers(struct shim *s);

/* SIGTERM now, SIGKILL once grace_ms have passed. */
void begin_stop(struct shim *s, enum end_reason why, long long grace_ms);
void kill_now(struct shim *s);

#endif
