/*
 * Broker protocol v1 framing, shared by brokerd and brokerctl.
 *
 * A stream is a sequence of LF-terminated lines (CR before LF dropped) and
 * "DATA <n>\n" headers each followed by n raw bytes.  The parser is
 * incremental: it accepts input split at any byte boundary and hands back
 * payload bytes as slices of the caller's buffer, so the caller can move
 * them without copying.
 */
#ifndef BROKERD_PROTO_H
#define BROKERD_PROTO_H

#include <stddef.h>

#define PROTO_MAX_FRAME		(1024 * 1024)
#define PROTO_DATA_HDR_MAX	32

enum proto_kind {
	PROTO_NONE,		/* bytes consumed, nothing complete yet */
	PROTO_LINE,		/* a whole line in ev.line / ev.len */
	PROTO_DATA,		/* ev.len payload bytes at ev.data */
	PROTO_ERR_LONG,		/* line longer than max_line */
	PROTO_ERR_FRAME		/* malformed DATA header or frame too long */
};

struct proto_event {
	enum proto_kind	 kind;
	const char	*line;	/* PROTO_LINE: NUL-terminated, no LF/CR */
	const char	*data;	/* PROTO_DATA: slice of the fed buffer */
	size_t		 len;
	int		 frame_done; /* PROTO_DATA: last bytes of the frame */
};

struct proto_parser {
	size_t	 max_line;
	size_t	 max_frame;
	size_t	 remaining;	/* payload bytes still due */
	size_t	 linelen;
	int	 state;
	char	*line;
};

void	 proto_init(struct proto_parser *, size_t max_line, size_t max_frame);
void	 proto_free(struct proto_parser *);
/* After an error the parser refuses everything until reset. */
void	 proto_reset(struct proto_parser *);
/* Returns how many bytes of buf were consumed (> 0 when len > 0). */
size_t	 proto_feed(struct proto_parser *, const char *buf, size_t len,
	    struct proto_event *ev);
/* 1 while a frame's payload is being read. */
int	 proto_in_frame(const struct proto_parser *);
/* Payload bytes of the current frame still due; 0 outside a frame. */
size_t	 proto_frame_left(const struct proto_parser *);
/*
 * n payload bytes of the current frame were moved without passing through
 * proto_feed (spliced from the socket); at most proto_frame_left() count.
 */
void	 proto_skip(struct proto_parser *, size_t n);

/* Writes "DATA <n>\n" into buf; returns its length. */
size_t	 proto_data_header(char buf[PROTO_DATA_HDR_MAX], size_t n);
/*
 * Parses "OK [text]" / "ERR <code> [text]".  Returns 0 for OK, the code for
 * ERR, -1 when the line is neither.  *text points into line.
 */
int	 proto_parse_final(const char *line, const char **text);

#endif
