/*
 * The escaping of DF table fields on the wire (brokerd-protocol(7)): a
 * field holds no tab or line break, so \t, \n and \\ stand for a tab, a
 * newline and a backslash.  brokerd escapes, brokerctl unescapes.
 */
#ifndef BROKERD_DFTEXT_H
#define BROKERD_DFTEXT_H

#include <stddef.h>

/*
 * Writes s into dst with \t, \n and \\ escaped, as much as fits with room
 * left for a NUL, never half a pair; returns bytes written (no NUL).
 */
size_t	df_escape(char *dst, size_t size, const char *s);
/*
 * Undoes df_escape in place: \t, \n and \\ become their bytes; any other
 * backslash is kept as it is.  Returns the new length.
 */
size_t	df_unescape(char *s);

#endif
