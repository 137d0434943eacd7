/*
 * A job's egress network, made by the shim rather than by `ip` commands the server runs: every
 * exec costs this host 8-11 ms, while the kernel's own work (a veth pair, two addresses, a route)
 * takes about 1 ms. The job is cloned into a fresh network namespace (--netns); the shim holds
 * that namespace and creates the pair with one rtnetlink request, the job's end inside it as
 * eth0; the host's end gets the gateway address. The child, in the namespace, addresses eth0 and
 * routes through the gateway. Nothing here filters: the server's nftables table does, on the
 * host's side, where the job cannot reach it. The namespace, and the pair with it, goes when the
 * job's last process and the shim are gone, so nothing is left behind whatever dies first.
 */
#define _GNU_SOURCE
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim-util.h"

/* The job's end of the pair, in its own namespace. */
#define JOB_INTERFACE "eth0"
/* A point-to-point /31 (RFC 3021): the host's end and the job's, no address wasted. */
#define PAIR_NETMASK "255.255.255.254"

/* One rtnetlink request, built in place: a header, an ifinfomsg, then attributes. */
union request {
	struct nlmsghdr header;
	char bytes[512];
};

static struct rtattr *add_attribute(struct nlmsghdr *h, unsigned short type, const void *data,
				     size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void end_nest(struct nlmsghdr *h, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)nest);
}

/* RTM_NEWLINK for `host_name` of kind veth, its peer named eth0 in the namespace `netns_fd`. */
static int create_pair(const char *host_name, int netns_fd)
{
	union request r;
	memset(&r, 0, sizeof r);
	r.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.header.nlmsg_type = RTM_NEWLINK;
	r.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	((struct ifinfomsg *)NLMSG_DATA(&r.header))->ifi_family = AF_UNSPEC;
	add_attribute(&r.header, IFLA_IFNAME, host_name, strlen(host_name) + 1);
	struct rtattr *info = add_attribute(&r.header, IFLA_LINKINFO, NULL, 0);
	add_attribute(&r.header, IFLA_INFO_KIND, "veth", 4);
	struct rtattr *data = add_attribute(&r.header, IFLA_INFO_DATA, NULL, 0);
	struct rtattr *peer = add_attribute(&r.header, VETH_INFO_PEER, NULL, 0);
	/* The peer's own ifinfomsg comes first, then its attributes. */
	r.header.nlmsg_len += sizeof(struct ifinfomsg);
	add_attribute(&r.header, IFLA_IFNAME, JOB_INTERFACE, sizeof JOB_INTERFACE);
	add_attribute(&r.header, IFLA_NET_NS_FD, &netns_fd, sizeof netns_fd);
	end_nest(&r.header, peer);
	end_nest(&r.header, data);
	end_nest(&r.header, info);

	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int rc = -1;
	if (sendto(fd, &r, r.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0) {
		char reply[1024];
		ssize_t n = recv(fd, reply, sizeof reply, 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)reply;
		if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR) {
			int err = ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
			rc = err == 0 ? 0 : -1;
			errno = -err;
		} else if (n >= 0) {
			errno = EPROTO;
		}
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int set_ipv4(int fd, const char *name, unsigned long request, const char *address)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	struct sockaddr_in *in = (struct sockaddr_in *)&ifr.ifr_addr;
	in->sin_family = AF_INET;
	if (inet_pton(AF_INET, address, &in->sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	return ioctl(fd, request, &ifr);
}

static int set_up(int fd, const char *name)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

/* An interface that is only `address`/31 and up; with `gateway`, the default route via it. */
static int address_interface(const char *name, const char *address, const char *gateway,
			     const char **step)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = -1;
	if ((*step = "address", set_ipv4(fd, name, SIOCSIFADDR, address) < 0) ||
	    (*step = "netmask", set_ipv4(fd, name, SIOCSIFNETMASK, PAIR_NETMASK) < 0) ||
	    (*step = "link up", set_up(fd, name) < 0))
		goto out;
	if (gateway) {
		*step = "default route";
		struct rtentry route;
		memset(&route, 0, sizeof route);
		struct sockaddr_in *to = (struct sockaddr_in *)&route.rt_gateway;
		to->sin_family = AF_INET;
		((struct sockaddr_in *)&route.rt_dst)->sin_family = AF_INET;
		((struct sockaddr_in *)&route.rt_genmask)->sin_family = AF_INET;
		route.rt_flags = RTF_UP | RTF_GATEWAY;
		route.rt_dev = (char *)name;
		if (inet_pton(AF_INET, gateway, &to->sin_addr) != 1) {
			errno = EINVAL;
			goto out;
		}
		if (ioctl(fd, SIOCADDRT, &route) < 0)
			goto out;
	}
	rc = 0;
out:;
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* IPv6 is off in the job's namespace (and on the host's end): the job has no IPv6 route, not
 * even a link-local address to reach the host's end with. A kernel without IPv6 needs nothing. */
static int disable_ipv6(const char *interface)
{
	char path[128];
	snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", interface);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = write_all(fd, "1", 1);
	close(fd);
	return rc < 0 ? -1 : 0;
}

int network_attach(struct shim *s, pid_t child, char *error, size_t len)
{
	const struct options *o = s->opt;
	const char *step = "open its network namespace";
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)child);
	s->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->netns_fd < 0 || (step = "create the veth pair", create_pair(o->veth, s->netns_fd)) < 0 ||
	    (step = "disable IPv6", disable_ipv6(o->veth)) < 0 ||
	    address_interface(o->veth, o->net_gateway, NULL, &step) < 0) {
		snprintf(error, len, "network: %s: %s", step, strerror(errno));
		return -1;
	}
	return 0;
}

int network_configure_job_side(const struct options *o, const char **step)
{
	*step = "disable IPv6";
	if (disable_ipv6("all") < 0 || disable_ipv6("default") < 0)
		return -1;
	return address_interface(JOB_INTERFACE, o->net_address, o->net_gateway, step);
}

static unsigned long long read_counter(const char *interface, const char *name)
{
	char path[128], text[32];
	snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", interface, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	return strtoull(text, NULL, 10);
}

void network_read_counters(struct shim *s)
{
	if (!s->opt->veth || s->netns_fd < 0)
		return;
	/* The host's end: what it receives, the job sent. */
	s->net_sent_bytes = read_counter(s->opt->veth, "rx_bytes");
	s->net_received_bytes = read_counter(s->opt->veth, "tx_bytes");
	s->has_net_counters = true;
}
