/*
 * The server's ways in once the job runs: the FIFOs jobshim makes in the job directory, the
 * commands read from the control FIFO (stop, kill, close-stdin, resize) and the job's input FIFO
 * (--stdin), which the shim holds open until it is told the input has ended.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "job-tree.h"
#include "shim-util.h"
#include "terminal.h"

int open_fifo(const char *path, int *out, char *error, size_t error_len)
{
	/* The shim makes its own FIFOs: Node has no mkfifo, and the server only opens them after
	 * the start report, by which time they exist. */
	if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
		snprintf(error, error_len, "mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISFIFO(st.st_mode)) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	if (fd < 0) {
		snprintf(error, error_len, "open %s: %s", path, strerror(errno));
		return -1;
	}
	*out = fd;
	return 0;
}

/* The job's input FIFO: its read end for the job (blocking, as programs expect of stdin), and
 * a writer the shim holds until "close-stdin". Opening the reader first, non-blocking, lets the
 * writer's open succeed at once. */
int open_stdin_fifo(struct shim *s, char *error, size_t error_len)
{
	const char *path = s->opt->stdin_path;
	if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
		snprintf(error, error_len, "mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	errno = 0;
	s->stdin_read_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->stdin_read_fd < 0 || fstat(s->stdin_read_fd, &st) < 0 || !S_ISFIFO(st.st_mode) ||
	    (s->stdin_hold_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    (!s->opt->tty && fcntl(s->stdin_read_fd, F_SETFL, O_RDONLY) < 0)) {
		snprintf(error, error_len, "open %s: %s", path,
			 errno ? strerror(errno) : "not a FIFO");
		return -1;
	}
	return 0;
}

/* The end of the job's input: once the server's own writer is closed too, the job reads EOF.
 * The FIFO goes with it, so no later writer can add input after the end. */
static void close_stdin(struct shim *s)
{
	if (s->stdin_hold_fd < 0)
		return;
	close_fd(&s->stdin_hold_fd);
	if (unlink(s->opt->stdin_path) < 0 && errno != ENOENT)
		diag("unlink %s: %s", s->opt->stdin_path, strerror(errno));
}

static void handle_command(struct shim *s, char *line)
{
	size_t len = strlen(line);
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	if (strcmp(line, "kill") == 0) {
		kill_now(s);
	} else if (strncmp(line, "stop", 4) == 0 && (line[4] == '\0' || line[4] == ' ')) {
		long long grace = s->opt->grace_ms;
		if (line[4] == ' ' && !parse_count(line + 5, LLONG_MAX / 2, &grace))
			grace = s->opt->grace_ms;
		begin_stop(s, REASON_STOPPED, grace);
	} else if (strcmp(line, "close-stdin") == 0) {
		close_stdin(s);
	} else if (strncmp(line, "resize ", 7) == 0) {
		resize_terminal(s, line + 7);
	}
}

void read_control(struct shim *s)
{
	char buf[512];
	ssize_t n;
	/* Opened O_RDWR, so this never sees EOF: it ends on EAGAIN. */
	while ((n = read(s->control_fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				s->control_line[s->control_len] = '\0';
				if (!s->control_overflow)
					handle_command(s, s->control_line);
				s->control_len = 0;
				s->control_overflow = false;
			} else if (s->control_len + 1 < sizeof s->control_line) {
				s->control_line[s->control_len++] = buf[i];
			} else {
				s->control_overflow = true;
			}
		}
	}
}
