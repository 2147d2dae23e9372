# client/: brokerctl.
bin_PROGRAMS += client/brokerctl
client_brokerctl_SOURCES = client/brokerctl.c client/brokerctl.h \
	client/cmd.c client/conn.c client/output.c client/pump.c
client_brokerctl_LDADD = common/libcommon.a
