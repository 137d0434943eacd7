/*
 * The job's private filesystem view: a memory-backed root holding the operator's read-only
 * binds (or an image's top-level entries), a fresh /proc with Docker's masked paths, its own
 * network namespace's /sys read-only, a minimal /dev, private writable tmpfs for /work, /tmp,
 * /var/tmp, /dev/shm and /run, and a private hostname. Everything the job can write is tmpfs,
 * so it is charged to the job's memory cgroup and vanishes with the job's mount namespace.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STEP(name)                                                                                 \
	do {                                                                                       \
		*step = (name);                                                                    \
	} while (0)

/* /proc entries Docker hides or makes read-only (moby's oci/defaults.go). */
static const char *const masked_proc[] = {
	"asound",      "acpi",      "kcore",        "keys",  "latency_stats", "timer_list",
	"timer_stats", "sched_debug", "scsi",       NULL,
};
static const char *const readonly_proc[] = { "bus", "fs", "irq", "sys", "sysrq-trigger", NULL };
static const char *const masked_sys[] = { "firmware", "devices/virtual/powercap", NULL };
static const char *const device_nodes[] = { "null", "zero", "full", "random", "urandom", "tty",
					    NULL };

static int join_path(char *out, size_t len, const char *root, const char *path)
{
	while (*path == '/')
		path++;
	if (snprintf(out, len, "%s/%s", root, path) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* mkdir -p, each new directory 0755. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int make_parent_dirs(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *slash = strrchr(buf, '/');
	if (slash == NULL || slash == buf)
		return 0;
	*slash = '\0';
	return make_dirs(buf);
}

static int make_file(const char *path)
{
	if (make_parent_dirs(path) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

/* A bind mount takes the flags of its source until remounted; only a remount applies ours. */
static int bind(const char *source, const char *target, unsigned long flags)
{
	if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
}

static int mount_tmpfs(const char *target, unsigned long flags, const char *mode,
		       unsigned long long bytes, uid_t uid, gid_t gid)
{
	char data[128];
	snprintf(data, sizeof data, "mode=%s,size=%llu,uid=%u,gid=%u", mode, bytes, (unsigned)uid,
		 (unsigned)gid);
	if (make_dirs(target) < 0)
		return -1;
	return mount("tmpfs", target, "tmpfs", flags, data);
}

/* A host symlink such as Debian's /bin -> usr/bin is recreated as it is, not followed. */
static int place_bind(const char *root, const struct sandbox_bind *b)
{
	char target[PATH_MAX];
	if (join_path(target, sizeof target, root, b->target) < 0)
		return -1;
	struct stat st;
	if (lstat(b->source, &st) < 0)
		return errno == ENOENT ? 0 : -1; /* e.g. /lib32 on a host without it */
	if (S_ISLNK(st.st_mode)) {
		char link[PATH_MAX];
		ssize_t n = readlink(b->source, link, sizeof link - 1);
		if (n < 0)
			return -1;
		link[n] = '\0';
		if (make_parent_dirs(target) < 0)
			return -1;
		return symlink(link, target) < 0 && errno != EEXIST ? -1 : 0;
	}
	if ((S_ISDIR(st.st_mode) ? make_dirs(target) : make_file(target)) < 0)
		return -1;
	unsigned long flags = MS_NOSUID | MS_NODEV | (b->writable ? 0 : MS_RDONLY);
	return bind(b->source, target, flags);
}

static int mask_paths(const char *root, const char *const *paths)
{
	for (int i = 0; paths[i]; i++) {
		char path[PATH_MAX];
		struct stat st;
		if (join_path(path, sizeof path, root, paths[i]) < 0)
			return -1;
		if (stat(path, &st) < 0)
			continue;
		int rc = S_ISDIR(st.st_mode)
				 ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0555")
				 : mount("/dev/null", path, NULL, MS_BIND, NULL);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int make_paths_readonly(const char *root, const char *const *paths)
{
	for (int i = 0; paths[i]; i++) {
		char path[PATH_MAX];
		if (join_path(path, sizeof path, root, paths[i]) < 0)
			return -1;
		if (access(path, F_OK) < 0)
			continue;
		if (bind(path, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
			return -1;
	}
	return 0;
}

static int mount_proc(const char *root)
{
	char path[PATH_MAX];
	if (join_path(path, sizeof path, root, "proc") < 0 || make_dirs(path) < 0)
		return -1;
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	if (mask_paths(path, masked_proc) < 0)
		return -1;
	return make_paths_readonly(path, readonly_proc);
}

static int mount_sys(const char *root)
{
	char path[PATH_MAX];
	if (join_path(path, sizeof path, root, "sys") < 0 || make_dirs(path) < 0)
		return -1;
	/* A fresh sysfs shows the job's own network namespace, and no cgroup filesystem. */
	if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	return mask_paths(path, masked_sys);
}

static int make_symlink(const char *root, const char *name, const char *to)
{
	char path[PATH_MAX];
	if (join_path(path, sizeof path, root, name) < 0)
		return -1;
	return symlink(to, path) < 0 && errno != EEXIST ? -1 : 0;
}

static int mount_dev(const char *root, const struct sandbox_spec *spec)
{
	char dev[PATH_MAX], path[PATH_MAX];
	if (join_path(dev, sizeof dev, root, "dev") < 0 ||
	    mount_tmpfs(dev, MS_NOSUID | MS_NOEXEC, "0755", 1024 * 1024, 0, 0) < 0)
		return -1;
	for (int i = 0; device_nodes[i]; i++) {
		char host[64];
		snprintf(host, sizeof host, "/dev/%s", device_nodes[i]);
		if (join_path(path, sizeof path, dev, device_nodes[i]) < 0 || make_file(path) < 0 ||
		    bind(host, path, MS_NOSUID | MS_NOEXEC) < 0)
			return -1;
	}
	/* Its own devpts instance: the host's terminals are not listed or reachable. */
	if (join_path(path, sizeof path, dev, "pts") < 0 || make_dirs(path) < 0 ||
	    mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return -1;
	if (make_symlink(dev, "ptmx", "pts/ptmx") < 0 ||
	    make_symlink(dev, "fd", "/proc/self/fd") < 0 ||
	    make_symlink(dev, "stdin", "/proc/self/fd/0") < 0 ||
	    make_symlink(dev, "stdout", "/proc/self/fd/1") < 0 ||
	    make_symlink(dev, "stderr", "/proc/self/fd/2") < 0)
		return -1;
	if (join_path(path, sizeof path, dev, "shm") < 0 ||
	    mount_tmpfs(path, MS_NOSUID | MS_NODEV, "1777", spec->tmpfs_bytes, 0, 0) < 0)
		return -1;
	return mount(NULL, dev, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL);
}

static int mount_writable(const char *root, const struct sandbox_spec *spec)
{
	static const struct {
		const char *path;
		const char *mode;
		bool owned_by_job;
	} dirs[] = {
		{ "tmp", "1777", false },
		{ "var/tmp", "1777", false },
		{ "run", "0755", true },
		{ "work", "0700", true },
	};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		char path[PATH_MAX];
		if (join_path(path, sizeof path, root, dirs[i].path) < 0)
			return -1;
		uid_t uid = dirs[i].owned_by_job ? spec->uid : 0;
		gid_t gid = dirs[i].owned_by_job ? spec->gid : 0;
		if (mount_tmpfs(path, MS_NOSUID | MS_NODEV, dirs[i].mode, spec->tmpfs_bytes, uid, gid) <
		    0) {
			/* An image whose /var is a read-only directory without tmp/ simply has none. */
			if (errno == EROFS && strcmp(dirs[i].path, "var/tmp") == 0)
				continue;
			return -1;
		}
	}
	return 0;
}

/*
 * The job's account has no line in the host's (or the image's) /etc/passwd; one is laid over
 * it so that `id -un`, `whoami` and $HOME lookups work. The source file is unlinked once bound:
 * the mount keeps it alive and nothing else shows it.
 */
static int overlay_account_file(const char *root, const char *name, const char *content)
{
	char target[PATH_MAX], source[PATH_MAX];
	struct stat st;
	if (join_path(target, sizeof target, root, name) < 0 ||
	    join_path(source, sizeof source, root, ".account") < 0)
		return -1;
	if (stat(target, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	int fd = open(source, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(content);
	ssize_t written = write(fd, content, len);
	close(fd);
	if (written != (ssize_t)len || mount(source, target, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
		    0)
		return -1;
	return unlink(source);
}

static int overlay_accounts(const char *root, const struct sandbox_spec *spec)
{
	char passwd[512], group[256];
	snprintf(passwd, sizeof passwd,
		 "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
		 "job:x:%u:%u:job:/work:/bin/sh\n",
		 (unsigned)spec->uid, (unsigned)spec->gid);
	snprintf(group, sizeof group, "root:x:0:\nnogroup:x:65534:\njob:x:%u:\n",
		 (unsigned)spec->gid);
	if (overlay_account_file(root, "etc/passwd", passwd) < 0)
		return -1;
	return overlay_account_file(root, "etc/group", group);
}

/* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only ours. */
static int switch_root(const char *root, const char **step)
{
	STEP("pivot_root");
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return -1;
	STEP("detach the host's root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -1;
	/* Read-only per mount, not per superblock: the unlinked account files would make a
	 * superblock remount fail with EBUSY. */
	STEP("make the root read-only");
	return mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

int sandbox_enter(const struct sandbox_spec *spec, const char **step)
{
	const char *root = spec->staging;
	STEP("make mounts private");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	STEP("mount the root tmpfs");
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return -1;
	STEP("bind host paths");
	for (int i = 0; i < spec->bind_count; i++)
		if (place_bind(root, &spec->binds[i]) < 0)
			return -1;
	STEP("mount /proc");
	if (mount_proc(root) < 0)
		return -1;
	STEP("mount /sys");
	if (spec->own_sysfs && mount_sys(root) < 0)
		return -1;
	STEP("mount /dev");
	if (mount_dev(root, spec) < 0)
		return -1;
	STEP("mount writable tmpfs");
	if (mount_writable(root, spec) < 0)
		return -1;
	STEP("write the job's account");
	if (overlay_accounts(root, spec) < 0)
		return -1;
	STEP("set the hostname");
	if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return -1;
	return switch_root(root, step);
}
