/* The escaping of DF table fields on the wire; see dftext.h. */
#include "autoconf.h"

#include <string.h>

#include "dftext.h"

size_t
df_escape(char *dst, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 2 < size; s++) {
		if (*s == '\t' || *s == '\n' || *s == '\\') {
			dst[o++] = '\\';
			dst[o++] = *s == '\t' ? 't' : *s == '\n' ? 'n' : '\\';
		} else
			dst[o++] = *s;
	}
	return o;
}

size_t
df_unescape(char *s)
{
	char	*d = s, *start = s;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0' && strchr("tn\\", s[1])) {
			s++;
			*d++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : '\\';
		} else
			*d++ = *s;
	}
	*d = '\0';
	return (size_t)(d - start);
}
