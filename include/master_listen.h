/*
 * master_listen: the listeners, bound as root, and each connection
 * accepted on them: handed to an idle session process or a new one, or
 * refused with 421 (4.3.0 while the queue recovers or nothing can be
 * forked, 4.7.0 over max_children or max_children_per_ip).  The 421 is
 * the only thing the master writes; it reads nothing from the network.
 */
#ifndef POSTERN_MASTER_LISTEN_H
#define POSTERN_MASTER_LISTEN_H

struct lsock;
struct master;

/* Every listen address of the configuration, or fatal. */
void	master_bind_listeners(struct master *);
/* One connection waiting on ls, if there is one. */
void	master_accept_one(struct master *, const struct lsock *ls);

#endif
