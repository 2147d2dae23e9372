/* The echo service (RFC 862): the bytes that come in go back out. */
#ifndef BROKERD_ECHO_H
#define BROKERD_ECHO_H

#include "daemon/conn.h"

extern const struct service echo_service;

#endif
