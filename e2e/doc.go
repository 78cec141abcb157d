// Package e2e holds PassMan's end-to-end tests: a real server with its
// embedded NATS, real agents started as `passman agent run` processes,
// real driver plugins, and real targets (files, an OpenSSH sshd in a
// network namespace that only the agent can reach). The tests try to break
// the invariants of the job flow: lost agents, a killed server, replayed,
// forged and late messages.
package e2e
