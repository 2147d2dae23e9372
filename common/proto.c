/* Broker protocol v1: incremental frame parser and small encoders. */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto.h"
#include "util.h"

enum { ST_LINE, ST_PAYLOAD, ST_ERROR };

void
proto_init(struct proto_parser *p, size_t max_line, size_t max_frame)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line;
	p->max_frame = max_frame;
	p->line = xmalloc(max_line + 2);
}

void
proto_free(struct proto_parser *p)
{
	free(p->line);
	p->line = NULL;
}

void
proto_reset(struct proto_parser *p)
{
	p->state = ST_LINE;
	p->linelen = 0;
	p->remaining = 0;
}

int
proto_in_frame(const struct proto_parser *p)
{
	return p->state == ST_PAYLOAD;
}

size_t
proto_frame_left(const struct proto_parser *p)
{
	return p->state == ST_PAYLOAD ? p->remaining : 0;
}

void
proto_skip(struct proto_parser *p, size_t n)
{
	if (p->state != ST_PAYLOAD)
		return;
	if (n > p->remaining)
		n = p->remaining;
	p->remaining -= n;
	if (p->remaining == 0)
		p->state = ST_LINE;
}

/* "DATA <digits>" → 1 with *n set; "DATA..." malformed → -1; else 0. */
static int
parse_data_header(const char *line, size_t len, size_t max, size_t *n)
{
	size_t	i, v = 0, d;

	if (len < 4 || strncasecmp(line, "DATA", 4) != 0)
		return 0;
	if (len == 4)
		return -1;
	if (line[4] != ' ')
		return 0;	/* "DATABASE" is some other verb */
	if (len == 5 || len > 5 + 10)
		return -1;
	for (i = 5; i < len; i++) {
		if (!isdigit((unsigned char)line[i]))
			return -1;
		d = (size_t)(line[i] - '0');
		/* Past max before it could wrap, whatever size_t holds. */
		if (v > max / 10 || d > max - v * 10)
			return -1;
		v = v * 10 + d;
	}
	*n = v;
	return 1;
}

size_t
proto_feed(struct proto_parser *p, const char *buf, size_t len,
    struct proto_event *ev)
{
	const char *nl;
	size_t	take, n;
	int	r;

	memset(ev, 0, sizeof(*ev));
	if (len == 0)
		return 0;
	switch (p->state) {
	case ST_ERROR:
		ev->kind = PROTO_NONE;
		return len;
	case ST_PAYLOAD:
		take = len < p->remaining ? len : p->remaining;
		p->remaining -= take;
		ev->kind = PROTO_DATA;
		ev->data = buf;
		ev->len = take;
		if (p->remaining == 0) {
			ev->frame_done = 1;
			p->state = ST_LINE;
		}
		return take;
	}

	nl = memchr(buf, '\n', len);
	take = nl != NULL ? (size_t)(nl - buf) : len;
	/* Allow one byte of slack for a CR before the LF. */
	if (p->linelen + take > p->max_line + 1) {
		p->state = ST_ERROR;
		ev->kind = PROTO_ERR_LONG;
		return len;
	}
	memcpy(p->line + p->linelen, buf, take);
	p->linelen += take;
	if (nl == NULL)
		return len;

	n = p->linelen;
	if (n > 0 && p->line[n - 1] == '\r')
		n--;
	p->linelen = 0;
	if (n > p->max_line) {
		p->state = ST_ERROR;
		ev->kind = PROTO_ERR_LONG;
		return take + 1;
	}
	p->line[n] = '\0';
	r = parse_data_header(p->line, n, p->max_frame, &p->remaining);
	if (r < 0) {
		p->state = ST_ERROR;
		ev->kind = PROTO_ERR_FRAME;
	} else if (r > 0) {
		if (p->remaining > 0)
			p->state = ST_PAYLOAD;
		else {
			/* An empty frame: report it so callers can count it. */
			ev->kind = PROTO_DATA;
			ev->data = buf + take + 1;
			ev->frame_done = 1;
		}
	} else {
		ev->kind = PROTO_LINE;
		ev->line = p->line;
		ev->len = n;
	}
	return take + 1;
}

size_t
proto_data_header(char buf[PROTO_DATA_HDR_MAX], size_t n)
{
	return (size_t)snprintf(buf, PROTO_DATA_HDR_MAX, "DATA %zu\n", n);
}

int
proto_parse_final(const char *line, const char **text)
{
	char	*end;
	long	 code;

	if (strncmp(line, "OK", 2) == 0 && (line[2] == '\0' || line[2] == ' ')) {
		*text = line[2] == ' ' ? line + 3 : line + 2;
		return 0;
	}
	if (strncmp(line, "ERR ", 4) != 0)
		return -1;
	code = strtol(line + 4, &end, 10);
	if (end == line + 4 || code < 100 || code > 999 ||
	    (*end != '\0' && *end != ' '))
		return -1;
	*text = *end == ' ' ? end + 1 : end;
	return (int)code;
}
