/*
 * jobshim's command line, and the job's environment, read from the file the server wrote
 * (--env-file) and removed at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "shim-util.h"

#define DEFAULT_GRACE_MS 5000

const char *parse_options(int argc, char **argv, struct options *o)
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
	o->volumes = calloc((size_t)argc, sizeof *o->volumes);
	if (!o->cgroup_procs || !o->binds || !o->volumes)
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
		if (strcmp(arg, "--ro-volume") == 0 || strcmp(arg, "--rw-volume") == 0) {
			if (i + 2 >= argc) {
				snprintf(error, sizeof error, "usage: %.64s SOURCE TARGET", arg);
				return error;
			}
			struct sandbox_bind *v = &o->volumes[o->volume_count++];
			v->source = argv[++i];
			v->target = argv[++i];
			v->writable = arg[2] == 'r' && arg[3] == 'w';
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
		else if (strcmp(arg, "--veth") == 0 && strlen(value) < 16)
			o->veth = value;
		else if (strcmp(arg, "--net-address") == 0)
			o->net_address = value;
		else if (strcmp(arg, "--net-gateway") == 0)
			o->net_gateway = value;
		else if (strcmp(arg, "--resolv-conf") == 0)
			o->resolv_conf = value;
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
	if (o->veth && (!o->netns || !o->net_address || !o->net_gateway))
		return "usage: --veth needs --netns, --net-address and --net-gateway";
	if (o->resolv_conf && !o->pidns)
		return "usage: --resolv-conf needs --pidns";
	return NULL;
}

#define MAX_ENV_FILE_BYTES (1024 * 1024)

/*
 * The job's environment: NUL-terminated NAME=VALUE entries in a file only root can read. It is
 * read once and removed, so the values (which may be secrets) do not stay on disk.
 */
const char *load_environment(struct options *o)
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
