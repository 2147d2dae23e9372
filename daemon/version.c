/*
 * brokerd -V: its version, then each library's as it runs and, where that
 * differs, as it was built against (a library upgraded under the binary
 * shows both).  libconfig reports no version at run time: its line is the
 * one built against.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <libconfig.h>
#ifdef HAVE_TLS
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#endif

#include "daemon/version.h"

static void
lib_line(FILE *f, const char *name, const char *running, const char *built)
{
	if (strcmp(running, built) == 0)
		fprintf(f, "%s %s\n", name, running);
	else
		fprintf(f, "%s %s (built with %s)\n", name, running, built);
}

void
version_print(FILE *f)
{
	fprintf(f, "brokerd %s\n", PACKAGE_VERSION);
	lib_line(f, "libevent", event_get_version(), LIBEVENT_VERSION);
	fprintf(f, "libconfig %d.%d.%d\n", LIBCONFIG_VER_MAJOR,
	    LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
#ifdef HAVE_TLS
	/* "OpenSSL 3.0.15 3 Sep 2024": the name is part of the text. */
	if (strcmp(OpenSSL_version(OPENSSL_VERSION), OPENSSL_VERSION_TEXT) == 0)
		fprintf(f, "%s\n", OPENSSL_VERSION_TEXT);
	else
		fprintf(f, "%s (built with %s)\n",
		    OpenSSL_version(OPENSSL_VERSION), OPENSSL_VERSION_TEXT);
#else
	fprintf(f, "TLS: not built in (configure --disable-tls)\n");
#endif
}
