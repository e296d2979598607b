/*
 * mqttnet.c - what both MQTT edges (the coordinator's broker.c and libbaton)
 * need of the network under paho: the broker URI split, Nagle's algorithm
 * turned off on paho's hidden socket, and OpenSSL's reason for a failed
 * handshake.
 *
 * paho 1.3.12 neither sets TCP_NODELAY nor exposes its socket, and a QoS 1
 * round trip costs ~88 ms with Nagle on (MQTT-NOTES). So after every
 * (re)connect we look through this process's descriptors for sockets whose
 * peer is the broker's address and port and set TCP_NODELAY on them. Setting
 * it on another client's socket to the same broker is harmless. Never
 * allocates beyond getaddrinfo; never prints.
 */
#include "mqttnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

baton_err mqttnet_split_uri(const char *uri, char *host, size_t host_cap, char *port, size_t port_cap,
                            bool *tls)
{
	const char *p = strstr(uri, "://"), *end, *colon;
	size_t hl;

	*tls = false;
	if (p != NULL) {
		size_t sl = (size_t)(p - uri);

		if ((sl == 3 && strncmp(uri, "ssl", 3) == 0) || (sl == 5 && strncmp(uri, "mqtts", 5) == 0))
			*tls = true;
		else if (!((sl == 3 && strncmp(uri, "tcp", 3) == 0) ||
		           (sl == 4 && strncmp(uri, "mqtt", 4) == 0)))
			return BATON_E_INVAL;
		p += 3;
	} else {
		p = uri;
	}
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return BATON_E_INVAL;
		p++;
		hl = (size_t)(end - p);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && end[1] != ':' && end[1] != '/')
			return BATON_E_INVAL;
	} else {
		colon = strchr(p, ':');
		end = strchr(p, '/');
		if (colon != NULL && end != NULL && end < colon)
			colon = NULL;
		hl = colon ? (size_t)(colon - p) : end ? (size_t)(end - p) : strlen(p);
	}
	if (hl == 0 || hl >= host_cap)
		return BATON_E_INVAL;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		const char *q = colon + 1;
		size_t pl = strspn(q, "0123456789");

		if (pl == 0 || pl >= port_cap || (q[pl] != '\0' && q[pl] != '/') || atoi(q) > 65535)
			return BATON_E_INVAL;
		memcpy(port, q, pl);
		port[pl] = '\0';
	} else {
		snprintf(port, port_cap, "%s", *tls ? "8883" : "1883");
	}
	return BATON_OK;
}

static bool same_peer(const struct sockaddr_storage *a, const struct addrinfo *ai)
{
	for (; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != a->ss_family)
			continue;
		if (a->ss_family == AF_INET) {
			const struct sockaddr_in *x = (const void *)a, *y = (const void *)ai->ai_addr;

			if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
				return true;
		} else if (a->ss_family == AF_INET6) {
			const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)ai->ai_addr;

			if (x->sin6_port == y->sin6_port &&
			    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0)
				return true;
		}
	}
	return false;
}

baton_err mqttnet_resolve(const char *uri, struct addrinfo **out)
{
	struct addrinfo hints;
	char host[256], port[16];
	bool tls;

	if (mqttnet_split_uri(uri, host, sizeof host, port, sizeof port, &tls) != BATON_OK)
		return BATON_E_INVAL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	return getaddrinfo(host, port, &hints, out) == 0 ? BATON_OK : BATON_E_IO;
}

int mqttnet_nodelay_peer(const struct addrinfo *peer, int *fds, size_t cap)
{
	struct dirent *de;
	DIR *dir = opendir("/proc/self/fd");
	int changed = 0;

	if (dir == NULL)
		return BATON_E_IO;
	while ((de = readdir(dir)) != NULL) {
		struct sockaddr_storage addr;
		socklen_t plen = sizeof addr;
		int fd = atoi(de->d_name), one = 1;

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(dir))
			continue;
		if (getpeername(fd, (struct sockaddr *)&addr, &plen) != 0 || !same_peer(&addr, peer))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
			continue;
		if (fds != NULL && (size_t)changed < cap)
			fds[changed] = fd;
		changed++;
	}
	closedir(dir);
	return changed;
}

int mqttnet_nodelay(const char *uri)
{
	struct addrinfo *ai = NULL;
	baton_err rc = mqttnet_resolve(uri, &ai);
	if (rc != BATON_OK)
		return rc;
	int changed = mqttnet_nodelay_peer(ai, NULL, 0);
	freeaddrinfo(ai);
	return changed;
}

void mqttnet_tls_reason(const char *str, size_t len, char *buf, size_t cap)
{
	/* "C0E6...:error:0A000086:SSL routines:func:certificate verify failed:file:line:":
	 * the reason is the fourth field after "error". */
	const char *why = strstr(str, ":error:");

	for (int field = 0; why != NULL && field < 4; field++)
		why = strchr(why + 1, ':');
	if (why == NULL || why >= str + len)
		why = str;
	else
		why++;
	snprintf(buf, cap, "%.*s", (int)strcspn(why, ":\n"), why);
}

/* One non-blocking connect to ai, waited for up to timeout_ms: the connected
 * socket (non-blocking), or -1. */
static int tcp_connect(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	bool ok = false;
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof err;
		ok = poll(&pf, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		     err == 0;
	}
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

int mqttnet_tcp_open(const char *uri, int timeout_ms)
{
	struct addrinfo *res = NULL;
	int fd = -1;
	if (mqttnet_resolve(uri, &res) != BATON_OK)
		return -1;
	for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = tcp_connect(ai, timeout_ms);
	freeaddrinfo(res);
	if (fd >= 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
			close(fd);
			fd = -1;
		}
	}
	return fd;
}

bool mqttnet_tcp_reachable(const char *uri, int timeout_ms)
{
	int fd = mqttnet_tcp_open(uri, timeout_ms);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}
