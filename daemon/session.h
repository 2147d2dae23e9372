/*
 * The broker protocol, server side (brokerd-protocol(7)): on broker
 * listeners, and on the control socket, where RELOAD and LOGLEVEL are
 * allowed too.
 */
#ifndef BROKERD_SESSION_H
#define BROKERD_SESSION_H

#include "daemon/conn.h"

extern const struct service session_broker_service;
extern const struct service session_control_service;

#endif
