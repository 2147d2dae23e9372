# daemon/: libbrokerd (everything) and a thin main.c.
noinst_LIBRARIES += daemon/libbrokerd.a
daemon_libbrokerd_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBEVENT_PTHREADS_CFLAGS) $(LIBCONFIG_CFLAGS) $(LIBSYSTEMD_CFLAGS) \
	$(OPENSSL_CFLAGS)
daemon_libbrokerd_a_SOURCES = \
	daemon/acl.c daemon/acl.h \
	daemon/brokerd.c daemon/brokerd.h \
	daemon/bufio.c daemon/bufio.h \
	daemon/child.c daemon/child.h \
	daemon/cmdaccess.c daemon/cmdaccess.h \
	daemon/child_spawn.c \
	daemon/dfparse.c daemon/dfparse.h \
	daemon/config.c daemon/config.h \
	daemon/config_cmd.c daemon/config_cmd.h \
	daemon/admit.c daemon/admit.h \
	daemon/audit.c daemon/audit.h \
	daemon/conn.c daemon/conn.h \
	daemon/control.c daemon/control.h \
	daemon/dfgnu.c daemon/dfgnu.h \
	daemon/dfnative.c daemon/dfnative.h \
	daemon/drain.c daemon/drain.h \
	daemon/echo.c daemon/echo.h \
	daemon/fdlimit.c daemon/fdlimit.h \
	daemon/listen.c daemon/listen.h \
	daemon/metrics.c daemon/metrics.h \
	daemon/metrics_text.c daemon/metrics_text.h \
	daemon/notify.c daemon/notify.h \
	daemon/orphans.c daemon/orphans.h \
	daemon/pidfile.c daemon/pidfile.h \
	daemon/pool.c daemon/pool.h \
	daemon/privdrop.c daemon/privdrop.h \
	daemon/reload.c daemon/reload.h \
	daemon/resource.c daemon/resource.h \
	daemon/safepath.c daemon/safepath.h \
	daemon/server.h \
	daemon/settings.c daemon/settings.h \
	daemon/render.c daemon/render.h \
	daemon/reply.c daemon/reply.h \
	daemon/session.c daemon/session.h daemon/session_int.h \
	daemon/session_child.c daemon/session_child.h \
	daemon/splice.c daemon/splice.h \
	daemon/stats.c daemon/stats.h \
	daemon/verbs.c daemon/verbs.h \
	daemon/version.c daemon/version.h \
	daemon/watch.c daemon/watch.h \
	daemon/xport.h daemon/xport_plain.c \
	daemon/tls.h daemon/tls_conf.c daemon/tls_ctx.c
if HAVE_TLS
daemon_libbrokerd_a_SOURCES += daemon/xport_tls.c
endif

BROKERD_LIBS = daemon/libbrokerd.a common/libcommon.a \
	$(LIBEVENT_PTHREADS_LIBS) $(LIBEVENT_LIBS) $(LIBCONFIG_LIBS) \
	$(LIBSYSTEMD_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += daemon/brokerd
daemon_brokerd_SOURCES = daemon/main.c
daemon_brokerd_LDADD = $(BROKERD_LIBS)
