# tests/fuzz/: libFuzzer targets, built with --enable-fuzzing.
#
# Each fuzz_*.c defines LLVMFuzzerTestOneInput only.  In a fuzzing build
# (CC=clang ./configure --enable-fuzzing) it links libFuzzer's main, and
# "make fuzz" runs every target for FUZZ_SECONDS on a scratch copy of its
# checked-in corpus.  In every other build it links replay.c instead and
# runs under make check over the corpus and the saved crash inputs, so the
# targets never rot and every past crash stays a regression test.
FUZZ_TARGETS = tests/fuzz/fuzz_proto tests/fuzz/fuzz_dfparse \
	tests/fuzz/fuzz_config
FUZZ_SECONDS = 20
FUZZ_CORPORA = tests/fuzz/corpus/proto tests/fuzz/corpus/dfparse \
	tests/fuzz/corpus/config tests/fuzz/crashes

EXTRA_DIST += $(FUZZ_CORPORA) tests/fuzz/fuzz.h tests/fuzz/README tests/fuzz/run.sh \
	tests/fuzz/proto.dict tests/fuzz/dfparse.dict tests/fuzz/config.dict \
	tests/fuzz/lsan.supp

tests_fuzz_fuzz_proto_SOURCES = tests/fuzz/fuzz_proto.c
tests_fuzz_fuzz_proto_LDADD = $(BROKERD_LIBS)
tests_fuzz_fuzz_dfparse_SOURCES = tests/fuzz/fuzz_dfparse.c
tests_fuzz_fuzz_dfparse_LDADD = $(BROKERD_LIBS)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_LDADD = $(BROKERD_LIBS)

if ENABLE_FUZZING
noinst_PROGRAMS += $(FUZZ_TARGETS)
tests_fuzz_fuzz_proto_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_dfparse_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# A rule per target: "make -j2 -k fuzz" runs two at a time and every
# target even if one finds something.
FUZZ_RUNS = $(FUZZ_TARGETS:=-run)
.PHONY: fuzz $(FUZZ_RUNS)
fuzz: $(FUZZ_RUNS)
$(FUZZ_RUNS): %-run: %
	@$(SHELL) $(srcdir)/tests/fuzz/run.sh $(srcdir) $* $(FUZZ_SECONDS)
else
check_PROGRAMS += $(FUZZ_TARGETS)
TESTS += $(FUZZ_TARGETS)
tests_fuzz_fuzz_proto_SOURCES += tests/fuzz/replay.c
tests_fuzz_fuzz_dfparse_SOURCES += tests/fuzz/replay.c
tests_fuzz_fuzz_config_SOURCES += tests/fuzz/replay.c
tests_fuzz_fuzz_proto_LDADD += tests/libtap.a
tests_fuzz_fuzz_dfparse_LDADD += tests/libtap.a
tests_fuzz_fuzz_config_LDADD += tests/libtap.a

.PHONY: fuzz
fuzz:
	@echo "fuzz: configure with CC=clang --enable-fuzzing to build the" \
	    "libFuzzer targets" >&2; exit 1
endif

clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/work tests/fuzz/out
