/*
 * The job's system-call filter, modelled on Docker's default seccomp profile: what a container
 * without CAP_SYS_ADMIN may not do, a job may not do either. Denied calls fail with EPERM, so
 * programs see an ordinary refusal; clone3 fails with ENOSYS, as in Docker's profile, so glibc
 * falls back to clone, whose flags (unlike clone3's, which sit behind a pointer) can be checked.
 *
 * This is a build-time program: libseccomp compiles the rules once, at install, into the BPF
 * program it writes to stdout, which the build embeds in jobshim (native/seccomp-load.c).
 * Compiling them for every job cost about 1 ms of each job's start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Calls Docker's profile leaves out for a container without extra capabilities. */
static const char *const denied[] = {
	"acct", "add_key", "bpf", "chroot", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen",
	"fspick", "get_kernel_syms", "init_module", "io_uring_enter", "io_uring_register",
	"io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
	"lookup_dcookie", "mbind", "migrate_pages", "mount", "mount_setattr", "move_mount",
	"move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
	"open_tree_attr", "perf_event_open", "pidfd_getfd", "pivot_root", "process_madvise",
	"query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "set_mempolicy",
	"setdomainname", "sethostname", "setns", "settimeofday", "stime", "swapoff", "swapon",
	"syslog", "_sysctl", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat",
	"vhangup", "vm86", "vm86old",
};

/*
 * Calls Docker's profile allows that draw on a pool the whole host shares and no cgroup bounds:
 * every Linux AIO context counts against fs.aio-max-nr (65,536 by default), which one job took
 * whole with 16 io_setup calls, after which io_setup failed with EAGAIN for the host and for
 * every other job. Refused as io_uring is; glibc's POSIX AIO (aio_read and the rest) uses
 * threads, not these calls, and keeps working.
 */
static const char *const host_pool_calls[] = {
	"io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"io_setup", "io_submit",
};

/* vsock reaches the hypervisor's host side, which no network namespace covers. */
#define AF_VSOCK_FAMILY 40

/* Any of these in clone's flags would make a namespace: what CAP_SYS_ADMIN guards. */
static const unsigned long namespace_flags[] = {
	CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,    CLONE_NEWNET,
	CLONE_NEWUTS,  CLONE_NEWIPC, CLONE_NEWCGROUP,
};

static int deny_by_name(scmp_filter_ctx ctx, const char *name, int err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a call on this architecture */
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0);
}

static int build(scmp_filter_ctx ctx)
{
	int rc;
#if defined(__x86_64__)
	/* 32-bit and x32 programs keep working, under the same rules. */
	if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && rc != -EEXIST)
		return rc;
	if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && rc != -EEXIST)
		return rc;
#endif
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
		if ((rc = deny_by_name(ctx, denied[i], EPERM)) < 0)
			return rc;
	for (size_t i = 0; i < sizeof host_pool_calls / sizeof host_pool_calls[0]; i++)
		if ((rc = deny_by_name(ctx, host_pool_calls[i], EPERM)) < 0)
			return rc;
	if ((rc = deny_by_name(ctx, "clone3", ENOSYS)) < 0)
		return rc;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_VSOCK_FAMILY));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof namespace_flags / sizeof namespace_flags[0]; i++) {
		unsigned long flag = namespace_flags[i];
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int main(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (ctx == NULL) {
		fprintf(stderr, "seccomp_init failed\n");
		return 1;
	}
	int rc = build(ctx);
	if (rc == 0)
		rc = seccomp_export_bpf(ctx, STDOUT_FILENO);
	seccomp_release(ctx);
	if (rc < 0) {
		fprintf(stderr, "seccomp filter: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
