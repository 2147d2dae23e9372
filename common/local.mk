# common/: code shared by brokerd, brokerctl and the tests.
noinst_LIBRARIES += common/libcommon.a
common_libcommon_a_SOURCES = \
	common/dftext.c common/dftext.h \
	common/log.c common/log.h \
	common/proto.c common/proto.h \
	common/util.c common/util.h
