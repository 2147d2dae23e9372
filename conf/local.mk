# conf/: the shipped configuration.  make install never overwrites an
# existing brokerd.conf: it installs brokerd.conf.dist next to it instead.
EXTRA_DIST += conf/brokerd.conf
brokerdconfdir = $(sysconfdir)/brokerd

install-data-local: install-conf
install-conf:
	$(MKDIR_P) '$(DESTDIR)$(brokerdconfdir)'
	@if test -f '$(DESTDIR)$(brokerdconfdir)/brokerd.conf'; then \
	  echo "keeping $(DESTDIR)$(brokerdconfdir)/brokerd.conf; new default installed as brokerd.conf.dist"; \
	  $(INSTALL_DATA) $(srcdir)/conf/brokerd.conf '$(DESTDIR)$(brokerdconfdir)/brokerd.conf.dist'; \
	else \
	  $(INSTALL_DATA) $(srcdir)/conf/brokerd.conf '$(DESTDIR)$(brokerdconfdir)/brokerd.conf'; \
	fi

uninstall-local: uninstall-conf
uninstall-conf:
	rm -f '$(DESTDIR)$(brokerdconfdir)/brokerd.conf.dist'
	@if test -f '$(DESTDIR)$(brokerdconfdir)/brokerd.conf' && \
	    cmp -s $(srcdir)/conf/brokerd.conf '$(DESTDIR)$(brokerdconfdir)/brokerd.conf'; then \
	  rm -f '$(DESTDIR)$(brokerdconfdir)/brokerd.conf'; \
	fi
