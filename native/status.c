/*
 * What jobshim tells the server: the one-line start report on its stdout, then, once the job has
 * ended, DIR/status.json, written so that a reader sees either none or a complete one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job-directory.h"
#include "network.h"
#include "shim-util.h"
#include "status.h"

/* The single line the server reads from our stdout; afterwards stdout is /dev/null so a
 * dead server (EPIPE, already ignored) can never matter again. */
void report_to_server(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t)len > sizeof line - 2)
		len = sizeof line - 2;
	for (int i = 0; i < len; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[len++] = '\n';
	(void)write_all(STDOUT_FILENO, line, (size_t)len);
	redirect_to_dev_null(STDOUT_FILENO, O_WRONLY);
}

static void json_string(char *out, size_t len, const char *text)
{
	size_t o = 0;
	if (!text) {
		snprintf(out, len, "null");
		return;
	}
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p && o + 8 < len; p++) {
		if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(out + o, len - o, "\\%c", *p);
		else if (*p < 0x20)
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o++] = '"';
	out[o] = '\0';
}

static long long timeval_ms(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int format_status(const struct shim *s, const char *error, char *out, size_t len)
{
	static const char *const reasons[] = {
		[REASON_EXITED] = "exited",
		[REASON_STOPPED] = "stopped",
		[REASON_TIMEDOUT] = "timedout",
		[REASON_FAILED] = "failed",
	};
	char exit_code[16] = "null", signal_json[40] = "null", started[24] = "null", sig[24];
	char error_json[2048], network[96] = "";

	if (s->reason != REASON_FAILED && WIFEXITED(s->job_status))
		snprintf(exit_code, sizeof exit_code, "%d", WEXITSTATUS(s->job_status));
	if (s->reason != REASON_FAILED && WIFSIGNALED(s->job_status))
		snprintf(signal_json, sizeof signal_json, "\"%s\"",
			 signal_name(WTERMSIG(s->job_status), sig, sizeof sig));
	if (s->started_at_ms >= 0)
		snprintf(started, sizeof started, "%lld", s->started_at_ms);
	json_string(error_json, sizeof error_json, error);
	if (s->has_net_counters)
		snprintf(network, sizeof network, ",\"networkSentBytes\":%llu,\"networkReceivedBytes\":%llu",
			 s->net_sent_bytes, s->net_received_bytes);

	return snprintf(out, len,
			"{\"reason\":\"%s\",\"exitCode\":%s,\"signal\":%s,\"error\":%s,"
			"\"startedAt\":%s,\"endedAt\":%lld,\"outputBytes\":%llu,\"indexBytes\":%llu,"
			"\"outputTruncated\":%s,"
			"\"cpuUserMs\":%lld,\"cpuSystemMs\":%lld,\"maxRssKb\":%ld%s}\n",
			reasons[s->reason], exit_code, signal_json, error_json, started, s->ended_at_ms,
			s->output_bytes, s->index_bytes + s->times_bytes,
			s->output_truncated ? "true" : "false",
			timeval_ms(s->usage.ru_utime), timeval_ms(s->usage.ru_stime), s->usage.ru_maxrss,
			network);
}

/* tmp + rename: a reader sees either no status.json or a complete one. The file stays open
 * (*synced_later) so that sync_written_file can put it on the disk after the server has been told. */
static int write_file_atomically(const char *dir, const char *name, const char *data, size_t len,
				 int *synced_later)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp ||
	    snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || rename(tmp, final) < 0) {
		int saved = errno;
		close(fd);
		/* Nothing left behind: a leftover would stop the server removing the directory. */
		unlink(tmp);
		errno = saved;
		return -1;
	}
	*synced_later = fd;
	return 0;
}

/* fsync of the file and of its directory: now it survives a power loss too. */
static int sync_written_file(const char *dir, int fd)
{
	int rc = fsync(fd);
	close(fd);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -1;
	if (rc == 0)
		rc = fsync(dir_fd);
	close(dir_fd);
	return rc;
}

/* Writes status.json; its file stays open for finish_written to put on the disk. */
static int write_status(struct shim *s, const char *error)
{
	char json[4096];
	int status_fd = -1;
	int len = format_status(s, error, json, sizeof json);
	if (len < 0 || (size_t)len >= sizeof json ||
	    write_file_atomically(s->opt->dir, JOB_FILE_STATUS, json, (size_t)len, &status_fd) < 0)
		diag("writing status.json: %s", strerror(errno));
	return status_fd;
}

/* Adds nothing to the job's directory: the server may be removing it already. */
static noreturn void finish_written(struct shim *s, int status_fd, int exit_code)
{
	/* The server takes EOF on the events FIFO as "status.json is in place", and reads it from
	 * the kernel's cache at once: the job's end is not held up by the disk. The sync follows;
	 * only a power loss in these milliseconds could leave the end unrecorded (the job is then
	 * shown as lost). */
	close_fd(&s->events_fd);
	if (status_fd >= 0 && sync_written_file(s->opt->dir, status_fd) < 0)
		diag("syncing status.json: %s", strerror(errno));
	exit(exit_code);
}

noreturn void finish(struct shim *s, const char *error, int exit_code)
{
	network_read_counters(s);
	finish_written(s, write_status(s, error), exit_code);
}

noreturn void fail_start(struct shim *s, const char *message)
{
	s->reason = REASON_FAILED;
	s->ended_at_ms = epoch_ms();
	/* status.json before the report: a request whose command cannot run is refused and keeps
	 * no record, so once the server hears of the failure it removes the job's directory, and
	 * a status.json.tmp made after that broke the removal (ENOTEMPTY, a 500 for the request). */
	int status_fd = write_status(s, message);
	report_to_server("failed %s", message);
	finish_written(s, status_fd, 0);
}
