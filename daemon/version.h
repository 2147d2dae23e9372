/* brokerd -V: its version and those of the libraries it runs on. */
#ifndef BROKERD_VERSION_H
#define BROKERD_VERSION_H

#include <stdio.h>

void	version_print(FILE *);

#endif
