/*
 * A job's pseudo-terminal (--tty): allocated by the job from the devpts it sees and passed to the
 * shim over a socket; the shim types the input FIFO into it, ends the input with the terminal's
 * EOF character, and sets its size when told.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "shim-util.h"
#include "terminal.h"

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

int receive_fd(int socket_fd)
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
int attach_terminal(const struct options *o, int console_fd)
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

/* Input for the terminal, as the terminal takes it: a full terminal leaves the FIFO unread. */
void flush_terminal_input(struct shim *s)
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

void read_terminal_input(struct shim *s)
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

void resize_terminal(struct shim *s, const char *args)
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
