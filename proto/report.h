/*
 * The codec of the documents an agent writes (docs/etcd-layout.md, "What
 * the agents write"): its report (P/observed/<host>), its last run's step
 * results (P/results/<host>) and its heartbeat with the host's facts
 * (P/agents/<host>).
 *
 * The agent keeps its report as one JSON object that a run updates part
 * by part (the stamp, the run's progress, what it waits for...): the
 * proto_report_set_* functions write each part, and are the only code
 * that does.  Readers (leura status, apply --wait, the agents' rollout
 * gates) take a report apart with proto_report_decode().  Results and
 * facts are built whole from a struct.  Field names are in fields.h.
 *
 * Decoded strings and JSON members are borrowed from the document read.
 * Nothing here touches etcd or prints.
 */
#ifndef PROTO_REPORT_H
#define PROTO_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "fields.h"

/* ---- P/observed/<host> ---- */

/* report.run: the converge run going on, or the last one */
struct proto_run {
	const char *id;
	int64_t	 started_unix_ms;
	int64_t	 steps;		/* how many it goes through */
	int64_t	 done;		/* how many it has gone through */
	int64_t	 duration_ms;	/* -1 while it runs (left out) */
};

struct proto_report {
	int64_t	 generation;	/* of the document in force; 0: none */
	int64_t	 head;		/* newest head the document is current at */
	int64_t	 deploy;
	const char *state;	/* PROTO_STATE_*; "" when absent */
	const char *at;		/* ISO-8601 UTC; "" when absent */
	int64_t	 at_unix;
	const char *agent;	/* version; "" when absent */
	bool	 has_run;
	struct proto_run run;
	const char *current;	/* step id; "" when none */
	const char *waiting;	/* why a gate holds the run; "" when none */
	const char *waiting_service;	/* waiting_for; "" when none */
	const char *waiting_host;
	const json_t *failed_steps;	/* [{id, exit|error, output}]; NULL */
	const json_t *services;	/* {svc: {validated}}; NULL */
	const json_t *drift;	/* [{id, detail}]; NULL */
	int64_t	 checked_unix_ms;	/* 0: never checked */
	const json_t *interrupted;	/* [step id]; NULL */
	/* the last document or head refused (not trusted); "" when none */
	const char *refused_key;
	const char *refused_error;
	const char *refused_hint;
};

/*
 * Stamp rep: generation, head, deploy, state (NULL: keep the one it has),
 * at and at_unix (now, Unix seconds), the agent's version, and
 * interrupted ([id], or removed when interrupted is NULL).
 */
void	 proto_report_stamp(json_t *rep, int64_t generation, int64_t head,
	    int64_t deploy, const char *state, int64_t now,
	    const char *interrupted);
/* Set rep.head and rep.deploy alone (a head that did not change the host). */
void	 proto_report_set_head(json_t *rep, int64_t head, int64_t deploy);
void	 proto_report_set_run(json_t *rep, const struct proto_run *run);
/* The step running; NULL removes it. */
void	 proto_report_set_current(json_t *rep, const char *id);
/* Why the run waits, and on what (proto_waiting_for()); NULL removes both. */
void	 proto_report_set_waiting(json_t *rep, const char *why,
	    const json_t *waiting_for);
/* The following take a reference of their JSON argument (NULL removes). */
void	 proto_report_set_failed_steps(json_t *rep, const json_t *failed);
void	 proto_report_set_services(json_t *rep, const json_t *services);
void	 proto_report_set_drift(json_t *rep, const json_t *drift);
void	 proto_report_set_checked(json_t *rep, int64_t unix_ms);
/*
 * What the agent refused to act on, and why (key NULL removes it): a
 * document or head not signed by a trusted key, another host's, or
 * older than one it verified.
 */
void	 proto_report_set_refused(json_t *rep, const char *key,
	    const char *error, const char *hint, int64_t now);

/* {"service", "host"}: new reference. */
json_t	*proto_waiting_for(const char *svc, const char *host);
/*
 * An entry of failed_steps: id, then exit (when exit_code > 0) or error,
 * and output (taken, may be NULL).  New reference.
 */
json_t	*proto_failed_step(const char *id, int exit_code, const char *error,
	    json_t *output);
/* An entry of drift: {"id", "detail"}.  New reference. */
json_t	*proto_drifted(const char *id, const char *detail);
/* An entry of services: {"validated": b}.  New reference. */
json_t	*proto_service_state(bool validated);

/*
 * Make rep fit in max bytes (as proto_dumps writes it), for a request
 * etcd takes: the output of failed_steps is cut to its last 256 bytes,
 * then dropped, then the failed steps that do not fit are left out from
 * the end (failed_steps_left_out says how many); when that is not enough,
 * drift likewise (its details, then its last entries: drift_left_out).
 * rep is changed in place (give it a copy of what must stay whole).
 * true when it fits.
 */
bool	 proto_report_fit(json_t *rep, size_t max);

/* A whole report from r (the readers' view): new reference. */
json_t	*proto_report_encode(const struct proto_report *r);
void	 proto_report_decode(const json_t *rep, struct proto_report *out);

/* ---- P/results/<host> ---- */

struct proto_step_result {
	const char *id;
	const char *status;	/* ok, changed, skipped, failed */
	bool	 changed;
	bool	 ran;		/* false: only reason follows */
	const char *reason;	/* why it did not run, or why it did
				 * nothing (a guard: skipped); NULL */
	int64_t	 started_unix_ms;
	int64_t	 duration_ms;
	int64_t	 attempts;	/* 0: left out */
	int64_t	 exit_code;	/* -1: left out */
	int64_t	 signal;	/* 0: left out */
	bool	 timed_out;
	const char *error;	/* why it failed; NULL or "": left out */
	const json_t *message;	/* use steps' message; NULL */
	const char *output;	/* NULL or "": left out */
};

/*
 * New reference.  An output that is not UTF-8 is replaced by a note
 * pointing to the step's log.
 */
json_t	*proto_step_result_encode(const struct proto_step_result *s);
void	 proto_step_result_decode(const json_t *o,
	    struct proto_step_result *out);
/* {"generation", "run", "steps"}: takes a reference to steps. */
json_t	*proto_results_encode(int64_t generation, const char *run,
	    const json_t *steps);
/* Set steps_left_out to n (the results did not fit). */
void	 proto_results_left_out(json_t *res, int64_t n);
/*
 * Make res fit in max bytes (as proto_dumps writes it): the output of
 * the steps that did not fail is dropped, then the rest is cut to its
 * last 1 KiB, then dropped, then the steps that do not fit are left out
 * from the end (steps_left_out says how many).  In place; true when it
 * fits (only a max smaller than the results without steps does not).
 */
bool	 proto_results_fit(json_t *res, size_t max);

/*
 * The last n bytes of s (NULL or "" gives NULL), from the start of a line
 * when one begins in them, never from inside a UTF-8 sequence: a new
 * JSON string, or NULL when what is left is not UTF-8.
 */
json_t	*proto_output_tail(const char *s, size_t n);

/* ---- P/agents/<host> ---- */

/* A fact that could not be read is NULL, or -1, or has_load false. */
struct proto_facts {
	const char *hostname;
	const char *os;
	const char *kernel;
	const char *arch;
	int64_t	 cpus;
	int64_t	 mem_total;
	int64_t	 mem_available;
	bool	 has_load;
	double	 load[3];
	int64_t	 disk_free;
	const char *agent;
	int64_t	 pid;
	int64_t	 started_unix;
};

/* New reference. */
json_t	*proto_facts_encode(const struct proto_facts *f);
void	 proto_facts_decode(const json_t *o, struct proto_facts *out);

#endif
