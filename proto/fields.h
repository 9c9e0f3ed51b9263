/*
 * The field names of every document of the contract between the
 * reconciler and the agents (docs/etcd-layout.md), defined once.  Both
 * sides read and write the documents through these names only, never
 * through a string literal of their own.
 *
 * Grouped by document: the head and deploy records (PROTO_HEAD_*), a
 * host's desired state (PROTO_DOC_*, its gates PROTO_GATE_* and steps
 * PROTO_STEP_*), the agent's report (PROTO_REPORT_* with its parts), the
 * step results (PROTO_RESULTS_*, PROTO_RESULT_*), the heartbeat
 * (PROTO_FACT_*) and the apply lock (PROTO_LOCK_*).  Values with a fixed
 * set of spellings (states, drift modes, gate reasons, step phases and
 * kinds, result statuses) are here too.
 */
#ifndef PROTO_FIELDS_H
#define PROTO_FIELDS_H

/* ---- P/fleet: which fleet the prefix holds ---- */

#define PROTO_FLEET_NAME		"name"	/* leura.yml's name */
#define PROTO_FLEET_AT			"at"	/* when recorded */
#define PROTO_FLEET_BY			"by"	/* by whom */

/* ---- P/desired/head and P/source/deploys/<N> (one record) ---- */

#define PROTO_HEAD_DEPLOY		"deploy"
#define PROTO_HEAD_GENERATION		"generation"
#define PROTO_HEAD_COMMIT		"commit"
#define PROTO_HEAD_TREE			"tree"
#define PROTO_HEAD_REF			"ref"
#define PROTO_HEAD_SUMMARY		"summary"
#define PROTO_HEAD_AUTHOR		"author"
#define PROTO_HEAD_BY			"by"
#define PROTO_HEAD_AT			"at"
#define PROTO_HEAD_ROLLBACK		"rollback"
#define PROTO_HEAD_HOSTS		"hosts"
#define PROTO_HEAD_HOSTS_WRITTEN	"hosts_written"
#define PROTO_HEAD_LEURA		"leura"
#define PROTO_HEAD_APPLY_ID		"apply_id"
#define PROTO_HEAD_PREVIOUS		"previous"	/* {deploy, commit} */
/* {svc: [hosts]}: turndowns of svc wait for it to validate there */
#define PROTO_HEAD_MAKE_BEFORE_BREAK	"make_before_break"
#define PROTO_HEAD_SKIPPED		"skipped"	/* [[lo,hi]...] */
/* the last member of a signed head or host document (doc.h) */
#define PROTO_SIGNATURE			"signature"

/* ---- P/desired/hosts/<host>/<G>/<sha256>: a host's desired state ---- */

/* the stamp: in the stored value, not in the hashed canonical text */
#define PROTO_DOC_COMMIT		"commit"
#define PROTO_DOC_DEPLOY		"deploy"
#define PROTO_DOC_GENERATION		"generation"
/* the canonical text */
#define PROTO_DOC_SERVICES		"services"
#define PROTO_DOC_STEPS			"steps"
#define PROTO_DOC_DEPENDS_ON		"depends_on"
#define PROTO_DOC_GATES			"gates"
#define PROTO_DOC_DRIFT			"drift"
#define PROTO_DOC_DRIFT_INTERVAL_MS	"drift_interval_ms"
#define PROTO_DOC_REMOVED		"removed"	/* tombstones only */

/* doc.gates[svc][i] */
#define PROTO_GATE_SERVICE		"service"
#define PROTO_GATE_HOSTS		"hosts"
#define PROTO_GATE_WHY			"why"
#define PROTO_GATE_WHY_DEPENDS_ON	"depends_on"
#define PROTO_GATE_WHY_ROLLOUT		"rollout"

/* doc.drift[svc] */
#define PROTO_DRIFT_REPAIR		"repair"
#define PROTO_DRIFT_REPORT		"report"

/* doc.steps[i]: the compiled step (reconciler/reconcile/steps.c) */
#define PROTO_STEP_ID			"id"	/* svc/role/phase/name */
#define PROTO_STEP_SERVICE		"service"
#define PROTO_STEP_ROLE			"role"
#define PROTO_STEP_PHASE		"phase"
#define PROTO_STEP_NAME			"name"
#define PROTO_STEP_KIND			"kind"
#define PROTO_STEP_SCRIPT		"script"
#define PROTO_STEP_SHELL		"shell"
#define PROTO_STEP_SCRIPT_FILE		"script_file"
#define PROTO_STEP_DEST			"dest"
#define PROTO_STEP_SRC			"src"
#define PROTO_STEP_SHA256		"sha256"
#define PROTO_STEP_SIZE			"size"
#define PROTO_STEP_MODE			"mode"
#define PROTO_STEP_OWNER		"owner"
#define PROTO_STEP_GROUP		"group"
#define PROTO_STEP_URL			"url"
#define PROTO_STEP_METHOD		"method"
#define PROTO_STEP_BODY			"body"
#define PROTO_STEP_HEADERS		"headers"
#define PROTO_STEP_EXPECT_STATUS	"expect_status"
#define PROTO_STEP_USE			"use"
#define PROTO_STEP_WITH			"with"
#define PROTO_STEP_EXEC_SHA256		"exec_sha256"
#define PROTO_STEP_ENV			"env"
#define PROTO_STEP_CREATES		"creates"
#define PROTO_STEP_UNLESS		"unless"
#define PROTO_STEP_CWD			"cwd"
#define PROTO_STEP_RUN_AS		"run_as"
#define PROTO_STEP_TIMEOUT_MS		"timeout_ms"
#define PROTO_STEP_RETRIES		"retries"
#define PROTO_STEP_WHEN_CHANGED		"when_changed"
#define PROTO_STEP_VALIDATE		"validate"	/* file steps */
/*
 * A task's steps (reconcile/task.h): "on_failure" ("stop"|"continue",
 * the step's or else the task's), and an approval step's "approval":
 * {"groups","timeout_ms"|null,"self_approval"}
 */
#define PROTO_STEP_ON_FAILURE		"on_failure"
#define PROTO_STEP_APPROVAL		"approval"

/*
 * doc.steps[i].phase and .kind: the names specs/ gives them
 * (spec_phase_name(), spec_step_kind_name()), which compile writes
 */
#define PROTO_PHASE_CONVERGE		"converge"
#define PROTO_PHASE_VALIDATE		"validate"
#define PROTO_PHASE_TURNDOWN		"turndown"
#define PROTO_KIND_SCRIPT		"script"
#define PROTO_KIND_FILE			"file"
#define PROTO_KIND_HTTP			"http"
#define PROTO_KIND_APPROVAL		"approval"
#define PROTO_KIND_USE			"use"

/* ---- P/observed/<host>: the agent's report ---- */

#define PROTO_REPORT_GENERATION		"generation"
#define PROTO_REPORT_HEAD		"head"
#define PROTO_REPORT_DEPLOY		"deploy"
#define PROTO_REPORT_STATE		"state"
#define PROTO_REPORT_AT			"at"
#define PROTO_REPORT_AT_UNIX		"at_unix"
#define PROTO_REPORT_AGENT		"agent"
#define PROTO_REPORT_RUN		"run"		/* PROTO_RUN_* */
#define PROTO_REPORT_CURRENT		"current"
#define PROTO_REPORT_WAITING		"waiting"
#define PROTO_REPORT_WAITING_FOR	"waiting_for"	/* PROTO_WAITING_* */
#define PROTO_REPORT_FAILED_STEPS	"failed_steps"	/* PROTO_FAILED_* */
#define PROTO_REPORT_FAILED_STEPS_LEFT_OUT "failed_steps_left_out"
#define PROTO_REPORT_SERVICES		"services"	/* {svc: {validated}} */
#define PROTO_REPORT_DRIFT		"drift"		/* PROTO_DRIFTED_* */
#define PROTO_REPORT_DRIFT_LEFT_OUT	"drift_left_out"
#define PROTO_REPORT_CHECKED_UNIX_MS	"checked_unix_ms"
#define PROTO_REPORT_INTERRUPTED	"interrupted"	/* [step id] */
#define PROTO_REPORT_REFUSED		"refused"	/* PROTO_REFUSED_* */

/* report.refused: the last document or head the agent refused */
#define PROTO_REFUSED_KEY		"key"
#define PROTO_REFUSED_ERROR		"error"
#define PROTO_REFUSED_HINT		"hint"
#define PROTO_REFUSED_AT_UNIX		"at_unix"

/* report.state */
#define PROTO_STATE_CONVERGING		"converging"
#define PROTO_STATE_CONVERGED		"converged"
#define PROTO_STATE_FAILED		"failed"
#define PROTO_STATE_DRIFTED		"drifted"

/* report.run */
#define PROTO_RUN_ID			"id"	/* GGGGGGGGGGGG-MS */
#define PROTO_RUN_STARTED_UNIX_MS	"started_unix_ms"
#define PROTO_RUN_STEPS			"steps"
#define PROTO_RUN_DONE			"done"
#define PROTO_RUN_DURATION_MS		"duration_ms"	/* once it ended */

/* report.waiting_for */
#define PROTO_WAITING_SERVICE		"service"
#define PROTO_WAITING_HOST		"host"

/* report.failed_steps[i] */
#define PROTO_FAILED_ID			"id"
#define PROTO_FAILED_EXIT		"exit"
#define PROTO_FAILED_ERROR		"error"
#define PROTO_FAILED_OUTPUT		"output"

/* report.drift[i] */
#define PROTO_DRIFTED_ID		"id"
#define PROTO_DRIFTED_DETAIL		"detail"

/* report.services[svc] */
#define PROTO_SERVICE_VALIDATED		"validated"

/* ---- P/results/<host>: the step results of the last converge run ---- */

#define PROTO_RESULTS_GENERATION	"generation"
#define PROTO_RESULTS_RUN		"run"
#define PROTO_RESULTS_STEPS		"steps"
#define PROTO_RESULTS_STEPS_LEFT_OUT	"steps_left_out"

/* results.steps[i] */
#define PROTO_RESULT_ID			"id"
#define PROTO_RESULT_STATUS		"status"
#define PROTO_RESULT_CHANGED		"changed"
#define PROTO_RESULT_RAN		"ran"
#define PROTO_RESULT_REASON		"reason"
#define PROTO_RESULT_STARTED_UNIX_MS	"started_unix_ms"
#define PROTO_RESULT_DURATION_MS	"duration_ms"
#define PROTO_RESULT_ATTEMPTS		"attempts"
#define PROTO_RESULT_EXIT		"exit"
#define PROTO_RESULT_SIGNAL		"signal"
#define PROTO_RESULT_TIMED_OUT		"timed_out"
#define PROTO_RESULT_ERROR		"error"
#define PROTO_RESULT_MESSAGE		"message"
#define PROTO_RESULT_OUTPUT		"output"

/* results.steps[i].status */
#define PROTO_STATUS_OK			"ok"
#define PROTO_STATUS_CHANGED		"changed"
#define PROTO_STATUS_SKIPPED		"skipped"
#define PROTO_STATUS_FAILED		"failed"
#define PROTO_STATUS_ABORTED		"aborted"	/* never published */

/* ---- P/agents/<host>: the heartbeat and the host's facts ---- */

#define PROTO_FACT_HOSTNAME		"hostname"
#define PROTO_FACT_OS			"os"
#define PROTO_FACT_KERNEL		"kernel"
#define PROTO_FACT_ARCH			"arch"
#define PROTO_FACT_CPUS			"cpus"
#define PROTO_FACT_MEM_TOTAL		"mem_total"
#define PROTO_FACT_MEM_AVAILABLE	"mem_available"
#define PROTO_FACT_LOAD			"load"		/* [1, 5, 15 min] */
#define PROTO_FACT_DISK_FREE		"disk_free"
#define PROTO_FACT_AGENT		"agent"
#define PROTO_FACT_PID			"pid"
#define PROTO_FACT_STARTED_UNIX		"started_unix"

/* ---- P/locks/apply ---- */

#define PROTO_LOCK_BY			"by"
#define PROTO_LOCK_AT			"at"
#define PROTO_LOCK_PID			"pid"

#endif
