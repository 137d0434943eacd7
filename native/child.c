/*
 * The child side of a start: what runs after clone and never returns. It waits until the shim has
 * placed it in its cgroups, builds its namespaces (or its sandbox), becomes pid 1 of them with
 * --pidns, drops privileges and execs the job; a failure on the way is sent to the shim as a
 * fixed-size record naming the stage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "child.h"
#include "network.h"
#include "shim-util.h"
#include "terminal.h"

static const char *const stage_names[] = {
	[STAGE_SETSID] = "setsid",
	[STAGE_STDIO] = "stdio",
	[STAGE_TTY] = "terminal",
	[STAGE_MOUNT_PRIVATE] = "make mounts private",
	[STAGE_MOUNT_PROC] = "mount /proc",
	[STAGE_SANDBOX] = "sandbox",
	[STAGE_LOOPBACK] = "bring up lo",
	[STAGE_NETWORK] = "network",
	[STAGE_RESOLV_CONF] = "bind /etc/resolv.conf",
	[STAGE_FORK] = "fork",
	[STAGE_SETGROUPS] = "setgroups",
	[STAGE_SETGID] = "setgid",
	[STAGE_SETUID] = "setuid",
	[STAGE_CWD] = "cwd",
	[STAGE_NO_NEW_PRIVS] = "no_new_privs",
	[STAGE_SECCOMP] = "seccomp filter",
	[STAGE_EXEC] = "exec",
};

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
		.volumes = o->volumes,
		.volume_count = o->volume_count,
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

/* --resolv-conf: a detached mount of the file, made before the sandbox's pivot_root hides the job
 * directory (a bind from a path, or an fd, of the old root fails once it is gone), and attached
 * once the job's mounts are in place; -1 without it. */
static int resolv_conf_fd = -1;

static int clone_resolv_conf(const char *path)
{
	resolv_conf_fd =
		open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (resolv_conf_fd < 0)
		return -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					       MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	return mount_setattr(resolv_conf_fd, "", AT_EMPTY_PATH, &attr, sizeof attr);
}

/* The resolvers egress names, over /etc/resolv.conf in the job's own mount namespace: the host's
 * file stays as it is, and the job cannot write the one it sees. */
static void bind_resolv_conf(int error_fd)
{
	if (resolv_conf_fd < 0)
		return;
	if (move_mount(resolv_conf_fd, "", AT_FDCWD, "/etc/resolv.conf",
		       MOVE_MOUNT_F_EMPTY_PATH) < 0)
		fail_child(error_fd, STAGE_RESOLV_CONF, errno);
	close(resolv_conf_fd);
	resolv_conf_fd = -1;
}

static void setup_namespace(const struct options *o, int error_fd)
{
	if (o->sandbox) {
		enter_sandbox(o, error_fd);
		if (o->netns && bring_loopback_up() < 0)
			fail_child(error_fd, STAGE_LOOPBACK, errno);
		bind_resolv_conf(error_fd);
		return;
	}
	/* Without this the /proc mount below would propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail_child(error_fd, STAGE_MOUNT_PRIVATE, errno);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail_child(error_fd, STAGE_MOUNT_PROC, errno);
	if (o->netns && bring_loopback_up() < 0)
		fail_child(error_fd, STAGE_LOOPBACK, errno);
	bind_resolv_conf(error_fd);
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

noreturn void run_child(const struct shim *s, const struct job_pipes *p)
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
	/* The shim has made the pair by now; /proc/sys/net here is already the job's namespace. */
	const char *step = NULL;
	if (o->veth && network_configure_job_side(o, &step) < 0)
		fail_child_at(p->error[1], STAGE_NETWORK, errno, step);
	if (o->resolv_conf && clone_resolv_conf(o->resolv_conf) < 0)
		fail_child(p->error[1], STAGE_RESOLV_CONF, errno);
	if (o->pidns)
		run_init(o, p);
	if (o->netns && bring_loopback_up() < 0)
		fail_child(p->error[1], STAGE_LOOPBACK, errno);
	exec_job(o, p);
}

void describe_child_error(const struct options *o, const struct child_error *e, char *out,
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
	else if (e->stage == STAGE_SANDBOX || e->stage == STAGE_NETWORK)
		snprintf(out, len, "%s: %.64s: %s", stage_names[e->stage], e->detail,
			 strerror(e->err));
	else if (e->stage >= 0 && e->stage <= STAGE_EXEC)
		snprintf(out, len, "%s: %s", stage_names[e->stage], strerror(e->err));
	else
		snprintf(out, len, "child setup failed");
}
