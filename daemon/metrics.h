/* The metrics service: GET /metrics over evhttp, Prometheus text format. */
#ifndef BROKERD_METRICS_H
#define BROKERD_METRICS_H

#include <event2/event.h>

/* Before the first listener is bound: takes the metrics listeners over. */
void	metrics_init(struct event_base *);
/* After every listener is closed. */
void	metrics_shutdown(void);

#endif
