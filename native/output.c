/*
 * The job's output, recorded as it is read: its bytes in DIR/output.log, one index record per
 * chunk in output.idx (src/worker/output-stream.ts reads them) and the time of each millisecond's
 * first chunk in output.times, within the cap on their size (--max-output) and above the data
 * disk's floor (--min-free-disk).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "job-directory.h"
#include "output.h"
#include "shim-util.h"

#define CHUNK_SIZE (64 * 1024)
#define STDERR_BIT 0x80000000u
/* One index record per chunk of output.log (src/worker/output-stream.ts reads them). */
#define RECORD_BYTES 4
/* output.times: a little-endian uint64 offset in output.log where a chunk starts, then the
 * int64 nanoseconds since the epoch (CLOCK_REALTIME) at which it was read. At most one record a
 * millisecond: the chunks after a record, until the next, were read in its millisecond. */
#define TIME_RECORD_BYTES 16
/* With --min-free-disk, the disk's free space is looked at again after at most this much output
 * (log and index): an fstatvfs per MiB, whatever the size of the job's writes. */
#define DISK_CHECK_BYTES (1024 * 1024)

/* Bytes that may still be recorded within --max-output, which counts output.log, output.idx and
 * output.times together: all are disk the job's client holds, and a job of one-byte writes keeps
 * four bytes of index for each byte of output. */
static unsigned long long room_within_cap(const struct shim *s)
{
	if (!s->opt->cap_output)
		return ULLONG_MAX;
	unsigned long long stored = s->output_bytes + s->index_bytes + s->times_bytes;
	return s->opt->max_output > stored ? s->opt->max_output - stored : 0;
}

static void format_mib(char *out, size_t len, unsigned long long bytes)
{
	snprintf(out, len, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

/* Output stops for good at the floor: output recorded again after a gap would read as if
 * nothing were missing. */
static void stop_output_at_floor(struct shim *s, unsigned long long free_bytes)
{
	char free_text[32], floor_text[32];
	format_mib(free_text, sizeof free_text, free_bytes);
	format_mib(floor_text, sizeof floor_text, s->opt->min_free_disk);
	snprintf(s->output_stopped, sizeof s->output_stopped,
		 "output stopped after %llu bytes: the server's data disk had %s free, and no output "
		 "is recorded below its floor of %s",
		 s->output_bytes, free_text, floor_text);
	diag("%s", s->output_stopped);
}

/* Bytes that may still be recorded above the disk's floor. The free space is looked at (one
 * fstatvfs) only once the room found last time is used up, and that room is at most a MiB: a
 * job's writes, however small, cost a look per MiB. */
static unsigned long long room_above_floor(struct shim *s, unsigned long long wanted)
{
	unsigned long long floor = s->opt->min_free_disk;
	if (floor == 0)
		return ULLONG_MAX;
	if (s->output_stopped[0] != '\0')
		return 0;
	if (s->disk_room >= wanted)
		return s->disk_room;
	struct statvfs disk;
	if (fstatvfs(s->log_fd, &disk) < 0) {
		diag("fstatvfs of the output: %s", strerror(errno));
		s->disk_room = wanted; /* this chunk is kept; the next one looks again */
		return wanted;
	}
	unsigned long long free_bytes = (unsigned long long)disk.f_bavail * disk.f_frsize;
	/* Each of the three files may start a new block before the next look. */
	unsigned long long needed = floor + 3ULL * disk.f_frsize;
	unsigned long long above = free_bytes > needed ? free_bytes - needed : 0;
	s->disk_room = above < DISK_CHECK_BYTES ? above : DISK_CHECK_BYTES;
	if (s->disk_room < wanted)
		stop_output_at_floor(s, free_bytes);
	return s->disk_room;
}

/* Of `len` bytes read, how many are recorded: each chunk costs its bytes, its index record and
 * (`records` beyond the index's) a time record. */
static size_t bytes_to_keep(struct shim *s, size_t len, unsigned long long records)
{
	if (s->output_broken)
		return 0;
	unsigned long long room = room_within_cap(s);
	if (room <= records)
		return 0;
	unsigned long long wanted = len + records < room ? len + records : room;
	unsigned long long disk = room_above_floor(s, wanted);
	if (disk < room)
		room = disk;
	if (room <= records)
		return 0;
	room -= records;
	return len < room ? len : (size_t)room;
}

/* The time a chunk starting at output.log's current end was read, when its millisecond has no
 * record yet. Written before the chunk: a reader that sees a byte may trust its time. */
static int record_time(struct shim *s, struct timespec now)
{
	unsigned long long offset = s->output_bytes;
	long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	unsigned char le[TIME_RECORD_BYTES];
	for (int i = 0; i < 8; i++) {
		le[i] = (unsigned char)(offset >> (8 * i));
		le[8 + i] = (unsigned char)((unsigned long long)ns >> (8 * i));
	}
	if (write_all(s->times_fd, le, sizeof le) < 0)
		return -1;
	s->times_bytes += sizeof le;
	s->last_time_ms = ns / 1000000;
	return 0;
}

static void append_output(struct shim *s, const char *data, size_t len, bool is_stderr)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	bool timed = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 != s->last_time_ms;
	size_t keep = bytes_to_keep(s, len, RECORD_BYTES + (timed ? TIME_RECORD_BYTES : 0));
	if (keep < len)
		s->output_truncated = true;
	if (keep == 0)
		return;
	if (timed && record_time(s, now) < 0) {
		diag("writing output times: %s; dropping further output", strerror(errno));
		s->output_broken = true;
		s->output_truncated = true;
		return;
	}

	uint32_t record = (uint32_t)keep | (is_stderr ? STDERR_BIT : 0);
	unsigned char le[RECORD_BYTES] = { record & 0xff, (record >> 8) & 0xff,
					   (record >> 16) & 0xff, (unsigned char)(record >> 24) };
	/* Bytes first, then their index record: a reader that sees a record may trust it. */
	if (write_all(s->log_fd, data, keep) < 0 || write_all(s->idx_fd, le, sizeof le) < 0) {
		diag("writing output: %s; dropping further output", strerror(errno));
		s->output_broken = true;
		s->output_truncated = true;
		return;
	}
	s->output_bytes += keep;
	s->index_bytes += sizeof le;
	if (s->opt->min_free_disk > 0)
		s->disk_room -= keep + sizeof le + (timed ? TIME_RECORD_BYTES : 0);
	/* Only a hint; if the FIFO is full (EAGAIN) the server has unread hints already. */
	if (write(s->events_fd, "o", 1) < 0 && errno != EAGAIN)
		diag("events FIFO: %s", strerror(errno));
}

void copy_output(struct shim *s, int *fd, bool is_stderr)
{
	static char buf[CHUNK_SIZE];
	ssize_t n = read(*fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EIO: a terminal whose every slave end is closed, the end of its output. */
		if (n < 0 && errno != EIO)
			diag("reading job output: %s", strerror(errno));
		close_fd(fd);
		return;
	}
	append_output(s, buf, (size_t)n, is_stderr);
}

static int open_output(const char *dir, const char *name, int *out, char *error, size_t error_len)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		errno = ENAMETOOLONG;
	else if ((*out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0)
		return 0;
	snprintf(error, error_len, "open %s/%s: %s", dir, name, strerror(errno));
	return -1;
}

int open_output_files(struct shim *s, char *error, size_t error_len)
{
	const char *dir = s->opt->dir;
	if (open_output(dir, JOB_FILE_OUTPUT_LOG, &s->log_fd, error, error_len) < 0 ||
	    open_output(dir, JOB_FILE_OUTPUT_INDEX, &s->idx_fd, error, error_len) < 0 ||
	    open_output(dir, JOB_FILE_OUTPUT_TIMES, &s->times_fd, error, error_len) < 0)
		return -1;
	return 0;
}
