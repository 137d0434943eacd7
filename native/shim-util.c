/*
 * jobshim's small helpers: clocks, diagnostics, whole reads and writes, descriptors and the
 * parsing of counts. Nothing here knows about jobs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim-util.h"

static long long clock_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long monotonic_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
long long epoch_ms(void) { return clock_ms(CLOCK_REALTIME); }

void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("jobshim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns bytes read (< len only at EOF) or -1. */
ssize_t read_full(int fd, void *data, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)data + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int redirect_to_dev_null(int target, int flags)
{
	int fd = open("/dev/null", flags | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = dup2(fd, target);
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* Anything the server (or its ancestors) leaked to us would be held by the shim and init
 * long after the server is gone, keeping its pipes and sockets open, so it is closed. Then
 * 0..2 are made valid, so every fd the shim creates is >= 3 and dup2 onto 0..2 in the
 * child never clobbers a pipe end that is still needed. */
void sanitize_fds(void)
{
	close_range(3, ~0U, 0);
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			redirect_to_dev_null(fd, O_RDWR);
}

bool parse_count(const char *text, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 0 || value > max)
		return false;
	*out = value;
	return true;
}

const char *signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "SIG%d", sig);
	return buf;
}
