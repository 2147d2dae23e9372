/* Helpers shared by the access control tests (test_access.c). */
#ifndef BROKERD_TEST_ACCESS_H
#define BROKERD_TEST_ACCESS_H

#include <stddef.h>

struct daemon;

/* The port of the listener "listening on ADDR:PORT (service)"; 0: none. */
int	listen_port(struct daemon *, const char *addr, const char *service);
/* A connection to [::1]:port; -1 on error. */
int	tcp6_connect(int port);
/* A connection from src to dst:port; -1 on error. */
int	tcp_connect_to(const char *src, const char *dst, int port);
/*
 * line sent from src to port over a new connection: the reply's code (0:
 * OK), -1 if none came, -2 if no connection; its text into text.  A
 * negative port is 127.0.0.5's rather than 127.0.0.1's.
 */
int	request_from(const char *src, int port, const char *line, char *text,
	    size_t size);

/* The parts of the test, each with daemons of its own. */
void	test_commands(void);
void	test_privileges(void);

#endif
