/*
 * Debug mode's resource report (brokerd(8), DEBUG MODE): at exit, one
 * "resource report:" line for each thing still open, like Python's
 * ResourceWarning; "no resources left open" when there is none.
 */
#ifndef BROKERD_RESOURCE_H
#define BROKERD_RESOURCE_H

#include <event2/event.h>

/* At start-up: the fds open now (inherited, syslog's) are not ours. */
void	resource_baseline(void);
/* When the loop has ended: connections, children, pool jobs. */
void	resource_report_open(void);
/* Everything closed, the base not freed yet: events still registered. */
void	resource_report_events(struct event_base *);
/* At the very end: fds still open, and the summary. */
void	resource_report_end(void);

#endif
