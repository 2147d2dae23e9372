/* Entry point of the daemon library, called by main.c. */
#ifndef BROKERD_BROKERD_H
#define BROKERD_BROKERD_H

int	brokerd_main(int argc, char *argv[]);

#endif
