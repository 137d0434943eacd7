/*
 * The job's private filesystem view: a memory-backed root holding the operator's read-only
 * binds (or an image's top-level entries), a fresh /proc with Docker's masked paths, its own
 * network namespace's /sys read-only, a minimal /dev, private writable tmpfs for /work, /tmp,
 * /var/tmp, /dev/shm and /run, and a private hostname. Everything the job can write is tmpfs,
 * so it is charged to the job's memory cgroup and vanishes with the job's mount namespace, but
 * for its client's volumes, bound over those tmpfs where the job asked, which outlive it.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
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
	"asound",      "acpi",        "interrupts", "kcore", "keys", "latency_stats",
	"timer_list",  "timer_stats", "sched_debug", "scsi", NULL,
};
static const char *const readonly_proc[] = { "bus", "fs", "irq", "sys", "sysrq-trigger", NULL };
static const char *const masked_sys[] = { "firmware", "devices/virtual/powercap", NULL };
static const char *const device_nodes[] = { "null", "zero", "full", "random", "urandom", "tty",
					    NULL };
/* The terminals one job may hold at once (its devpts instance's `max`). */
#define JOB_MAX_PTYS "512"

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

/*
 * A recursive bind, with `attrs` (MOUNT_ATTR_*) set on it and on every mount below it: a remount
 * would change the top mount alone, leaving a submount of a read-only path writable.
 */
static int bind(const char *source, const char *target, unsigned long long attrs)
{
	if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	struct mount_attr attr = { .attr_set = attrs };
	return mount_setattr(AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof attr);
}

/*
 * Fails with ELOOP if a component of `path` below `root` (the last included) is a symbolic
 * link. Until pivot_root, paths resolve against the host's root: a link in an image or a bound
 * host path (`var -> /etc`) would make the steps below create or mount on the host.
 */
static int refuse_symlinks(const char *root, const char *path)
{
	char buf[PATH_MAX];
	size_t root_len = strlen(root);
	if (join_path(buf, sizeof buf, root, path) < 0)
		return -1;
	for (char *p = buf + root_len + 1;; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		char saved = *p;
		*p = '\0';
		struct stat st;
		int rc = lstat(buf, &st);
		*p = saved;
		if (rc < 0)
			return errno == ENOENT ? 0 : -1; /* the rest is ours to create */
		if (S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			return -1;
		}
		if (end)
			return 0;
	}
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
	if (join_path(target, sizeof target, root, b->target) < 0 ||
	    refuse_symlinks(root, b->target) < 0)
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
	unsigned long long attrs =
		MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->writable ? 0 : MOUNT_ATTR_RDONLY);
	return bind(b->source, target, attrs);
}

/*
 * Opens `name` in the directory `dirfd` (O_PATH), failing with ELOOP if it is a symbolic link:
 * RESOLVE_NO_SYMLINKS refuses a link anywhere in the lookup, the last component included.
 */
static int open_no_symlink(int dirfd, const char *name)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH };
	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
}

/*
 * The directory `path` below `root`, made where missing (0755) and opened (O_PATH) one component
 * at a time from the root's fd, never following a symbolic link: a check by path and then a
 * mkdir or mount by path would follow one raced in between (another job of the client writing
 * the directory a volume's path goes through), as root on the host's tree, before pivot_root.
 */
static int open_beneath(const char *root, const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *save = NULL;
	for (char *name = strtok_r(buf, "/", &save); fd >= 0 && name != NULL;
	     name = strtok_r(NULL, "/", &save)) {
		/* mkdirat makes no directory through a link: a link there is EEXIST, then ELOOP. */
		int next = -1;
		if (mkdirat(fd, name, 0755) == 0 || errno == EEXIST)
			next = open_no_symlink(fd, name);
		int saved = errno;
		close(fd);
		errno = saved;
		fd = next;
	}
	return fd;
}

/*
 * A client's volume: the directory where the host mounts its filesystem, bound at a path the
 * server checked (absolute, normalised, none of the system paths, none under another volume).
 * The mount point is reached by fd from the root, a link on the way (an image's /data -> /etc,
 * or one raced in) refused rather than followed onto the host, and the volume is attached to
 * that fd (open_tree, move_mount), never to a path looked up again. No set-id programs or
 * devices on it, whatever a job or an upload left there.
 */
static int place_volume(const char *root, const struct sandbox_bind *v)
{
	int target = open_beneath(root, v->target);
	if (target < 0)
		return -1;
	int rc = -1;
	int tree = open_tree(AT_FDCWD, v->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree >= 0) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						       (v->writable ? 0 : MOUNT_ATTR_RDONLY) };
		if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0 &&
		    move_mount(tree, "", target, "",
			       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0)
			rc = 0;
	}
	int saved = errno;
	if (tree >= 0)
		close(tree);
	close(target);
	errno = saved;
	return rc;
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
				 : bind("/dev/null", path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
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
		if (bind(path, path,
			 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				 MOUNT_ATTR_NOEXEC) < 0)
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

static int mount_sys(const char *root, bool own_cgroup)
{
	char path[PATH_MAX];
	if (join_path(path, sizeof path, root, "sys") < 0 || make_dirs(path) < 0)
		return -1;
	/* A fresh sysfs shows the job's own network namespace, and no cgroup filesystem. */
	if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	if (mask_paths(path, masked_sys) < 0)
		return -1;
	/* In its own cgroup namespace a cgroup2 mount shows the job's cgroup alone, read-only. */
	if (!own_cgroup)
		return 0;
	char cgroup[PATH_MAX];
	if (join_path(cgroup, sizeof cgroup, path, "fs/cgroup") < 0)
		return -1;
	return mount("cgroup2", cgroup, "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     NULL);
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
	/* nodev on the tmpfs itself: only the device nodes bound below work. */
	if (join_path(dev, sizeof dev, root, "dev") < 0 ||
	    mount_tmpfs(dev, MS_NOSUID | MS_NOEXEC | MS_NODEV, "0755", 1024 * 1024, 0, 0) < 0)
		return -1;
	for (int i = 0; device_nodes[i]; i++) {
		char host[64];
		snprintf(host, sizeof host, "/dev/%s", device_nodes[i]);
		if (join_path(path, sizeof path, dev, device_nodes[i]) < 0 || make_file(path) < 0 ||
		    bind(host, path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) < 0)
			return -1;
	}
	/*
	 * Its own devpts instance: the host's terminals are not listed or reachable. Every instance
	 * but the host's draws on one pool (kernel.pty.max less kernel.pty.reserve, 3,072 by
	 * default), which one job once took whole; `max` bounds each job's share, then ENOSPC.
	 */
	if (join_path(path, sizeof path, dev, "pts") < 0 || make_dirs(path) < 0 ||
	    mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620,max=" JOB_MAX_PTYS) < 0)
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
	return mount(NULL, dev, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV,
		     NULL);
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
		/* An image's /var may be a link; then the job has no /var/tmp of ours. */
		if (refuse_symlinks(root, dirs[i].path) < 0) {
			if (errno == ELOOP && strcmp(dirs[i].path, "var/tmp") == 0)
				continue;
			return -1;
		}
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
 * The job's account has no line in the host's (or the image's) /etc/passwd; one is laid over it
 * so that `id -un`, `whoami` and $HOME lookups work. Its file lives in the staging tmpfs, outside
 * the new root, where no image entry can name it; the bind keeps it alive after pivot_root.
 */
static int overlay_account_file(const char *staging, const char *root, const char *name,
				const char *content)
{
	char target[PATH_MAX], source[PATH_MAX];
	struct stat st;
	if (join_path(target, sizeof target, root, name) < 0 ||
	    snprintf(source, sizeof source, "%s/%s", staging, strrchr(name, '/') + 1) >=
		    (int)sizeof source) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* No /etc/passwd (an image without one), or a link to somewhere else: nothing to lay over. */
	if (refuse_symlinks(root, name) < 0)
		return errno == ELOOP ? 0 : -1;
	if (stat(target, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	int fd = open(source, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(content);
	ssize_t written = write(fd, content, len);
	close(fd);
	if (written != (ssize_t)len)
		return -1;
	return bind(source, target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
}

static int overlay_accounts(const char *staging, const char *root,
			    const struct sandbox_spec *spec)
{
	char passwd[512], group[256];
	snprintf(passwd, sizeof passwd,
		 "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
		 "job:x:%u:%u:job:/work:/bin/sh\n",
		 (unsigned)spec->uid, (unsigned)spec->gid);
	snprintf(group, sizeof group, "root:x:0:\nnogroup:x:65534:\njob:x:%u:\n",
		 (unsigned)spec->gid);
	if (overlay_account_file(staging, root, "etc/passwd", passwd) < 0)
		return -1;
	return overlay_account_file(staging, root, "etc/group", group);
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
	/* The root is a bind of a directory of the staging tmpfs: read-only per mount. */
	STEP("make the root read-only");
	return mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

int sandbox_enter(const struct sandbox_spec *spec, const char **step)
{
	/* staging: a small tmpfs holding the new root and, outside it, the account files. */
	const char *staging = spec->staging;
	char root[PATH_MAX];
	if (snprintf(root, sizeof root, "%s/root", staging) >= (int)sizeof root) {
		errno = ENAMETOOLONG;
		STEP("staging path");
		return -1;
	}
	STEP("make mounts private");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	STEP("mount the root tmpfs");
	if (mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=2m") < 0 ||
	    mkdir(root, 0755) < 0 || mount(root, root, NULL, MS_BIND, NULL) < 0)
		return -1;
	STEP("bind host paths");
	for (int i = 0; i < spec->bind_count; i++)
		if (place_bind(root, &spec->binds[i]) < 0)
			return -1;
	STEP("mount /proc");
	if (mount_proc(root) < 0)
		return -1;
	STEP("mount /sys");
	if (spec->own_sysfs && mount_sys(root, spec->own_cgroup) < 0)
		return -1;
	STEP("mount /dev");
	if (mount_dev(root, spec) < 0)
		return -1;
	STEP("mount writable tmpfs");
	if (mount_writable(root, spec) < 0)
		return -1;
	STEP("mount volumes");
	for (int i = 0; i < spec->volume_count; i++)
		if (place_volume(root, &spec->volumes[i]) < 0)
			return -1;
	STEP("write the job's account");
	if (overlay_accounts(staging, root, spec) < 0)
		return -1;
	STEP("set the hostname");
	if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return -1;
	return switch_root(root, step);
}
