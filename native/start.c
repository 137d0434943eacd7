/*
 * Starting the job: the pipes between the shim and the clone child, the clone itself into the
 * job's namespaces and cgroups, the child's release once it is in place, and the start report
 * once it has exec'd (or the failure it sent instead).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "child.h"
#include "network.h"
#include "shim-util.h"
#include "start.h"
#include "status.h"
#include "terminal.h"

static void reap_failed_child(struct shim *s)
{
	int status;
	while (wait4(s->child, &status, __WALL, &s->usage) < 0 && errno == EINTR)
		;
}

static int open_pipes(struct job_pipes *p, bool with_status, bool with_console)
{
	int *all[] = { p->sync, p->error, p->out, p->err, p->status };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		all[i][0] = all[i][1] = -1;
	p->console[0] = p->console[1] = -1;
	if (with_console && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->console) < 0)
		return -1;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (all[i] == p->status && !with_status)
			continue;
		if (pipe2(all[i], O_CLOEXEC) < 0)
			return -1;
	}
	return 0;
}

/* The job sent its terminal's master end before it exec'd: output is read from it instead of
 * the pipes (which the job never used, and closed by exec'ing). */
static void take_terminal(struct shim *s, struct job_pipes *p)
{
	int master = receive_fd(p->console[0]);
	close_fd(&p->console[0]);
	int reader = master < 0 ? -1 : fcntl(master, F_DUPFD_CLOEXEC, 3);
	if (reader < 0) {
		char message[128];
		snprintf(message, sizeof message, "terminal: %s", strerror(errno));
		kill(s->child, SIGKILL);
		reap_failed_child(s);
		fail_start(s, message);
	}
	s->tty_fd = master;
	set_nonblocking(master);
	close_fd(&s->stdout_fd);
	close_fd(&s->stderr_fd);
	s->stdout_fd = reader;
}

void start_job(struct shim *s)
{
	const struct options *o = s->opt;
	struct job_pipes p;
	char message[PATH_MAX + 128];

	if (open_pipes(&p, o->pidns, o->tty) < 0) {
		snprintf(message, sizeof message, "pipe: %s", strerror(errno));
		fail_start(s, message);
	}
	/* With a terminal the shim reads the FIFO and types it into the terminal. */
	p.stdin_read = o->tty ? -1 : s->stdin_read_fd;
	unsigned long long flags = 0;
	if (o->pidns)
		flags |= CLONE_NEWPID | CLONE_NEWNS;
	if (o->netns)
		flags |= CLONE_NEWNET;
	if (o->sandbox)
		flags |= CLONE_NEWUTS | CLONE_NEWIPC;
	bool born_in_cgroup = false;
	pid_t pid = clone_job(o, flags, &born_in_cgroup);
	if (pid < 0) {
		snprintf(message, sizeof message, "clone: %s", strerror(errno));
		fail_start(s, message);
	}
	if (pid == 0)
		run_child(s, &p);

	s->child = pid;
	/* The job has its input now; a reader kept here would let the server write to a job
	 * that closed it, instead of failing with EPIPE. */
	if (!o->tty)
		close_fd(&s->stdin_read_fd);
	close_fd(&p.console[1]);
	close(p.sync[0]);
	close(p.error[1]);
	close(p.out[1]);
	close(p.err[1]);
	close_fd(&p.status[1]);
	s->stdout_fd = p.out[0];
	s->stderr_fd = p.err[0];
	s->status_fd = p.status[0];
	set_nonblocking(s->stdout_fd);
	set_nonblocking(s->stderr_fd);
	if (s->status_fd >= 0)
		set_nonblocking(s->status_fd);

	if (!born_in_cgroup && place_in_cgroups(o, pid, message, sizeof message) < 0) {
		kill(pid, SIGKILL);
		close(p.sync[1]);
		reap_failed_child(s);
		fail_start(s, message);
	}
	if (o->veth && network_attach(s, pid, message, sizeof message) < 0) {
		kill(pid, SIGKILL);
		close(p.sync[1]);
		reap_failed_child(s);
		fail_start(s, message);
	}
	(void)write_all(p.sync[1], "g", 1);
	close(p.sync[1]);

	struct child_error e;
	ssize_t n = read_full(p.error[0], &e, sizeof e);
	close(p.error[0]);
	if (n != 0) {
		if (n == (ssize_t)sizeof e)
			describe_child_error(o, &e, message, sizeof message);
		else
			snprintf(message, sizeof message, "child setup failed");
		reap_failed_child(s);
		fail_start(s, message);
	}

	if (o->tty)
		take_terminal(s, &p);

	s->started_at_ms = epoch_ms();
	if (o->timeout_ms > 0)
		s->timeout_at = monotonic_ms() + o->timeout_ms;
	report_to_server("started %d %lld", (int)pid, s->started_at_ms);
}
