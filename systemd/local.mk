# systemd/: units with configure's paths substituted.
