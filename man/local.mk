# man/: mdoc pages with configure's paths substituted.
man_MANS = man/brokerd.8 man/brokerctl.1 man/brokerd.conf.5 \
	man/brokerd-protocol.7 man/brokerd-internals.7
EXTRA_DIST += man/brokerd.8.in man/brokerctl.1.in man/brokerd.conf.5.in \
	man/brokerd-protocol.7.in man/brokerd-internals.7.in
CLEANFILES += $(man_MANS)

edit = $(SED) \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@runstatedir[@]|$(runstatedir)|g' \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@bashcompletiondir[@]|$(bashcompletiondir)|g' \
	-e 's|@VERSION[@]|$(VERSION)|g' \
	-e 's|@SERVICE_TYPE[@]|$(SERVICE_TYPE)|g' \
	-e 's|@NOTIFY_ONLY[@]|$(NOTIFY_ONLY)|g'

$(man_MANS): Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && rm -f $@ && \
	  $(edit) $(srcdir)/$@.in > $@.tmp && mv $@.tmp $@
man/brokerd.8: $(srcdir)/man/brokerd.8.in
man/brokerctl.1: $(srcdir)/man/brokerctl.1.in
man/brokerd.conf.5: $(srcdir)/man/brokerd.conf.5.in
man/brokerd-protocol.7: $(srcdir)/man/brokerd-protocol.7.in
man/brokerd-internals.7: $(srcdir)/man/brokerd-internals.7.in
