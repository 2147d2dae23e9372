# client/: brokerctl.
bin_PROGRAMS += client/brokerctl
client_brokerctl_SOURCES = client/brokerctl.c
client_brokerctl_LDADD = common/libcommon.a
