/*
 * SMTP server input parsing, RFC 5321 §4.1.  Pure: no I/O, no allocation,
 * every scan bounded by the (ptr, len) it is given.  Errors are complete
 * replies; the session only adds the error count.
 *
 * This file: command lines and their verbs, and the EHLO/HELO argument.
 * Paths are parsed in smtp_path.c, the MAIL and RCPT parameters in
 * smtp_param.c, xtext in smtp_xtext.c.
 */
#include <string.h>

#include "smtp_parse.h"
#include "util.h"

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
	int		 arg;	/* 0 none allowed, 1 required, 2 optional */
	const char	*usage;
} verbs[] = {
	{ "HELO",	SMTP_CMD_HELO,	1, "501 5.5.4 Syntax: HELO hostname" },
	{ "EHLO",	SMTP_CMD_EHLO,	1, "501 5.5.4 Syntax: EHLO hostname" },
	{ "MAIL",	SMTP_CMD_MAIL,	1,
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "RCPT",	SMTP_CMD_RCPT,	1, "501 5.5.4 Syntax: RCPT TO:<address>" },
	{ "DATA",	SMTP_CMD_DATA,	0, "501 5.5.4 Syntax: DATA" },
	{ "RSET",	SMTP_CMD_RSET,	0, "501 5.5.4 Syntax: RSET" },
	{ "NOOP",	SMTP_CMD_NOOP,	2, NULL },
	{ "QUIT",	SMTP_CMD_QUIT,	0, "501 5.5.4 Syntax: QUIT" },
	{ "VRFY",	SMTP_CMD_VRFY,	1, "501 5.5.4 Syntax: VRFY address" },
	{ "EXPN",	SMTP_CMD_EXPN,	1, "501 5.5.4 Syntax: EXPN name" },
	{ "HELP",	SMTP_CMD_HELP,	2, NULL },
	{ "STARTTLS",	SMTP_CMD_STARTTLS, 0, "501 5.5.4 Syntax: STARTTLS" },
};

const char *
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t	 i, vlen;

	memset(cmd, 0, sizeof(*cmd));
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return "500 5.5.2 Syntax error: bad character in command";
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	cmd->arg = line + vlen;
	if (vlen < len) {
		cmd->arg++;
		cmd->arglen = len - vlen - 1;
	}
	/* Trailing blanks are noise some clients add. */
	while (cmd->arglen > 0 && (cmd->arg[cmd->arglen - 1] == ' ' ||
	    cmd->arg[cmd->arglen - 1] == '\t'))
		cmd->arglen--;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!strn_caseeq(line, vlen, verbs[i].name))
			continue;
		cmd->verb = verbs[i].verb;
		if ((verbs[i].arg == 0 && cmd->arglen != 0) ||
		    (verbs[i].arg == 1 && cmd->arglen == 0))
			return verbs[i].usage;
		return NULL;
	}
	cmd->verb = SMTP_CMD_UNKNOWN;
	return NULL;
}

const char *
smtp_helo_parse(const char *arg, size_t len, char out[SMTP_DOMAIN_MAX + 1])
{
	size_t	 i;

	if (len == 0)
		return "501 5.5.4 Syntax: EHLO hostname";
	if (len > SMTP_DOMAIN_MAX)
		return "501 5.5.4 Host name too long";
	/* RFC 5321 §4.1.4: a server must not refuse mail for a wrong name;
	 * keep one visible-ASCII word, it lands in the Received line. */
	for (i = 0; i < len; i++)
		if ((unsigned char)arg[i] <= 32 || (unsigned char)arg[i] >= 127)
			return "501 5.5.4 Syntax: EHLO hostname";
	memcpy(out, arg, len);
	out[len] = '\0';
	return NULL;
}
