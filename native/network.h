/*
 * A job's egress network (network.c): the veth pair between the host and the job's own network
 * namespace, its addresses and default route, the resolver file it sees, and the bytes it moved.
 */
#ifndef JOBWORKER_NETWORK_H
#define JOBWORKER_NETWORK_H

#include <stddef.h>
#include <sys/types.h>

#include "shim.h"

/* Shim side, after clone and before the child is released: holds the child's network namespace
 * (so its counters outlive the job) and makes the pair, the job's end named eth0 in it, the
 * host's end addressed and up. 0, or -1 with `error` filled. */
int network_attach(struct shim *s, pid_t child, char *error, size_t len);

/* Child side, in the job's namespace: no IPv6, eth0 addressed and up, the default route via the
 * host's end. 0, or -1 with errno set and `*step` naming what failed. */
int network_configure_job_side(const struct options *o, const char **step);

/* The host end's counters, read once the job has ended (the held namespace keeps it). */
void network_read_counters(struct shim *s);

#endif
