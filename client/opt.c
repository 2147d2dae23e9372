/*
 * brokerctl's options, shared by every file of the client, and its help
 * and usage-error text.  main() in brokerctl.c fills opt in.
 */
#include "autoconf.h"

#include <err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/client.h"

struct options opt = {
	.host = "localhost",
	.timeout_ms = TIMEOUT_DEFAULT,
};

#define SYNOPSIS	"usage: brokerctl [-hjqVv] [-c file] [-H host] " \
	"[-p port] [-S socket]\n                 [-t seconds] [--tls] " \
	"[--ca file] [--cert file [--key file]]\n                 " \
	"[--servername name] command [argument ...]\n"

#ifdef HAVE_TLS
#define TLS_NOTE	""
#else
#define TLS_NOTE	"  (this brokerctl was built without TLS: the " \
	"options above fail)\n"
#endif

void
brokerctl_usage(void)
{
	fputs(SYNOPSIS "options:\n"
	    "  -c file        the brokerd.conf to read for control.path, the "
	    "listeners'\n"
	    "                 ports and the command timeouts (default:\n"
	    "                 " CONFIG_FILE ")\n"
	    "  -H host        connect to host (default: localhost)\n"
	    "  -h, --help     print this help and exit\n"
	    "  -j             print df and stats as JSON\n"
	    "  -p port        TCP port (default: the first echo or broker "
	    "listener in\n"
	    "                 the config file, else " PORT_ECHO " for echo, "
	    PORT_BROKER " for the rest)\n"
	    "  -q             quiet: print only the data\n"
	    "  -S socket      talk to the control socket at this path; reload "
	    "and loglevel\n"
	    "                 always use it (default: control.path in the "
	    "config file,\n"
	    "                 else " CONTROL_SOCKET ")\n"
	    "  -t seconds     give up after this long without progress, 0: "
	    "never (default:\n"
	    "                 the command timeout in the config file, else "
	    "30, plus 5)\n"
	    "  -V, --version  print brokerctl's version and exit\n"
	    "  -v             verbose: report each step on standard error\n"
	    "TLS (the server's certificate and name are always verified; "
	    "each of these\noptions implies --tls):\n"
	    "  --tls          talk TLS to the TCP listener (default port: "
	    "the first\n"
	    "                 listener with a tls block in the config file, "
	    "else as -p)\n"
	    "  --ca file      trust the CAs in file, or in a hashed "
	    "directory (default:\n"
	    "                 the system's store)\n"
	    "  --cert file    present this client certificate (leaf first, "
	    "then its chain)\n"
	    "  --key file     the certificate's private key (default: in the "
	    "--cert file)\n"
	    "  --servername name  the name the server's certificate must "
	    "have, sent as\n"
	    "                 SNI (default: the -H host)\n"
	    TLS_NOTE
	    "commands:\n"
	    "  echo [msg ...]            echo service (stdin when no msg)\n"
	    "  df [--all] [--native]     free space per filesystem\n"
	    "  upper [text ...]          upper-case text (stdin when none)\n"
	    "  run [-n] name [text ...]  run a configured command\n"
	    "  stats                     daemon counters\n"
	    "  commands                  the commands run can run\n"
	    "  ping | version            liveness, daemon version\n"
	    "  reload                    reload the configuration\n"
	    "  loglevel level            set the log level\n"
	    "exit status: 0 ok, 1 the daemon answered ERR, 2 usage, "
	    "69 cannot connect,\n"
	    "70 protocol error or not the expected service, 75 timed out,\n"
	    "77 a certificate refused (the server's did not verify, or ours "
	    "was refused)\n",
	    stdout);
}

void
brokerctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputs(SYNOPSIS, stderr);
	exit(EXIT_USAGE);
}
