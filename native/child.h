/*
 * The child side of a start (child.c): what runs after clone, and the pipes and the failure
 * record it shares with the shim side (start.c).
 */
#ifndef JOBWORKER_CHILD_H
#define JOBWORKER_CHILD_H

#include <stddef.h>
#include <stdnoreturn.h>

#include "shim.h"

struct job_pipes {
	int sync[2];   /* shim -> child: one byte once the child sits in its cgroups */
	int error[2];  /* child -> shim: CLOEXEC, so EOF without data means exec succeeded */
	int out[2], err[2];
	int status[2]; /* init -> shim (--pidns): the job's raw wait status */
	int stdin_read; /* --stdin: the FIFO's read end, the job's fd 0; -1 for /dev/null */
	int console[2]; /* --tty, job -> shim: the terminal's master end (SCM_RIGHTS) */
};

/* Where a child failed before exec; sent as a fixed-size record (< PIPE_BUF: atomic). */
enum stage {
	STAGE_SETSID,
	STAGE_STDIO,
	STAGE_TTY,
	STAGE_MOUNT_PRIVATE,
	STAGE_MOUNT_PROC,
	STAGE_SANDBOX,
	STAGE_LOOPBACK,
	STAGE_NETWORK,
	STAGE_RESOLV_CONF,
	STAGE_FORK,
	STAGE_SETGROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_CWD,
	STAGE_NO_NEW_PRIVS,
	STAGE_SECCOMP,
	STAGE_EXEC,
};

struct child_error {
	int stage;
	int err;
	char detail[64]; /* which step of a stage, where it has several */
};

/* Runs in the clone child: never returns (it execs the job, or becomes init with --pidns). */
noreturn void run_child(const struct shim *s, const struct job_pipes *p);

/* The failure the child reported, in the words the server passes on to the client. */
void describe_child_error(const struct options *o, const struct child_error *e, char *out,
			  size_t len);

#endif
