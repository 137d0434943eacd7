/*
 * Signalling the job's process tree, and the stop and kill the server asks for: every process
 * the job started, found by the /proc walk, the process group, the cgroup and (with --pidns) the
 * namespace's init, since a job may leave any one of these.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "job-tree.h"
#include "shim-util.h"

/* Bounds the fds and DIR buffers held open by the recursive /proc walk. Deeper processes
 * are still reached: the process group kill covers most, and the final SIGKILL sweep
 * repeats until the shim has no descendants left. */
#define MAX_WALK_DEPTH 64

/* Post-order, so a process is still alive (its children list stable) while we walk below
 * it; killing it first would reparent its children to us mid-walk and hide them. Children
 * are listed per thread, hence the walk over task/. */
static void signal_descendants(pid_t pid, int sig, int depth)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *tasks = opendir(path);
	if (!tasks)
		return;
	struct dirent *task;
	while ((task = readdir(tasks)) != NULL) {
		if (task->d_name[0] == '.')
			continue;
		char children_path[128];
		snprintf(children_path, sizeof children_path, "/proc/%d/task/%.16s/children", (int)pid,
			 task->d_name);
		FILE *children = fopen(children_path, "re");
		if (!children)
			continue;
		int child;
		while (fscanf(children, "%d", &child) == 1) {
			if (depth < MAX_WALK_DEPTH)
				signal_descendants(child, sig, depth + 1);
			kill(child, sig);
		}
		fclose(children);
	}
	closedir(tasks);
}

void signal_tree(const struct shim *s, int sig)
{
	if (sig == SIGKILL)
		kill_cgroup(s->opt);
	if (s->opt->pidns) {
		/* init forwards SIGTERM to its namespace; SIGKILL of init tears the namespace down. */
		if (!s->job_ended)
			kill(s->child, sig);
	} else {
		/* After the job is reaped its pid could be recycled, so no group kill then. */
		if (!s->job_ended)
			kill(-s->child, sig);
		signal_descendants(getpid(), sig, 0);
	}
	signal_cgroup_members(s->opt, sig);
}

/* Without --pidns nothing would kill what the job left behind. Each round SIGKILLs every
 * current descendant and then waits for one death; processes forked or reparented to us
 * meanwhile are caught by the next round. ECHILD means no descendants remain at all. */
void kill_leftovers(struct shim *s)
{
	for (;;) {
		signal_tree(s, SIGKILL);
		int status;
		pid_t pid = wait4(-1, &status, __WALL, NULL);
		if (pid < 0 && errno != EINTR)
			break;
	}
}

void begin_stop(struct shim *s, enum end_reason why, long long grace_ms)
{
	if (s->job_ended || s->stopping)
		return;
	s->stopping = true;
	if (s->reason == REASON_EXITED)
		s->reason = why;
	s->timeout_at = -1;
	signal_tree(s, SIGTERM);
	s->kill_at = monotonic_ms() + grace_ms;
}

void kill_now(struct shim *s)
{
	if (s->job_ended)
		return;
	s->stopping = true;
	if (s->reason == REASON_EXITED)
		s->reason = REASON_STOPPED;
	s->timeout_at = s->kill_at = -1;
	signal_tree(s, SIGKILL);
}
