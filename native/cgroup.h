/*
 * The job's cgroups (cgroup.c): its first process born in them or moved there before it runs,
 * and their members signalled, or killed at once, when the job is stopped.
 */
#ifndef JOBWORKER_CGROUP_H
#define JOBWORKER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shim.h"

void signal_cgroup_members(const struct options *o, int sig);

/* cgroup v2: every process of the job's cgroup killed at once (cgroup.kill). */
void kill_cgroup(const struct options *o);

/* Moves pid into every --cgroup-procs; -1 with `error` set on failure. */
int place_in_cgroups(const struct options *o, pid_t pid, char *error, size_t error_len);

/* clone, with `flags`, into the job's cgroup where the kernel can (*born_in_cgroup). */
pid_t clone_job(const struct options *o, unsigned long long flags, bool *born_in_cgroup);

#endif
