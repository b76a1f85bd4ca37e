/*
 * reload: what SIGHUP does to a running daemon (config_reload.h says
 * which keys apply at once).  The master re-reads and checks postern.conf
 * as postern -n does, keeps the running configuration on any error, and
 * builds a new server TLS context when the certificate files can be read
 * (the daemon's user must be able to read them: they were read as root
 * at start).  The runner re-reads the file itself for its workers.
 */
#ifndef POSTERN_RELOAD_H
#define POSTERN_RELOAD_H

#include <openssl/ssl.h>

struct config;

/* 1 when the configuration changed, 0 when the file says what runs, -1
 * when it does not load or check (logged; nothing changed).  *tls is
 * replaced (the old one freed) when a new one could be built. */
int	reload_master(struct config *run, SSL_CTX **tls);
/* The runner's copy: the same merge, logged only on an error. */
int	reload_runner(struct config *run);

#endif
