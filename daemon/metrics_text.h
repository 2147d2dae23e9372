/* The Prometheus text format of the statistics (metrics.c serves it). */
#ifndef BROKERD_METRICS_TEXT_H
#define BROKERD_METRICS_TEXT_H

#include <event2/buffer.h>

/* Content-Type of what metrics_text_render() writes. */
#define METRICS_TEXT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Every metric, appended to out; start_time_s: the daemon's, epoch. */
void	metrics_text_render(struct evbuffer *out, double start_time_s);

#endif
