/*
 * Installs the job's system-call filter (native/seccomp-filter.c), compiled to BPF at build time
 * and embedded here as build/seccomp-program.h.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp-program.h"

int sandbox_install_seccomp(void)
{
	struct sock_fprog program = {
		.len = (unsigned short)(sizeof seccomp_program / sizeof seccomp_program[0]),
		.filter = (struct sock_filter *)seccomp_program,
	};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) < 0)
		return -errno;
	return 0;
}
