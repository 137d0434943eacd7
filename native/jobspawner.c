/*
 * jobspawner: starts the job supervisors (jobshim) on the server's behalf. The server is a
 * Node.js process of 150 MB; forking it for every job cost 2-3 ms of page-table copying on its
 * event loop. This small process, started once by the server, spawns each jobshim with
 * posix_spawn (a vfork) and relays its one-line start report.
 *
 * Requests, on stdin: a 4-byte length in host byte order (little-endian: the build refuses other
 * hosts), then that many bytes of
 * NUL-terminated strings: the request's id, the supervisor's log file (which must exist: the
 * server creates it, so that a job whose log is missing is known never to have been started),
 * then the supervisor's argv, whose first element is the program.
 * Replies, on stdout, one line each:
 *   "<id> <report>"    the supervisor's start report ("started ..." or "failed ...")
 *   "<id>"             the supervisor closed its stdout without one
 *   "<id> ! <why>"     the supervisor could not be spawned
 * The supervisors run in their own sessions and outlive this process. It exits once the server
 * has closed its stdin (or died) and every supervisor it started has reported, so no start is
 * left without its answer, or the server is gone; until then it reaps the supervisors that end.
 * SIGINT, SIGHUP, SIGTERM and SIGQUIT are ignored: a Ctrl-C meant for the server must not drop
 * the starts in flight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* argv of a job is bounded by the kernel's ARG_MAX long before this. */
#define MAX_REQUEST (16 * 1024 * 1024)
#define MAX_ID 64
/* jobshim's report is at most 1023 bytes and a newline. */
#define MAX_REPORT 1100

struct pending {
	int fd; /* read end of the supervisor's stdout */
	char id[MAX_ID + 1];
	char report[MAX_REPORT];
	size_t length;
};

static struct pending *pending;
static size_t pending_count, pending_capacity;

static void fail(const char *what)
{
	fprintf(stderr, "jobspawner: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_all(const char *data, size_t length)
{
	while (length > 0) {
		ssize_t n = write(STDOUT_FILENO, data, length);
		if (n < 0 && errno == EINTR)
			continue;
		/* The server is gone: nobody is left to tell, and its supervisors run on. */
		if (n < 0)
			exit(0);
		data += n;
		length -= (size_t)n;
	}
}

static void reply(const char *id, const char *text)
{
	char line[MAX_ID + MAX_REPORT + 8];
	int length = text == NULL ? snprintf(line, sizeof line, "%s\n", id)
				  : snprintf(line, sizeof line, "%s %s\n", id, text);
	if (length < 0 || (size_t)length >= sizeof line)
		length = snprintf(line, sizeof line, "%s ! reply too long\n", id);
	write_all(line, (size_t)length);
}

static void reply_errno(const char *id, const char *what, int error)
{
	char text[256];
	snprintf(text, sizeof text, "! %s: %s", what, strerror(error));
	reply(id, text);
}

static void track(int fd, const char *id)
{
	if (pending_count == pending_capacity) {
		size_t capacity = pending_capacity == 0 ? 16 : pending_capacity * 2;
		struct pending *grown = realloc(pending, capacity * sizeof *grown);
		if (grown == NULL)
			fail("realloc");
		pending = grown;
		pending_capacity = capacity;
	}
	struct pending *p = &pending[pending_count++];
	p->fd = fd;
	snprintf(p->id, sizeof p->id, "%s", id);
	p->length = 0;
}

static void untrack(size_t index)
{
	close(pending[index].fd);
	pending[index] = pending[--pending_count];
}

/* The strings of one request, in place: fields[0] the id, [1] the log, [2..] argv. */
static size_t split_fields(char *body, size_t length, char **fields, size_t max_fields)
{
	size_t count = 0;
	size_t start = 0;
	for (size_t i = 0; i < length; i++) {
		if (body[i] != '\0')
			continue;
		if (count == max_fields)
			return 0;
		fields[count++] = body + start;
		start = i + 1;
	}
	/* The last string must be terminated; anything after it is a malformed request. */
	return start == length ? count : 0;
}

static void spawn_supervisor(char *body, size_t length)
{
	size_t max_fields = 0;
	for (size_t i = 0; i < length; i++)
		max_fields += body[i] == '\0';
	char **fields = calloc(max_fields + 1, sizeof *fields);
	if (fields == NULL)
		fail("calloc");
	size_t count = split_fields(body, length, fields, max_fields);
	if (count < 3 || strlen(fields[0]) == 0 || strlen(fields[0]) > MAX_ID ||
	    strchr(fields[0], ' ') != NULL) {
		fprintf(stderr, "jobspawner: malformed request\n");
		exit(2);
	}
	const char *id = fields[0];
	const char *log = fields[1];
	char **argv = fields + 2;
	fields[count] = NULL;

	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0) {
		reply_errno(id, "pipe", errno);
		free(fields);
		return;
	}
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attributes;
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attributes);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, report[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log, O_WRONLY | O_APPEND, 0);
	/* Its own session, as the server's detached spawn gave it; the signals this process
	 * blocks or ignores are its own business, not the supervisor's. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attributes, &none);
	posix_spawnattr_setsigdefault(&attributes, &all);
	posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						      POSIX_SPAWN_SETSIGDEF);
	char *empty_environment[] = {NULL};
	pid_t pid;
	int error = posix_spawn(&pid, argv[0], &actions, &attributes, argv, empty_environment);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attributes);
	close(report[1]);
	if (error != 0) {
		close(report[0]);
		reply_errno(id, "could not start the job supervisor", error);
	} else {
		track(report[0], id);
	}
	free(fields);
}

/* Relays the report once its line is complete, or the supervisor's silence at EOF. */
static void read_report(size_t index)
{
	struct pending *p = &pending[index];
	ssize_t n = read(p->fd, p->report + p->length, sizeof p->report - 1 - p->length);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		p->length += (size_t)n;
		p->report[p->length] = '\0';
		char *newline = memchr(p->report, '\n', p->length);
		if (newline == NULL && p->length < sizeof p->report - 1)
			return;
		if (newline != NULL)
			*newline = '\0';
		reply(p->id, p->report);
	} else {
		/* A last line without its newline is still the report. */
		reply(p->id, p->length > 0 ? p->report : NULL);
	}
	untrack(index);
}

static void reap_supervisors(int signal_fd)
{
	struct signalfd_siginfo info;
	while (read(signal_fd, &info, sizeof info) > 0) {
	}
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

/* Takes every whole request out of the buffer; returns false at the end of the input. */
static bool read_requests(char **buffer, size_t *length, size_t *capacity)
{
	if (*capacity - *length < 65536) {
		size_t grown_capacity = *capacity * 2;
		if (grown_capacity > MAX_REQUEST + 4 + 65536)
			grown_capacity = MAX_REQUEST + 4 + 65536;
		if (grown_capacity > *capacity) {
			char *grown = realloc(*buffer, grown_capacity);
			if (grown == NULL)
				fail("realloc");
			*buffer = grown;
			*capacity = grown_capacity;
		}
	}
	ssize_t n = read(STDIN_FILENO, *buffer + *length, *capacity - *length);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	*length += (size_t)n;
	size_t offset = 0;
	while (*length - offset >= 4) {
		uint32_t size;
		memcpy(&size, *buffer + offset, sizeof size);
		if (size > MAX_REQUEST) {
			fprintf(stderr, "jobspawner: request of %u bytes\n", size);
			exit(2);
		}
		if (*length - offset - 4 < size)
			break;
		spawn_supervisor(*buffer + offset + 4, size);
		offset += 4 + size;
	}
	memmove(*buffer, *buffer + offset, *length - offset);
	*length -= offset;
	return true;
}

int main(void)
{
	/* Nothing but the pipes and stderr is ours to keep, or to hand down. */
	close_range(3, ~0U, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigset_t child;
	sigemptyset(&child);
	sigaddset(&child, SIGCHLD);
	sigprocmask(SIG_BLOCK, &child, NULL);
	int signal_fd = signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0)
		fail("signalfd");

	size_t capacity = 256 * 1024, length = 0;
	char *buffer = malloc(capacity);
	if (buffer == NULL)
		fail("malloc");
	struct pollfd *polled = NULL;
	size_t polled_capacity = 0;
	bool requests_open = true;
	while (requests_open || pending_count > 0) {
		size_t needed = pending_count + 2;
		if (needed > polled_capacity) {
			polled_capacity = needed * 2;
			polled = realloc(polled, polled_capacity * sizeof *polled);
			if (polled == NULL)
				fail("realloc");
		}
		/* No more requests: stdin is left out (poll skips a negative fd), and stdout is watched
		 * instead, for the error that says nobody is left to read the reports. */
		polled[0] = requests_open ? (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN}
					  : (struct pollfd){.fd = STDOUT_FILENO, .events = 0};
		polled[1] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
		for (size_t i = 0; i < pending_count; i++)
			polled[i + 2] = (struct pollfd){.fd = pending[i].fd, .events = POLLIN};
		if (poll(polled, (nfds_t)needed, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll");
		}
		if (polled[1].revents != 0)
			reap_supervisors(signal_fd);
		/* Backwards: a finished report swaps the last entry into its place. */
		for (size_t i = needed - 2; i-- > 0;)
			if (polled[i + 2].revents != 0)
				read_report(i);
		if (!requests_open && polled[0].revents != 0)
			return 0;
		if (polled[0].revents != 0 && !read_requests(&buffer, &length, &capacity))
			requests_open = false;
	}
	return 0;
}
