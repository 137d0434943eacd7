/*
 * The state jobshim's parts share: its options, as the command line gave them, and the shim's
 * own state while it supervises one job.
 */
#ifndef JOBWORKER_SHIM_H
#define JOBWORKER_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox.h"

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
	struct sandbox_bind *volumes; /* the client's volumes, mounted over the writable tmpfs */
	int volume_count;
	unsigned long long tmpfs_bytes;
	const char *hostname;
	/* --veth NAME: egress through a veth pair, NAME the host's end; the job's end is eth0 with
	 * --net-address, routed via the host's end, --net-gateway (a /31 between them). */
	const char *veth;
	const char *net_address, *net_gateway;
	/* --resolv-conf FILE: bound read-only over the job's /etc/resolv.conf (needs --pidns). */
	const char *resolv_conf;
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
	/* --veth: the job's network namespace, held so its pair (and counters) outlive the job. */
	int netns_fd;
	bool has_net_counters;
	unsigned long long net_sent_bytes, net_received_bytes;
};

#endif
