/*
 * jobshim: the per-job supervisor of the job worker. The server spawns one shim per job
 * (detached); the shim starts the job, appends its stdout/stderr to DIR/output.log (with a
 * chunk index, and the time of each millisecond's first chunk in output.times), obeys stop/kill
 * commands from a control FIFO, and finally writes DIR/status.json, so a job's outcome survives the server being killed and restarted.
 * With --stdin FIFO the job reads its standard input from a FIFO that the server writes to;
 * the shim holds a writer of its own, so the job sees EOF only when told ("close-stdin"),
 * not when a writer (or the server) goes away. With --tty the job runs on a pseudo-terminal it
 * allocates from the devpts it sees (its sandbox's own) and passes to the shim over a socket;
 * the shim copies the terminal's output to the log and the input FIFO into the terminal, and
 * sets its size when told ("resize ROWS COLS"). With --merge-stderr the job's stderr is its
 * stdout pipe: one stream, in the order the job wrote it.
 *
 * Process tree it builds:
 *   jobshim (own session, child subreaper)
 *     `-- job                     default: the clone child execs the command
 *     `-- init                    --pidns: pid 1 of new pid+mount(+net) namespaces,
 *           `-- job                reaps everything and reports the job's wait status
 * After the one-line start report the shim talks to the server only through files and FIFOs.
 *
 * This file is its main loop; each concern is a file of its own: options.c (the command line),
 * start.c and child.c (the two sides of a start), cgroup.c (placement in the job's cgroups),
 * output.c (recording output), control.c (the FIFOs and their commands), terminal.c (--tty),
 * job-tree.c (signalling the job's processes), network.c (--veth: an egress job's link),
 * status.c (the start report and status.json), shim-util.c (small helpers); sandbox.c builds the
 * private sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "control.h"
#include "job-tree.h"
#include "options.h"
#include "output.h"
#include "shim-util.h"
#include "start.h"
#include "status.h"
#include "terminal.h"

static void on_job_reaped(struct shim *s, int status, const struct rusage *usage)
{
	s->usage = *usage;
	s->ended_at_ms = epoch_ms();
	s->job_status = status;
	if (s->opt->pidns) {
		/* Missing if init itself was killed (e.g. by a stop's SIGKILL): then init's own
		 * status stands in for the job's. */
		int job_status;
		if (read(s->status_fd, &job_status, sizeof job_status) == (ssize_t)sizeof job_status)
			s->job_status = job_status;
	}
	s->job_ended = true;
	s->timeout_at = s->kill_at = -1;
	if (!s->opt->pidns)
		kill_leftovers(s);
}

static void reap_children(struct shim *s)
{
	struct signalfd_siginfo info;
	while (read(s->signal_fd, &info, sizeof info) == (ssize_t)sizeof info)
		;
	for (;;) {
		int status;
		struct rusage usage;
		pid_t pid = wait4(-1, &status, WNOHANG | __WALL, &usage);
		if (pid <= 0)
			break;
		if (pid == s->child && !s->job_ended)
			on_job_reaped(s, status, &usage);
	}
}

static void fire_deadlines(struct shim *s)
{
	long long now = monotonic_ms();
	if (s->timeout_at >= 0 && now >= s->timeout_at)
		begin_stop(s, REASON_TIMEDOUT, s->opt->grace_ms);
	if (s->kill_at >= 0 && now >= s->kill_at) {
		s->kill_at = -1;
		signal_tree(s, SIGKILL);
	}
}

static int poll_timeout(const struct shim *s)
{
	long long next = s->timeout_at;
	if (s->kill_at >= 0 && (next < 0 || s->kill_at < next))
		next = s->kill_at;
	if (next < 0)
		return -1;
	long long wait = next - monotonic_ms();
	return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

/* Runs until the job has been reaped and both output pipes reached EOF, i.e. every
 * process that could still write output is gone. */
static void supervise(struct shim *s)
{
	while (!s->job_ended || s->stdout_fd >= 0 || s->stderr_fd >= 0) {
		struct pollfd fds[] = {
			{ .fd = s->signal_fd, .events = POLLIN },
			{ .fd = s->stdout_fd, .events = POLLIN },
			{ .fd = s->stderr_fd, .events = POLLIN },
			{ .fd = s->job_ended ? -1 : s->control_fd, .events = POLLIN },
			/* With a terminal: the input FIFO while the terminal takes input, else the
			 * terminal, until it does. */
			{ .fd = s->tty_fd >= 0 && s->tty_input_len == 0 ? s->stdin_read_fd : -1,
			  .events = POLLIN },
			{ .fd = s->tty_input_len > 0 ? s->tty_fd : -1, .events = POLLOUT },
		};
		if (poll(fds, sizeof fds / sizeof fds[0], poll_timeout(s)) < 0) {
			if (errno == EINTR)
				continue;
			/* Supervision is impossible now: behave like a crashed shim (which the server
			 * must handle anyway) instead of writing a status we cannot vouch for. */
			diag("poll: %s", strerror(errno));
			signal_tree(s, SIGKILL);
			exit(1);
		}
		if (fds[0].revents)
			reap_children(s);
		if (fds[1].revents)
			copy_output(s, &s->stdout_fd, false);
		if (fds[2].revents)
			copy_output(s, &s->stderr_fd, true);
		if (fds[3].revents)
			read_control(s);
		if (fds[4].revents)
			read_terminal_input(s);
		if (fds[5].revents)
			flush_terminal_input(s);
		fire_deadlines(s);
	}
}

static void setup_shim_process(struct shim *s)
{
	/* The server's Ctrl-C or its death must not take the shim down with it. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (setsid() < 0 && errno != EPERM)
		diag("setsid: %s", strerror(errno));
	/* Orphans of the job (setsid + double fork) reparent to us, so the /proc walk and the
	 * final sweep can find them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		diag("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	s->signal_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0) {
		char message[128];
		snprintf(message, sizeof message, "signalfd: %s", strerror(errno));
		fail_start(s, message);
	}
}

static void open_shim_files(struct shim *s)
{
	const struct options *o = s->opt;
	char error[PATH_MAX + 128];
	if (open_fifo(o->events_path, &s->events_fd, error, sizeof error) < 0 ||
	    open_fifo(o->control_path, &s->control_fd, error, sizeof error) < 0 ||
	    open_output_files(s, error, sizeof error) < 0)
		fail_start(s, error);
	if (o->stdin_path && open_stdin_fifo(s, error, sizeof error) < 0)
		fail_start(s, error);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct shim s = {
		.opt = &opt,
		.events_fd = -1, .control_fd = -1, .signal_fd = -1, .log_fd = -1, .idx_fd = -1, .times_fd = -1,
		.stdout_fd = -1, .stderr_fd = -1, .status_fd = -1,
		.stdin_read_fd = -1, .stdin_hold_fd = -1, .tty_fd = -1, .tty_at_line_start = true,
		.started_at_ms = -1, .timeout_at = -1, .kill_at = -1, .last_time_ms = -1, .netns_fd = -1,
	};

	sanitize_fds();
	const char *usage_error = parse_options(argc, argv, &opt);
	if (!usage_error)
		usage_error = load_environment(&opt);
	if (usage_error) {
		diag("%s", usage_error);
		report_to_server("failed %s", usage_error);
		if (!opt.dir)
			return 2;
		s.reason = REASON_FAILED;
		s.ended_at_ms = epoch_ms();
		finish(&s, usage_error, 2);
	}
	setup_shim_process(&s);
	open_shim_files(&s);
	start_job(&s);
	supervise(&s);
	finish(&s, s.output_stopped[0] != '\0' ? s.output_stopped : NULL, 0);
}
