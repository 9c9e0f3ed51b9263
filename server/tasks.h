/*
 * Tasks as code through the API (tk_*, tasks.c; docs/server.md, "Tasks
 * as code"): list and read the tasks of the source's branch, and create,
 * change or delete one as a commit on that branch.
 *
 *   GET    /v1/tasks           ?search=TEXT: the tasks the caller may
 *                              read, with targets, hosts, schedule (next
 *                              fire times), declared params and last run
 *   GET    /v1/tasks/{task}    one, with its YAML and the commit
 *   POST   /v1/tasks/{task}    {yaml, message}: create (409 when it
 *                              exists)
 *   PUT    /v1/tasks/{task}    {yaml, message, expect_commit}: change
 *   DELETE /v1/tasks/{task}    ?expect_commit=&message=: remove
 *
 * Writes need admin on tasks/<task>; each is one commit authored by the
 * caller, made only when the whole repo loads at the tree it would make
 * (422 with every diagnostic otherwise), and the branch moves with a
 * compare-and-swap: a commit made meanwhile answers 409, never loses an
 * edit.
 */
#ifndef SRV_TASKS_H
#define SRV_TASKS_H

struct srv;

void	tk_routes(struct srv *s);

#endif
