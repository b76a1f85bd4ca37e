/*
 * policy_cmd: "postern policy DOMAIN [--probe]" explains the TLS policy
 * deliveries to DOMAIN would use: MX hosts with preference and DNSSEC
 * status, addresses, TLSA records and their usability, the MTA-STS
 * record and policy, and the effective level per host with its reason.
 * --probe connects to each MX, says STARTTLS and authenticates as that
 * level demands, then QUITs without sending mail.  Exit status 0 when a
 * delivery would be allowed through at least one host, 1 when not.
 */
#ifndef POSTERN_POLICY_CMD_H
#define POSTERN_POLICY_CMD_H

struct config;

int	policy_cmd_main(const struct config *, int argc, char *argv[]);

#endif
