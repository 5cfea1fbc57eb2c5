/* SPDX-License-Identifier: MIT */
/*
 * The config file's first pass: each line read the way rte_cfgfile will split it, so that what
 * rte_cfgfile would take silently or wrongly stops start-up with the line named.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <rte_cfgfile.h>

#include "config_keys.h"

/*
 * rte_cfgfile is lenient where a typo should stop start-up: it skips lines that hold no '=',
 * ignores text after "[section]", silently cuts keys at 63 and values at 255 characters, and
 * "\;" both escapes the ';' and keeps the rest of the line from being a comment. It also logs
 * its own failures without naming the file. So this pass reads each line the way rte_cfgfile
 * will split it and names the line at fault; rte_cfgfile then does the splitting.
 * Returns 0 for a good line, > 0 (the length of WHY) for a bad one.
 */
static int
lint_line(char *line, size_t len, bool *in_section, char *why, size_t whylen)
{
	char *s, *eq, *end, *semi;

	if (memchr(line, '\0', len) != NULL)
		return snprintf(why, whylen, "holds a NUL byte");
	/* rte_cfgfile reads lines with fgets() into a name + value + 4 byte buffer. */
	if (len > CFG_NAME_LEN + CFG_VALUE_LEN + 2)
		return snprintf(why, whylen, "longer than %d characters",
				CFG_NAME_LEN + CFG_VALUE_LEN + 2);
	semi = strchr(line, CFG_DEFAULT_COMMENT_CHARACTER);
	if (semi != NULL && semi > line && semi[-1] == '\\')
		return snprintf(why, whylen, "\"\\;\" is not supported");
	if (semi != NULL)
		*semi = '\0';
	s = cfg_trim(line);
	if (*s == '\0')
		return 0;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != '\0' || end == s + 1 + strspn(s + 1, " \t\v\f\r"))
			return snprintf(why, whylen, "expected \"[section]\", got \"%s\"", s);
		*end = '\0';
		if (strlen(cfg_trim(s + 1)) >= CFG_NAME_LEN)
			return snprintf(why, whylen, "section name longer than %d characters",
					CFG_NAME_LEN - 1);
		*in_section = true;
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL || eq == s)
		return snprintf(why, whylen, "expected \"key = value\" or \"[section]\" "
				"(comments start with ';'), got \"%s\"", s);
	if (!*in_section)
		return snprintf(why, whylen, "\"%s\" before any [section]", s);
	*eq = '\0';
	if (strlen(cfg_trim(s)) >= CFG_NAME_LEN)
		return snprintf(why, whylen, "key longer than %d characters", CFG_NAME_LEN - 1);
	if (strlen(cfg_trim(eq + 1)) >= CFG_VALUE_LEN)
		return snprintf(why, whylen, "value longer than %d characters",
				CFG_VALUE_LEN - 1);
	return 0;
}

int
cfg_lint_file(struct load_ctx *ctx)
{
	char why[CFG_VALUE_LEN + 96];
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned int lineno = 0;
	bool in_section = false;
	FILE *f = fopen(ctx->file, "r");
	int rc = 0;

	if (f == NULL)
		return cfg_fail(ctx, "cannot read: %s", strerror(errno));
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (lint_line(line, len, &in_section, why, sizeof(why)) > 0)
			rc = cfg_fail(ctx, "cannot read: line %u: %s", lineno, why);
	}
	if (rc == 0 && ferror(f))
		rc = cfg_fail(ctx, "cannot read: %s", strerror(errno));
	free(line);
	fclose(f);
	return rc;
}
