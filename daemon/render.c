/* The STATS and DF replies; see render.h. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/dftext.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/render.h"
#include "daemon/reply.h"
#include "daemon/stats.h"

static void
emit_stat(const char *key, const char *value, void *arg)
{
	evbuffer_add_printf(arg, "%s\t%s\n", key, value);
}

void
render_stats(struct session *s)
{
	struct evbuffer *buf;

	if ((buf = evbuffer_new()) == NULL) {
		reply_final(s, 500, "internal error: out of memory");
		return;
	}
	stats_report(emit_stat, buf);
	reply_data(s, buf);
	evbuffer_free(buf);
	reply_final(s, 0, "%s", "");
}

void
render_commands(struct session *s, const struct config *cfg)
{
	struct evbuffer	*buf;
	char		 name[128];
	size_t		 i;

	if ((buf = evbuffer_new()) == NULL) {
		reply_final(s, 500, "internal error: out of memory");
		return;
	}
	for (i = 0; i < cfg->ncommands; i++) {
		str_escape(name, sizeof(name), cfg->commands[i].name,
		    strlen(cfg->commands[i].name), 64);
		evbuffer_add_printf(buf, "%s\t%s\t%s\n", name,
		    cfg->commands[i].input ? "yes" : "no",
		    cfg->commands[i].output == OUTPUT_DF ? "df" : "raw");
	}
	reply_data(s, buf);
	evbuffer_free(buf);
	reply_final(s, 0, "%zu", cfg->ncommands);
}

void
render_table(struct session *s, const struct df_table *t,
    const char *warning)
{
	struct evbuffer	*buf;
	char		*field = NULL;
	size_t		 i, cap = 0, need;
	int		 j;

	if ((buf = evbuffer_new()) == NULL) {
		reply_final(s, 500, "internal error: out of memory");
		return;
	}
	for (j = 0; j < DF_NFIELDS; j++)
		evbuffer_add_printf(buf, "%s%c", df_field_names[j],
		    j == DF_NFIELDS - 1 ? '\n' : '\t');
	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < DF_NFIELDS; j++) {
			/* Escaping at most doubles it; df_escape keeps 2. */
			need = 2 * strlen(t->rows[i].field[j]) + 3;
			if (need > cap) {
				field = xreallocarray(field, need, 1);
				cap = need;
			}
			evbuffer_add(buf, field, df_escape(field, cap,
			    t->rows[i].field[j]));
			evbuffer_add(buf, j == DF_NFIELDS - 1 ? "\n" : "\t", 1);
		}
	free(field);
	reply_data(s, buf);
	evbuffer_free(buf);
	if (warning != NULL) {
		log_ctx(LOG_WARNING, s->conn->ctx, "%s", warning);
		reply_final(s, 0, "%zu warning: %s", t->nrows, warning);
	} else
		reply_final(s, 0, "%zu", t->nrows);
}

void
render_df(struct session *s, const char *warning, const char *errline)
{
	struct df_table	 t;
	char		 err[256];
	size_t		 len = evbuffer_get_length(s->dfout);

	if (s->dfdropped > 0) {
		reply_final(s, 502, "%s output is larger than %d bytes",
		    s->cmd->name, DF_MAX);
		return;
	}
	/* evbuffer_pullup() has no bytes to point at: NULL. */
	if (len == 0) {
		if (warning != NULL)
			reply_final(s, 502, "%s", warning);
		else
			reply_final(s, 502, "%s printed nothing%s%s",
			    s->cmd->name, *errline ? ": " : "", errline);
		return;
	}
	if (dfparse((const char *)evbuffer_pullup(s->dfout, -1), len, &t, err,
	    sizeof(err)) != 0) {
		if (warning != NULL)
			reply_final(s, 502, "%s", warning);
		else
			reply_final(s, 502, "%s: %s", s->cmd->name, err);
		return;
	}
	if (warning != NULL && t.nrows == 0)
		reply_final(s, 502, "%s", warning);
	else
		render_table(s, &t, warning);
	df_table_free(&t);
}
