# systemd/: units with configure's paths substituted.
systemdsystemunit_DATA = systemd/brokerd.service systemd/brokerd.socket
EXTRA_DIST += systemd/brokerd.service.in systemd/brokerd.socket.in
CLEANFILES += $(systemdsystemunit_DATA)

$(systemdsystemunit_DATA): Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && rm -f $@ && \
	  $(edit) $(srcdir)/$@.in > $@.tmp && mv $@.tmp $@
systemd/brokerd.service: $(srcdir)/systemd/brokerd.service.in
systemd/brokerd.socket: $(srcdir)/systemd/brokerd.socket.in
