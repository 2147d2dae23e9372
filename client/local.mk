# client/: brokerctl.
bin_PROGRAMS += client/brokerctl
client_brokerctl_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(OPENSSL_CFLAGS)
client_brokerctl_SOURCES = client/brokerctl.c client/client.h \
	client/cmd.c client/conf.c client/conn.c client/opt.c client/output.c \
	client/pump.c
client_brokerctl_LDADD = common/libcommon.a $(LIBCONFIG_LIBS)
if HAVE_TLS
client_brokerctl_SOURCES += client/tls.c
client_brokerctl_LDADD += $(OPENSSL_LIBS)
endif
