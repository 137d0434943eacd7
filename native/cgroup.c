/*
 * The job's cgroups: its first process is born in them (clone3 with CLONE_INTO_CGROUP on cgroup
 * v2) or moved there before it may run, and at a stop every member is signalled, or the whole
 * cgroup killed at once (cgroup.kill).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "cgroup.h"
#include "shim-util.h"

/* Catches job processes that left our subtree some other way (or were placed in the
 * cgroup by someone else on the job's behalf). */
void signal_cgroup_members(const struct options *o, int sig)
{
	pid_t self = getpid();
	for (int i = 0; i < o->cgroup_count; i++) {
		FILE *procs = fopen(o->cgroup_procs[i], "re");
		if (!procs)
			continue;
		int pid;
		while (fscanf(procs, "%d", &pid) == 1)
			if (pid > 1 && pid != self)
				kill(pid, sig);
		fclose(procs);
	}
}

/* cgroup v2 (5.14+): the kernel kills every process of the cgroup at once, forks included. */
void kill_cgroup(const struct options *o)
{
	char path[PATH_MAX];
	if (!o->cgroup_dir ||
	    snprintf(path, sizeof path, "%s/cgroup.kill", o->cgroup_dir) >= (int)sizeof path)
		return;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)write_all(fd, "1", 1);
	close(fd);
}

int place_in_cgroups(const struct options *o, pid_t pid, char *error, size_t error_len)
{
	char line[32];
	int len = snprintf(line, sizeof line, "%d\n", (int)pid);
	for (int i = 0; i < o->cgroup_count; i++) {
		int fd = open(o->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write_all(fd, line, (size_t)len) < 0 || close(fd) < 0) {
			snprintf(error, error_len, "cgroup %s: %s", o->cgroup_procs[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct clone3_args { /* the kernel's struct clone_args (linux/sched.h), which sched.h clashes with */
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/*
 * Raw clone: glibc's fork() cannot create the child directly in new namespaces. On cgroup v2 the
 * child is born in the job's cgroup (clone3 with CLONE_INTO_CGROUP): no migration afterwards, and
 * its new cgroup namespace is rooted there. Kernels or filters without clone3 get clone and a
 * write to cgroup.procs, as on v1.
 */
pid_t clone_job(const struct options *o, unsigned long long flags, bool *born_in_cgroup)
{
	*born_in_cgroup = false;
	if (o->cgroup_dir) {
		int cgroup_fd = open(o->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cgroup_fd >= 0) {
			struct clone3_args args = {
				.flags = flags | CLONE_INTO_CGROUP | (o->pidns ? CLONE_NEWCGROUP : 0),
				.exit_signal = SIGCHLD,
				.cgroup = (uint64_t)cgroup_fd,
			};
			pid_t pid = (pid_t)syscall(__NR_clone3, &args, sizeof args);
			int saved = errno;
			close(cgroup_fd);
			if (pid >= 0) {
				*born_in_cgroup = pid > 0;
				return pid;
			}
			if (saved != ENOSYS && saved != E2BIG && saved != EINVAL) {
				errno = saved;
				return -1;
			}
		}
	}
	return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
}
