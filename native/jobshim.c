/*
 * jobshim: the per-job supervisor of the job worker. The server spawns one shim per job
 * (detached); the shim starts the job, appends its stdout/stderr to DIR/output.log (with a
 * chunk index, and the time of each millisecond's first chunk in output.times), obeys stop/kill commands from a control FIFO, and finally writes
 * DIR/status.json, so a job's outcome survives the server being killed and restarted.
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
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "job-directory.h"
#include "sandbox.h"

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
#define DEFAULT_GRACE_MS 5000
/* Bounds the fds and DIR buffers held open by the recursive /proc walk. Deeper processes
 * are still reached: the process group kill covers most, and the final SIGKILL sweep
 * repeats until the shim has no descendants left. */
#define MAX_WALK_DEPTH 64

struct options {
	const char *dir;
	const char *events_path;
	const char *control_path;
	const char *stdin_path; /* --stdin: a FIFO for the job's input; NULL for /dev/null */
	const char **cgroup_procs;
	int cgroup_count;
	/* cgroup v2: the job's cgroup, which its first process is born in (clone3 with
	 * CLONE_INTO_CGROUP) and which cgroup.kill empties; its cgroup namespace starts there. */
	const char *cgroup_dir;
	bool pidns, netns;
	bool tty; /* --tty: the job's stdin, stdout and stderr are one pseudo-terminal */
	/* --merge-stderr: the job's fd 2 is its stdout pipe, so what it writes to both reaches the
	 * log in the order it was written (two pipes read by one poll loop cannot keep it). */
	bool merge_stderr;
	unsigned short tty_rows, tty_cols;
	bool set_uid, set_gid;
	uid_t uid;
	gid_t gid;
	const char *cwd;
	long long timeout_ms; /* 0 = none */
	long long grace_ms;
	bool cap_output;               /* --max-output given: keep at most max_output bytes */
	unsigned long long max_output; /* log and index together; 0: the client's budget is spent */
	/* --min-free-disk: output stops for good once recording it would leave the data disk less
	 * free than this; 0 for no floor. */
	unsigned long long min_free_disk;
	const char *env_file;
	char **envp; /* the job's environment, read from env_file; never jobshim's own */
	bool sandbox;  /* a private root built on DIR (needs --pidns) */
	bool seccomp;  /* the system-call filter, installed last before exec */
	struct sandbox_bind *binds;
	int bind_count;
	unsigned long long tmpfs_bytes;
	const char *hostname;
	char **command;
};

enum end_reason { REASON_EXITED, REASON_STOPPED, REASON_TIMEDOUT, REASON_FAILED };

struct shim {
	const struct options *opt;
	int events_fd, control_fd, signal_fd, log_fd, idx_fd, times_fd;
	int stdout_fd, stderr_fd, status_fd; /* read ends */
	/* --stdin: the job's end (the shim's copy, closed once the job has it) and the writer
	 * the shim holds so that the job's input stays open between the server's writers. */
	int stdin_read_fd, stdin_hold_fd;
	/* --tty: the terminal's master end (output is read from a duplicate, stdout_fd), and input
	 * taken from the FIFO that the terminal has not accepted yet. */
	int tty_fd;
	char tty_input[4096];
	size_t tty_input_len, tty_input_off;
	/* The last byte typed in ended a line: one EOF character then ends the input (after a
	 * partial line, the first only hands the line over). */
	bool tty_at_line_start;
	pid_t child;                         /* clone child: the job, or init with --pidns */
	long long started_at_ms, ended_at_ms;
	long long timeout_at, kill_at; /* CLOCK_MONOTONIC ms, -1 = not armed */
	enum end_reason reason;
	bool stopping;
	bool job_ended;
	int job_status;
	struct rusage usage;
	unsigned long long output_bytes; /* of output.log */
	unsigned long long index_bytes;  /* of output.idx */
	unsigned long long times_bytes;  /* of output.times */
	long long last_time_ms;          /* the millisecond of the last time record; -1 for none */
	bool output_truncated;
	bool output_broken; /* a write to output.log/idx failed: drop the rest */
	/* With a disk floor: what may be recorded before the free space is looked at again. */
	unsigned long long disk_room;
	/* Why output stopped short of its cap (the disk's floor), for status.json's error. */
	char output_stopped[256];
	char control_line[256];
	size_t control_len;
	bool control_overflow;
};

/* Pipes between shim and clone child; [0] is the read end. */
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
	STAGE_FORK,
	STAGE_SETGROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_CWD,
	STAGE_NO_NEW_PRIVS,
	STAGE_SECCOMP,
	STAGE_EXEC,
};

static const char *const stage_names[] = {
	[STAGE_SETSID] = "setsid",
	[STAGE_STDIO] = "stdio",
	[STAGE_TTY] = "terminal",
	[STAGE_MOUNT_PRIVATE] = "make mounts private",
	[STAGE_MOUNT_PROC] = "mount /proc",
	[STAGE_SANDBOX] = "sandbox",
	[STAGE_LOOPBACK] = "bring up lo",
	[STAGE_FORK] = "fork",
	[STAGE_SETGROUPS] = "setgroups",
	[STAGE_SETGID] = "setgid",
	[STAGE_SETUID] = "setuid",
	[STAGE_CWD] = "cwd",
	[STAGE_NO_NEW_PRIVS] = "no_new_privs",
	[STAGE_SECCOMP] = "seccomp filter",
	[STAGE_EXEC] = "exec",
};

struct child_error {
	int stage;
	int err;
	char detail[64]; /* which step of a stage, where it has several */
};

/* ---------- small helpers ---------- */

static long long clock_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long monotonic_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static long long epoch_ms(void) { return clock_ms(CLOCK_REALTIME); }

static void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("jobshim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int write_all(int fd, const void *data, size_t len)
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
static ssize_t read_full(int fd, void *data, size_t len)
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

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int redirect_to_dev_null(int target, int flags)
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
static void sanitize_fds(void)
{
	close_range(3, ~0U, 0);
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			redirect_to_dev_null(fd, O_RDWR);
}

static bool parse_count(const char *text, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 0 || value > max)
		return false;
	*out = value;
	return true;
}

static const char *signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "SIG%d", sig);
	return buf;
}

/* ---------- start report and status.json ---------- */

/* The single line the server reads from our stdout; afterwards stdout is /dev/null so a
 * dead server (EPIPE, already ignored) can never matter again. */
static void report_to_server(const char *fmt, ...)
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
	char error_json[2048];

	if (s->reason != REASON_FAILED && WIFEXITED(s->job_status))
		snprintf(exit_code, sizeof exit_code, "%d", WEXITSTATUS(s->job_status));
	if (s->reason != REASON_FAILED && WIFSIGNALED(s->job_status))
		snprintf(signal_json, sizeof signal_json, "\"%s\"",
			 signal_name(WTERMSIG(s->job_status), sig, sizeof sig));
	if (s->started_at_ms >= 0)
		snprintf(started, sizeof started, "%lld", s->started_at_ms);
	json_string(error_json, sizeof error_json, error);

	return snprintf(out, len,
			"{\"reason\":\"%s\",\"exitCode\":%s,\"signal\":%s,\"error\":%s,"
			"\"startedAt\":%s,\"endedAt\":%lld,\"outputBytes\":%llu,\"indexBytes\":%llu,"
			"\"outputTruncated\":%s,"
			"\"cpuUserMs\":%lld,\"cpuSystemMs\":%lld,\"maxRssKb\":%ld}\n",
			reasons[s->reason], exit_code, signal_json, error_json, started, s->ended_at_ms,
			s->output_bytes, s->index_bytes + s->times_bytes,
			s->output_truncated ? "true" : "false",
			timeval_ms(s->usage.ru_utime), timeval_ms(s->usage.ru_stime), s->usage.ru_maxrss);
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

static noreturn void finish(struct shim *s, const char *error, int exit_code)
{
	char json[4096];
	int status_fd = -1;
	int len = format_status(s, error, json, sizeof json);
	if (len < 0 || (size_t)len >= sizeof json ||
	    write_file_atomically(s->opt->dir, JOB_FILE_STATUS, json, (size_t)len, &status_fd) < 0)
		diag("writing status.json: %s", strerror(errno));
	/* The server takes EOF on the events FIFO as "status.json is in place", and reads it from
	 * the kernel's cache at once: the job's end is not held up by the disk. The sync follows;
	 * only a power loss in these milliseconds could leave the end unrecorded (the job is then
	 * shown as lost). */
	close_fd(&s->events_fd);
	if (status_fd >= 0 && sync_written_file(s->opt->dir, status_fd) < 0)
		diag("syncing status.json: %s", strerror(errno));
	exit(exit_code);
}

static noreturn void fail_start(struct shim *s, const char *message)
{
	report_to_server("failed %s", message);
	s->reason = REASON_FAILED;
	s->ended_at_ms = epoch_ms();
	finish(s, message, 0);
}

/* ---------- signalling the job's tree ---------- */

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

/* Catches job processes that left our subtree some other way (or were placed in the
 * cgroup by someone else on the job's behalf). */
static void signal_cgroup_members(const struct options *o, int sig)
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
static void kill_cgroup(const struct options *o)
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

static void signal_tree(const struct shim *s, int sig)
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
static void kill_leftovers(struct shim *s)
{
	for (;;) {
		signal_tree(s, SIGKILL);
		int status;
		pid_t pid = wait4(-1, &status, __WALL, NULL);
		if (pid < 0 && errno != EINTR)
			break;
	}
}

/* ---------- child side (runs after clone, never returns) ---------- */

static noreturn void fail_child_at(int error_fd, enum stage stage, int err, const char *detail)
{
	struct child_error e = { .stage = stage, .err = err };
	if (detail)
		snprintf(e.detail, sizeof e.detail, "%s", detail);
	(void)write_all(error_fd, &e, sizeof e);
	_exit(127);
}

static noreturn void fail_child(int error_fd, enum stage stage, int err)
{
	fail_child_at(error_fd, stage, err, NULL);
}

static int bring_loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* SIG_IGN and the blocked mask survive exec: the shim's ignored SIGPIPE would break e.g.
 * `yes | head`, and its blocked SIGCHLD would confuse the job. SIGTERM: init's forwarder
 * must not run in the job between fork and exec. Every signal is reset, not only the shim's
 * own: whatever started the shim (glibc's posix_spawn ignores its internal real-time signals
 * in the child) must not decide what the job ignores. */
static void reset_signals(void)
{
	/* The kernel's sigaction, called directly: glibc's refuses its two internal signals (32 and
	 * 33), which are the ones posix_spawn leaves ignored. */
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask; /* the kernel's sigset_t: 64 signals on every architecture */
	} default_action = {.handler = SIG_DFL};
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &default_action, NULL, sizeof default_action.mask);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void drop_privileges(const struct options *o, int error_fd)
{
	if (!o->set_uid && !o->set_gid)
		return;
	/* Nothing the job execs may regain a capability, whatever its file says. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			fail_child(error_fd, STAGE_SETUID, errno);
	if (setgroups(0, NULL) < 0)
		fail_child(error_fd, STAGE_SETGROUPS, errno);
	if (o->set_gid && setgid(o->gid) < 0)
		fail_child(error_fd, STAGE_SETGID, errno);
	if (o->set_uid && setuid(o->uid) < 0)
		fail_child(error_fd, STAGE_SETUID, errno);
}

static int send_fd(int socket_fd, int fd)
{
	char byte = 't';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
	return sendmsg(socket_fd, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int receive_fd(int socket_fd)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	if (recvmsg(socket_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
		errno = EPROTO;
		return -1;
	}
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
	return fd;
}

/*
 * The job's terminal, allocated where the job lives: from the devpts instance it sees (the
 * sandbox's own, so it is /dev/pts/0 there and no host terminal is reachable). The job, already
 * a session leader, takes it as its controlling terminal on fds 0-2, owned by the job's user;
 * the master end goes to the shim, and the job keeps none of it.
 */
static int attach_terminal(const struct options *o, int console_fd)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -1;
	char name[64];
	struct winsize size = { .ws_row = o->tty_rows, .ws_col = o->tty_cols };
	int slave = -1, rc;
	if (unlockpt(master) < 0 || (rc = ptsname_r(master, name, sizeof name)) != 0 ||
	    ioctl(master, TIOCSWINSZ, &size) < 0 || (slave = open(name, O_RDWR | O_CLOEXEC)) < 0 ||
	    ioctl(slave, TIOCSCTTY, 0) < 0 ||
	    (o->set_uid && fchown(slave, o->uid, o->set_gid ? o->gid : (gid_t)-1) < 0) ||
	    send_fd(console_fd, master) < 0 || dup2(slave, STDIN_FILENO) < 0 ||
	    dup2(slave, STDOUT_FILENO) < 0 || dup2(slave, STDERR_FILENO) < 0) {
		int saved = errno;
		close(master);
		if (slave >= 0)
			close(slave);
		errno = saved;
		return -1;
	}
	close(master);
	close(console_fd);
	if (slave > STDERR_FILENO)
		close(slave);
	return 0;
}

static noreturn void exec_job(const struct options *o, const struct job_pipes *p)
{
	int error_fd = p->error[1];
	if (setsid() < 0)
		fail_child(error_fd, STAGE_SETSID, errno);
	if (o->tty) {
		if (attach_terminal(o, p->console[1]) < 0)
			fail_child(error_fd, STAGE_TTY, errno);
	} else {
		int in = p->stdin_read >= 0 ? dup2(p->stdin_read, STDIN_FILENO)
					    : redirect_to_dev_null(STDIN_FILENO, O_RDONLY);
		int err = o->merge_stderr ? p->out[1] : p->err[1];
		if (in < 0 || dup2(p->out[1], STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
			fail_child(error_fd, STAGE_STDIO, errno);
	}
	reset_signals();
	drop_privileges(o, error_fd);
	/* After dropping privileges, so the job user's permissions decide. */
	if (chdir(o->cwd) < 0)
		fail_child(error_fd, STAGE_CWD, errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail_child(error_fd, STAGE_NO_NEW_PRIVS, errno);
	if (o->seccomp) {
		int rc = sandbox_install_seccomp();
		if (rc < 0)
			fail_child(error_fd, STAGE_SECCOMP, -rc);
	}
	/*
	 * jobshim itself runs with an empty environment (a client's LD_PRELOAD must never reach a
	 * root process); the job's own is installed only now, so execvpe searches the job's PATH.
	 */
	environ = o->envp;
	execvpe(o->command[0], o->command, o->envp);
	fail_child(error_fd, STAGE_EXEC, errno);
}

static void forward_sigterm(int sig)
{
	int saved = errno;
	kill(-1, sig); /* from pid 1: every other process of the namespace */
	errno = saved;
}

static void enter_sandbox(const struct options *o, int error_fd)
{
	const struct sandbox_spec spec = {
		.staging = o->dir,
		.binds = o->binds,
		.bind_count = o->bind_count,
		.tmpfs_bytes = o->tmpfs_bytes,
		.uid = o->uid,
		.gid = o->gid,
		.hostname = o->hostname,
		.own_sysfs = o->netns,
		.own_cgroup = o->cgroup_dir != NULL,
	};
	const char *step = NULL;
	if (sandbox_enter(&spec, &step) < 0)
		fail_child_at(error_fd, STAGE_SANDBOX, errno, step);
}

static void setup_namespace(const struct options *o, int error_fd)
{
	if (o->sandbox) {
		enter_sandbox(o, error_fd);
		if (o->netns && bring_loopback_up() < 0)
			fail_child(error_fd, STAGE_LOOPBACK, errno);
		return;
	}
	/* Without this the /proc mount below would propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail_child(error_fd, STAGE_MOUNT_PRIVATE, errno);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail_child(error_fd, STAGE_MOUNT_PROC, errno);
	if (o->netns && bring_loopback_up() < 0)
		fail_child(error_fd, STAGE_LOOPBACK, errno);
}

static int wait_for_job(pid_t job)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, __WALL);
		if (pid == job)
			return status;
		if (pid < 0 && errno != EINTR)
			_exit(127);
	}
}

/* pid 1 of the job's namespaces. Its exit makes the kernel SIGKILL everything left in
 * the namespace, so the job tree can never outlive it. */
static noreturn void run_init(const struct options *o, const struct job_pipes *p)
{
	int error_fd = p->error[1];
	/* Our stdout is the server's start-report pipe; holding it would delay its EOF. */
	if (redirect_to_dev_null(STDIN_FILENO, O_RDONLY) < 0 ||
	    redirect_to_dev_null(STDOUT_FILENO, O_WRONLY) < 0 ||
	    redirect_to_dev_null(STDERR_FILENO, O_WRONLY) < 0)
		fail_child(error_fd, STAGE_STDIO, errno);
	if (setsid() < 0)
		fail_child(error_fd, STAGE_SETSID, errno);
	setup_namespace(o, error_fd);

	/* Blocked across fork: a SIGTERM arriving before the job exists stays pending and is
	 * forwarded once it does, instead of being forwarded to nobody. */
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward_sigterm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);

	pid_t job = fork();
	if (job < 0)
		fail_child(error_fd, STAGE_FORK, errno);
	if (job == 0)
		exec_job(o, p);

	/* Only the job may hold these now, so the shim sees EOF when the job tree is gone (and
	 * the server's writes to the job's input fail once the job no longer reads it). */
	if (p->stdin_read >= 0)
		close(p->stdin_read);
	if (p->console[1] >= 0)
		close(p->console[1]);
	close(p->error[1]);
	close(p->out[1]);
	close(p->err[1]);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	int status = wait_for_job(job);
	(void)write_all(p->status[1], &status, sizeof status);
	_exit(0);
}

/* Blocks until the shim has put us in our cgroups. EOF without the byte means the shim
 * died or gave up: running the job then would leave it unsupervised. */
static void wait_for_release(int sync_fd)
{
	char go;
	ssize_t n;
	do
		n = read(sync_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	close(sync_fd);
	if (n != 1)
		_exit(127);
}

static noreturn void run_child(const struct shim *s, const struct job_pipes *p)
{
	const struct options *o = s->opt;
	/* Holding the events FIFO would hide the shim's death from the server. */
	close(s->events_fd);
	close(s->control_fd);
	close(s->signal_fd);
	close(s->log_fd);
	close(s->idx_fd);
	close(s->times_fd);
	/* A writer held by the job's side would keep its own input from ever reaching EOF. */
	if (s->stdin_hold_fd >= 0)
		close(s->stdin_hold_fd);
	close(p->sync[1]);
	close(p->error[0]);
	close(p->out[0]);
	close(p->err[0]);
	if (p->console[0] >= 0)
		close(p->console[0]);
	/* With a terminal the shim reads the input FIFO; the job's side has no use for it. */
	if (o->tty && s->stdin_read_fd >= 0)
		close(s->stdin_read_fd);
	if (o->pidns) {
		close(p->status[0]);
		/* Before waiting for release, so there is no moment where a dead shim is missed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	}
	wait_for_release(p->sync[0]);
	if (o->pidns)
		run_init(o, p);
	if (o->netns && bring_loopback_up() < 0)
		fail_child(p->error[1], STAGE_LOOPBACK, errno);
	exec_job(o, p);
}

/* ---------- shim side: starting the job ---------- */

static int place_in_cgroups(const struct options *o, pid_t pid, char *error, size_t error_len)
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
static pid_t clone_job(const struct options *o, unsigned long long flags, bool *born_in_cgroup)
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

static void describe_child_error(const struct options *o, const struct child_error *e, char *out,
				 size_t len)
{
	/* In the words a shell uses: the server tells the client these as they are (a 422 naming the
	 * command, or a queued job's error), adding the PATH that was searched. */
	if (e->stage == STAGE_EXEC && e->err == ENOENT)
		snprintf(out, len, "command not found: %s", o->command[0]);
	else if (e->stage == STAGE_EXEC)
		snprintf(out, len, "cannot run %s: %s", o->command[0], strerror(e->err));
	else if (e->stage == STAGE_CWD)
		snprintf(out, len, "cannot run %s: cwd %s: %s", o->command[0], o->cwd,
			 strerror(e->err));
	else if (e->stage == STAGE_SANDBOX)
		snprintf(out, len, "sandbox: %.64s: %s", e->detail, strerror(e->err));
	else if (e->stage >= 0 && e->stage <= STAGE_EXEC)
		snprintf(out, len, "%s: %s", stage_names[e->stage], strerror(e->err));
	else
		snprintf(out, len, "child setup failed");
}

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

static void start_job(struct shim *s)
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

/* ---------- shim side: supervising ---------- */

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

static void copy_output(struct shim *s, int *fd, bool is_stderr)
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

static void begin_stop(struct shim *s, enum end_reason why, long long grace_ms)
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

static void kill_now(struct shim *s)
{
	if (s->job_ended)
		return;
	s->stopping = true;
	if (s->reason == REASON_EXITED)
		s->reason = REASON_STOPPED;
	s->timeout_at = s->kill_at = -1;
	signal_tree(s, SIGKILL);
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

/* Input for the terminal, as the terminal takes it: a full terminal leaves the FIFO unread. */
static void flush_terminal_input(struct shim *s)
{
	while (s->tty_input_off < s->tty_input_len) {
		ssize_t n = write(s->tty_fd, s->tty_input + s->tty_input_off,
				  s->tty_input_len - s->tty_input_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) /* EIO: the terminal is gone with the job; the input has no reader */
			break;
		s->tty_input_off += (size_t)n;
		char last = s->tty_input[s->tty_input_off - 1];
		s->tty_at_line_start = last == '\n' || last == '\r';
	}
	s->tty_input_len = s->tty_input_off = 0;
}

/* The end of a terminal's input is its EOF character (^D), as a person would type it: queued
 * like any input (the terminal may be full), twice after a partial line. */
static void end_terminal_input(struct shim *s)
{
	struct termios t;
	char eof = 4;
	if (tcgetattr(s->tty_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
		eof = (char)t.c_cc[VEOF];
	close_fd(&s->stdin_read_fd);
	s->tty_input_off = 0;
	s->tty_input_len = 0;
	if (!s->tty_at_line_start)
		s->tty_input[s->tty_input_len++] = eof;
	s->tty_input[s->tty_input_len++] = eof;
	flush_terminal_input(s);
}

static void read_terminal_input(struct shim *s)
{
	ssize_t n = read(s->stdin_read_fd, s->tty_input, sizeof s->tty_input);
	if (n < 0)
		return; /* EAGAIN: nothing yet */
	if (n == 0) { /* every writer gone, ours included: the input was ended */
		end_terminal_input(s);
		return;
	}
	s->tty_input_len = (size_t)n;
	s->tty_input_off = 0;
	flush_terminal_input(s);
}

static void resize_terminal(struct shim *s, const char *args)
{
	long long rows, cols;
	char rows_text[16], cols_text[16];
	if (s->tty_fd < 0 || sscanf(args, "%15s %15s", rows_text, cols_text) != 2 ||
	    !parse_count(rows_text, USHRT_MAX, &rows) || !parse_count(cols_text, USHRT_MAX, &cols))
		return;
	struct winsize size = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	if (ioctl(s->tty_fd, TIOCSWINSZ, &size) < 0)
		diag("resize terminal: %s", strerror(errno));
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

static void read_control(struct shim *s)
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

/* ---------- shim setup ---------- */

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

static int open_fifo(const char *path, int *out, char *error, size_t error_len)
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

/* The job's input FIFO: its read end for the job (blocking, as programs expect of stdin), and
 * a writer the shim holds until "close-stdin". Opening the reader first, non-blocking, lets the
 * writer's open succeed at once. */
static int open_stdin_fifo(struct shim *s, char *error, size_t error_len)
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

static void open_shim_files(struct shim *s)
{
	const struct options *o = s->opt;
	char error[PATH_MAX + 128];
	if (open_fifo(o->events_path, &s->events_fd, error, sizeof error) < 0 ||
	    open_fifo(o->control_path, &s->control_fd, error, sizeof error) < 0 ||
	    open_output(o->dir, JOB_FILE_OUTPUT_LOG, &s->log_fd, error, sizeof error) < 0 ||
	    open_output(o->dir, JOB_FILE_OUTPUT_INDEX, &s->idx_fd, error, sizeof error) < 0 ||
	    open_output(o->dir, JOB_FILE_OUTPUT_TIMES, &s->times_fd, error, sizeof error) < 0)
		fail_start(s, error);
	if (o->stdin_path && open_stdin_fifo(s, error, sizeof error) < 0)
		fail_start(s, error);
}

/* ---------- command line ---------- */

static const char *parse_options(int argc, char **argv, struct options *o)
{
	static char error[256];
	memset(o, 0, sizeof *o);
	o->cwd = "/";
	o->grace_ms = DEFAULT_GRACE_MS;
	o->tmpfs_bytes = 64ULL * 1024 * 1024;
	o->tty_rows = 24;
	o->tty_cols = 80;
	o->cgroup_procs = calloc((size_t)argc, sizeof *o->cgroup_procs);
	o->binds = calloc((size_t)argc, sizeof *o->binds);
	if (!o->cgroup_procs || !o->binds)
		return "out of memory";

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			o->command = argv + i + 1;
			break;
		}
		if (strcmp(arg, "--pidns") == 0) {
			o->pidns = true;
			continue;
		}
		if (strcmp(arg, "--netns") == 0) {
			o->netns = true;
			continue;
		}
		if (strcmp(arg, "--sandbox") == 0) {
			o->sandbox = true;
			continue;
		}
		if (strcmp(arg, "--seccomp") == 0) {
			o->seccomp = true;
			continue;
		}
		if (strcmp(arg, "--tty") == 0) {
			o->tty = true;
			continue;
		}
		if (strcmp(arg, "--merge-stderr") == 0) {
			o->merge_stderr = true;
			continue;
		}
		if (strcmp(arg, "--ro-bind") == 0 || strcmp(arg, "--rw-bind") == 0) {
			if (i + 2 >= argc) {
				snprintf(error, sizeof error, "usage: %.64s SOURCE TARGET", arg);
				return error;
			}
			struct sandbox_bind *b = &o->binds[o->bind_count++];
			b->source = argv[++i];
			b->target = argv[++i];
			b->writable = arg[2] == 'r' && arg[3] == 'w';
			continue;
		}
		if (i + 1 >= argc) {
			snprintf(error, sizeof error, "usage: %.64s needs a value", arg);
			return error;
		}
		const char *value = argv[++i];
		long long n = 0;
		bool numeric_ok = parse_count(value, LLONG_MAX / 2, &n);
		if (strcmp(arg, "--dir") == 0)
			o->dir = value;
		else if (strcmp(arg, "--events") == 0)
			o->events_path = value;
		else if (strcmp(arg, "--control") == 0)
			o->control_path = value;
		else if (strcmp(arg, "--stdin") == 0)
			o->stdin_path = value;
		else if (strcmp(arg, "--cgroup-procs") == 0)
			o->cgroup_procs[o->cgroup_count++] = value;
		else if (strcmp(arg, "--cgroup-dir") == 0)
			o->cgroup_dir = value;
		else if (strcmp(arg, "--cwd") == 0)
			o->cwd = value;
		else if (strcmp(arg, "--uid") == 0 && numeric_ok && n < UINT32_MAX) {
			o->set_uid = true;
			o->uid = (uid_t)n;
		} else if (strcmp(arg, "--gid") == 0 && numeric_ok && n < UINT32_MAX) {
			o->set_gid = true;
			o->gid = (gid_t)n;
		} else if (strcmp(arg, "--timeout") == 0 && numeric_ok)
			o->timeout_ms = n;
		else if (strcmp(arg, "--grace") == 0 && numeric_ok)
			o->grace_ms = n;
		else if (strcmp(arg, "--max-output") == 0 && numeric_ok)
		{
			o->cap_output = true;
			o->max_output = (unsigned long long)n;
		}
		else if (strcmp(arg, "--min-free-disk") == 0 && numeric_ok)
			o->min_free_disk = (unsigned long long)n;
		else if (strcmp(arg, "--env-file") == 0)
			o->env_file = value;
		else if (strcmp(arg, "--tmpfs-size") == 0 && numeric_ok && n > 0)
			o->tmpfs_bytes = (unsigned long long)n;
		else if (strcmp(arg, "--hostname") == 0)
			o->hostname = value;
		else if (strcmp(arg, "--tty-rows") == 0 && numeric_ok && n > 0 && n <= USHRT_MAX)
			o->tty_rows = (unsigned short)n;
		else if (strcmp(arg, "--tty-cols") == 0 && numeric_ok && n > 0 && n <= USHRT_MAX)
			o->tty_cols = (unsigned short)n;
		else {
			snprintf(error, sizeof error, "usage: bad option %.64s %.64s", arg, value);
			return error;
		}
	}
	if (!o->dir || !o->events_path || !o->control_path)
		return "usage: --dir, --events and --control are required";
	if (!o->command || !o->command[0])
		return "usage: missing -- COMMAND";
	if (o->sandbox && (!o->pidns || !o->set_uid || !o->set_gid))
		return "usage: --sandbox needs --pidns, --uid and --gid";
	return NULL;
}

#define MAX_ENV_FILE_BYTES (1024 * 1024)

/*
 * The job's environment: NUL-terminated NAME=VALUE entries in a file only root can read. It is
 * read once and removed, so the values (which may be secrets) do not stay on disk.
 */
static const char *load_environment(struct options *o)
{
	static char *empty[] = {NULL};
	o->envp = empty;
	if (!o->env_file)
		return NULL;
	int fd = open(o->env_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return "cannot open the environment file";
	char *data = malloc(MAX_ENV_FILE_BYTES + 1);
	size_t size = 0;
	ssize_t n = 0;
	while (data && size < MAX_ENV_FILE_BYTES &&
	       (n = read(fd, data + size, MAX_ENV_FILE_BYTES - size)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		size += (size_t)n;
	}
	close(fd);
	unlink(o->env_file);
	if (!data || n < 0)
		return "cannot read the environment file";
	if (size == MAX_ENV_FILE_BYTES)
		return "the environment file is too large";
	data[size] = '\0';
	size_t count = 0;
	for (size_t i = 0; i < size; i++)
		count += data[i] == '\0';
	char **envp = calloc(count + 1, sizeof *envp);
	if (!envp)
		return "out of memory";
	size_t k = 0;
	for (size_t i = 0; i < size && k < count; i += strlen(data + i) + 1)
		envp[k++] = data + i;
	o->envp = envp;
	return NULL;
}

int main(int argc, char **argv)
{
	struct options opt;
	struct shim s = {
		.opt = &opt,
		.events_fd = -1, .control_fd = -1, .signal_fd = -1, .log_fd = -1, .idx_fd = -1, .times_fd = -1,
		.stdout_fd = -1, .stderr_fd = -1, .status_fd = -1,
		.stdin_read_fd = -1, .stdin_hold_fd = -1, .tty_fd = -1, .tty_at_line_start = true,
		.started_at_ms = -1, .timeout_at = -1, .kill_at = -1, .last_time_ms = -1,
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
