/* brokerd: everything lives in libbrokerd so the tests can link it. */
#include "autoconf.h"

#include "daemon/brokerd.h"

int
main(int argc, char *argv[])
{
	return brokerd_main(argc, argv);
}
