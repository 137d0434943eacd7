/*
 * The job's private filesystem view and its system-call filter, as jobshim builds them. Kept
 * apart from jobshim.c, which supervises; these only shape the world the job runs in.
 */
#ifndef JOBWORKER_SANDBOX_H
#define JOBWORKER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sandbox_bind {
	const char *source; /* a path on the host */
	const char *target; /* where the job sees it */
	bool writable;
};

struct sandbox_spec {
	const char *staging;             /* an existing host directory to build the new root on */
	const struct sandbox_bind *binds; /* outermost first */
	int bind_count;
	/* The client's volumes (source: where the host mounts one), outermost first: placed after
	 * the writable tmpfs, so that one at /work/src is not hidden by /work's. */
	const struct sandbox_bind *volumes;
	int volume_count;
	unsigned long long tmpfs_bytes;   /* size of each writable tmpfs: /work, /tmp, ... */
	uid_t uid;                        /* the job's account: owns /work */
	gid_t gid;
	const char *hostname;
	bool own_sysfs;                   /* the job has its own network namespace */
	bool own_cgroup;                  /* cgroup v2 and its own cgroup namespace: show that */
};

/*
 * Builds the job's root and pivots into it. Runs as root in fresh mount, PID, UTS and IPC
 * namespaces, before the job is forked. On failure returns -1 with errno set and `step`
 * naming what failed (a static string).
 */
int sandbox_enter(const struct sandbox_spec *spec, const char **step);

/*
 * Installs the seccomp filter modelled on Docker's default profile. Must run after
 * PR_SET_NO_NEW_PRIVS and last before exec. Returns 0, or a negative errno.
 */
int sandbox_install_seccomp(void);

#endif
