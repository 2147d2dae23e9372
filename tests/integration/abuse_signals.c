/*
 * Abuse, signals: a thousand SIGHUP and SIGUSR1 in bursts while echo and
 * UPPER traffic runs byte-exact, then a reload asked for right after.
 */
#include "autoconf.h"

#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

void
test_signal_storm(void)
{
	enum { NSIG_ = 1000, BURSTS = 10 };
	static int	 sigs[NSIG_];
	const size_t	 blen = 128 * KIB;
	char		*buf = malloc(blen), *want = malloc(blen), *conf;
	struct pump	 x;
	struct reply	 r;
	unsigned	 lcg = 12345;
	long long	 gen0, gen1, ok0, fail1, t0;
	long		 rss0, rss1, slack;
	int		 i, status, fd, base_fds, reloads0, dumps0;
	int		 echo_ok = 0, echo_n = 0, up_ok = 0, up_n = 0;
	int		 ping_ok = 0, ping_n = 0, marked = 0;
	pid_t		 kid;

	for (i = 0; i < NSIG_; i++) {
		lcg = lcg * 1103515245u + 12345u;
		sigs[i] = (lcg >> 16) & 1 ? SIGUSR1 : SIGHUP;
		if (sigs[i] == SIGHUP)
			sum.hups++;
		else
			sum.usr1s++;
	}
	/*
	 * Warm up (allocator caches; under ASan its quarantine of freed
	 * memory), then the baseline.
	 */
	for (i = 0; i < 40; i++) {
		size_t j;

		for (j = 0; j < blen; j++) {
			buf[j] = (char)(rand() >> 3);
			want[j] = upc(buf[j]);
		}
		echo_rt(D.echo_port, buf, blen, 10000);
		fd = conn_to(D.broker_port);
		xfer(fd, "UPPER", buf, blen, 16 * KIB, want, blen, &x, 10000);
		close(fd);
	}
	msleep(200);
	base_fds = D_idle;
	rss0 = proc_rss_kb(D.pid);
	gen0 = stat_port(D.broker_port, "config_generation");
	ok0 = stat_port(D.broker_port, "reloads_ok");
	reloads0 = d_log_count(&D, "reloaded configuration");
	dumps0 = d_log_count(&D, "state: config_generation:");

	if ((kid = fork()) == 0) {
		int b, k;

		for (b = 0; b < BURSTS; b++) {
			for (k = 0; k < NSIG_ / BURSTS; k++) {
				kill(D.pid, sigs[b * (NSIG_ / BURSTS) + k]);
				usleep(3);
			}
			usleep(150000);
		}
		_exit(0);
	}
	sum.signals += NSIG_;
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	for (i = 0; now_ms() - t0 < 15000; i++) {
		size_t j;

		if (waitpid(kid, &status, WNOHANG) == kid) {
			kid = -1;
			break;
		}
		for (j = 0; j < blen; j++) {
			buf[j] = (char)((j * 131 + (size_t)i * 7) ^ (j >> 9));
			want[j] = upc(buf[j]);
		}
		switch (i % 3) {
		case 0:
			echo_n++;
			echo_ok += echo_rt(D.echo_port, buf, blen, 10000);
			break;
		case 1:
			up_n++;
			xfer(fd, "UPPER", buf, blen, 32 * KIB, want, blen, &x,
			    10000);
			up_ok += x.code == 0 && x.bad == 0;
			if (x.code != 0 || x.bad != 0)
				diag("UPPER during the storm: %d %s, %zu of "
				    "%zu bytes, %zu bad", x.code, x.text,
				    x.got, blen, x.bad);
			break;
		default:
			ping_n++;
			ping_ok += ping_fd(fd, 5000);
			break;
		}
	}
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &status, 0);
	}
	close(fd);
	ok(echo_n > 0 && up_n > 0 && echo_ok == echo_n && up_ok == up_n &&
	    ping_ok == ping_n, "during %d mixed SIGHUP/SIGUSR1 (%u/%u, in %d "
	    "bursts a few us apart) the daemon kept serving: %d echo and %d "
	    "UPPER of 128 KiB byte-exact, %d PING", NSIG_, sum.hups,
	    sum.usr1s, BURSTS, echo_n, up_n, ping_n);
	ok(d_alive(&D), "daemon alive after the storm");

	/* A reload asked for right after the storm is not lost. */
	conf = main_conf(STORM_COMMAND);
	conf_replace(&D, conf);
	free(conf);
	kill(D.pid, SIGHUP);
	usleep(5);
	kill(D.pid, SIGHUP);
	sum.signals += 2;
	t0 = now_ms();
	do {
		fd = conn_to(D.broker_port);
		send_all(fd, "RUN stormmark\nEND\n", 18);
		sum.requests++;
		read_reply(fd, &r, 3000);
		marked = r.code == 0 && strcmp(r.data, "storm-ok\n") == 0;
		reply_free(&r);
		close(fd);
		if (!marked)
			msleep(50);
	} while (!marked && now_ms() - t0 < 5000);
	ok(marked, "a config change signalled right after the storm is "
	    "applied: the new command runs (%lld ms)", now_ms() - t0);
	msleep(300);
	gen1 = stat_port(D.broker_port, "config_generation");
	fail1 = stat_port(D.broker_port, "reloads_failed");
	ok(gen1 > gen0 && fail1 == 0, "config_generation %lld -> %lld, no "
	    "failed reload", gen0, gen1);
	ok(d_log_count(&D, "reloaded configuration") > reloads0,
	    "\"reloaded configuration\" logged (%d times for %u SIGHUPs)",
	    d_log_count(&D, "reloaded configuration") - reloads0,
	    sum.hups + 2);
	ok(d_log_count(&D, "state: config_generation:") > dumps0,
	    "SIGUSR1 dumps logged (%d for %u SIGUSR1)",
	    d_log_count(&D, "state: config_generation:") - dumps0,
	    sum.usr1s);
	diag("signal storm: generation %lld -> %lld, reloads_ok %lld -> "
	    "%lld", gen0, gen1, ok0, stat_port(D.broker_port, "reloads_ok"));
	ok(wait_children(D.pid, 0, 5000) && wait_fds(D.pid, base_fds, 5000),
	    "fd count back to its baseline (%d)", base_fds);
	rss1 = proc_rss_kb(D.pid);
	slack = sanitizer_slack_kb(D.pid);
	ok_rss(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 8 * 1024 + slack,
	    "RSS growth %ld KiB < 8 MiB%s (%ld -> %ld KiB)", rss1 - rss0,
	    slack > 0 ? " + the sanitizer's quarantine" : "", rss0, rss1);
	note("signal storm: %u SIGHUP + %u SIGUSR1 (+2 SIGHUP after a config "
	    "change) during %d echo + %d UPPER (128 KiB each, byte-exact) "
	    "+ %d PING; generation %lld -> %lld; RSS %+ld KiB",
	    sum.hups, sum.usr1s, echo_n, up_n, ping_n, gen0, gen1,
	    rss1 - rss0);
	free(buf);
	free(want);
}
