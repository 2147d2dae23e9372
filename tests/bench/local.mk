# tests/bench/: make bench (never part of make check).
#
# The programs are noinst so every build compiles them (they cannot rot),
# but only "make bench" runs anything: brokerd next to the reference
# servers, on loopback, one table at the end.  See tests/bench/RESULTS.md.
BENCH_PROGS = tests/bench/loadgen tests/bench/broker_client \
	tests/bench/epoll_echo tests/bench/libevent_echo \
	tests/bench/pump tests/bench/spawn_df
noinst_PROGRAMS += $(BENCH_PROGS)

# The helpers, compiled once for every bench program: benchutil, and
# with TLS benchtls (loadgen -T, broker_client -T).
noinst_LIBRARIES += tests/bench/libbench.a
tests_bench_libbench_a_SOURCES = tests/bench/benchutil.c \
	tests/bench/benchutil.h
tests_bench_libbench_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
BENCH_LIBS = tests/bench/libbench.a

tests_bench_loadgen_SOURCES = tests/bench/loadgen.c
tests_bench_loadgen_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_bench_loadgen_LDADD = $(BENCH_LIBS)
tests_bench_broker_client_SOURCES = tests/bench/broker_client.c
tests_bench_broker_client_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_bench_broker_client_LDADD = $(BENCH_LIBS) common/libcommon.a
tests_bench_pump_SOURCES = tests/bench/pump.c
tests_bench_pump_LDADD = $(BENCH_LIBS)
tests_bench_spawn_df_SOURCES = tests/bench/spawn_df.c
tests_bench_spawn_df_LDADD = $(BENCH_LIBS)
tests_bench_epoll_echo_SOURCES = tests/bench/epoll_echo.c
tests_bench_libevent_echo_SOURCES = tests/bench/libevent_echo.c
tests_bench_libevent_echo_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_bench_libevent_echo_LDADD = $(LIBEVENT_LIBS)

# TLS: tls_ceiling, the minimal OpenSSL + epoll handshake server that is
# the ceiling for handshakes/s, and TLS in loadgen and broker_client.
if HAVE_TLS
BENCH_PROGS += tests/bench/tls_ceiling
tests_bench_libbench_a_SOURCES += tests/bench/benchtls.c \
	tests/bench/benchtls.h
tests_bench_tls_ceiling_SOURCES = tests/bench/tls_ceiling.c
tests_bench_tls_ceiling_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_bench_tls_ceiling_LDADD = $(OPENSSL_LIBS)
tests_bench_loadgen_LDADD += $(OPENSSL_LIBS)
tests_bench_broker_client_LDADD += $(OPENSSL_LIBS)
endif

EXTRA_DIST += tests/bench/run-bench.sh tests/bench/RESULTS.md

# BENCH_FLAGS reaches run-bench.sh, e.g. make bench BENCH_FLAGS='-r 5 -q'.
bench: $(BENCH_PROGS) daemon/brokerd$(EXEEXT)
	BUILD='$(abs_top_builddir)' $(SHELL) \
	    '$(abs_top_srcdir)/tests/bench/run-bench.sh' $(BENCH_FLAGS)
