/*
 * The drain on SIGTERM and SIGINT, made for a load balancer in front
 * (brokerd(8), LOAD BALANCERS).  First the health check fails -- PING
 * answers ERR 503 draining -- while every listener stays open and every
 * request is served, for limits.drain_delay_s, so the balancer takes the
 * instance out of its pool.  Then the listeners close, after taking in
 * the connections waiting in their queues (closing would reset them);
 * running work, and the first request of every connection, is served;
 * the loop ends when nothing is left, or at limits.shutdown_timeout_s.
 * SIGINT skips the first part.
 */
#ifndef BROKERD_DRAIN_H
#define BROKERD_DRAIN_H

#include <stddef.h>

/* sig: SIGTERM or SIGINT; once, on the loop thread. */
void		drain_begin(int sig);
/* What is left until the drain's deadline, in ms (0 when past). */
long long	drain_left_ms(void);
/* systemd's STATUS= text while draining. */
void		drain_status(char *buf, size_t size);
/* At exit: frees the drain's events. */
void		drain_shutdown(void);

#endif
