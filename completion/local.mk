# completion/: bash completion for brokerctl, installed where
# bash-completion loads it on demand (configure --with-bash-completion-dir).
EXTRA_DIST += completion/brokerctl
if INSTALL_BASH_COMPLETION
bashcompletion_DATA = completion/brokerctl
endif
