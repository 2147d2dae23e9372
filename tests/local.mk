# tests/: unit and integration tests, TAP.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
AM_TESTS_ENVIRONMENT = \
	BROKERD='$(abs_top_builddir)/daemon/brokerd'; \
	BROKERCTL='$(abs_top_builddir)/client/brokerctl'; \
	TOP_SRCDIR='$(abs_top_srcdir)'; \
	export BROKERD BROKERCTL TOP_SRCDIR;

noinst_LIBRARIES += tests/libtap.a
tests_libtap_a_SOURCES = tests/tap.c tests/tap.h \
	tests/integration/harness.c tests/integration/harness.h \
	tests/integration/harness_net.c tests/integration/harness_proc.c \
	tests/integration/harness_pump.c

TEST_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBCONFIG_CFLAGS)
TEST_LIBS = tests/libtap.a $(BROKERD_LIBS)

UNIT_TESTS = tests/unit/test_config tests/unit/test_proto \
	tests/unit/test_dfparse tests/unit/test_pool tests/unit/test_dfgnu \
	tests/unit/test_dfnative tests/unit/test_reload tests/unit/test_access
# Longest first (make -j check starts tests in the order of TESTS, so
# that tests run side by side do not end on one long test; scripts/check
# runs the integration tests under valgrind in this order too).
INTEGRATION_TESTS = tests/integration/test_lifecycle \
	tests/integration/test_broker tests/integration/test_abuse \
	tests/integration/test_tls tests/integration/test_files \
	tests/integration/test_access tests/integration/test_brokerctl \
	tests/integration/test_drain tests/integration/test_operator \
	tests/integration/test_metrics tests/integration/test_tls_client \
	tests/integration/test_health tests/integration/test_cli \
	tests/integration/test_echo

# Shell tests, run as they are (#! line): no LOG_COMPILER.
UNIT_SH_TESTS = tests/unit/test_completion.sh
INTEGRATION_SH_TESTS = tests/integration/test_haproxy.sh \
	tests/integration/test_readme.sh tests/integration/test_docs.sh
EXTRA_DIST += $(UNIT_SH_TESTS) $(INTEGRATION_SH_TESTS)
# scripts/check's valgrind step.
EXTRA_DIST += tests/valgrind.supp
# test_haproxy.sh's fast client.
EXTRA_DIST += tests/integration/lb_client.py
# The test PKI (made at test time: no key is committed) and a TLS peer.
EXTRA_DIST += tests/tls/mkpki.sh tests/tls/peer.py tests/tls/client.py

check_PROGRAMS += $(UNIT_TESTS) $(INTEGRATION_TESTS)
TESTS += $(INTEGRATION_SH_TESTS) $(INTEGRATION_TESTS) $(UNIT_TESTS) \
	$(UNIT_SH_TESTS)

tests_unit_test_config_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_config_LDADD = $(TEST_LIBS)
tests_unit_test_proto_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_proto_LDADD = $(TEST_LIBS)
tests_unit_test_dfparse_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_dfparse_LDADD = $(TEST_LIBS)
tests_unit_test_pool_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_pool_LDADD = $(TEST_LIBS)
tests_unit_test_dfgnu_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_dfgnu_LDADD = $(TEST_LIBS)
tests_unit_test_dfnative_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_dfnative_LDADD = $(TEST_LIBS)
tests_unit_test_reload_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_reload_LDADD = $(TEST_LIBS)
tests_unit_test_access_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_access_LDADD = $(TEST_LIBS)
tests_integration_test_broker_LDADD = $(TEST_LIBS)
tests_integration_test_lifecycle_LDADD = $(TEST_LIBS)
tests_integration_test_health_LDADD = $(TEST_LIBS)
tests_integration_test_abuse_SOURCES = tests/integration/test_abuse.c \
	tests/integration/abuse.c tests/integration/abuse.h \
	tests/integration/abuse_children.c tests/integration/abuse_input.c \
	tests/integration/abuse_limits.c tests/integration/abuse_signals.c \
	tests/integration/abuse_slow.c
tests_integration_test_abuse_LDADD = $(TEST_LIBS)
tests_integration_test_echo_LDADD = $(TEST_LIBS)
tests_integration_test_cli_CFLAGS = $(TEST_CFLAGS) $(OPENSSL_CFLAGS)
tests_integration_test_cli_LDADD = $(TEST_LIBS)
tests_integration_test_brokerctl_LDADD = $(TEST_LIBS)
tests_integration_test_files_LDADD = $(TEST_LIBS)
tests_integration_test_tls_client_LDADD = $(TEST_LIBS)
tests_integration_test_metrics_LDADD = $(TEST_LIBS)
tests_integration_test_access_SOURCES = tests/integration/test_access.c \
	tests/integration/access.h tests/integration/access_cmd.c \
	tests/integration/access_priv.c
tests_integration_test_access_LDADD = $(TEST_LIBS)
tests_integration_test_operator_LDADD = $(TEST_LIBS)
tests_integration_test_drain_LDADD = $(TEST_LIBS)
tests_integration_test_tls_LDADD = $(TEST_LIBS)
