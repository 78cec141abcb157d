package agent

import "github.com/passman-dev/passman/internal/wire"

// Permissions returns the only NATS subjects an agent may publish to and
// subscribe to, the ones the server gives its NATS user:
//
//   - publish: pull the next job from its own consumer, read that
//     consumer's info, acknowledge its jobs, ask the server to start
//     jobs, and send its reports, events and heartbeats;
//   - subscribe: its own inbox, where pulled jobs and the answers to its
//     requests arrive, and its own offers of jobs;
//   - answer: one reply to each offer, within wire.AnswerWindow.
//
// So an agent takes only its own jobs, through its durable consumer, and
// speaks only for itself. It cannot create or delete streams or
// consumers, read a job subject directly, or reach another agent's
// subjects. The list is wire.AgentPermissions, which the server uses.
func Permissions(agentID string) (pub, sub []string) {
	return wire.AgentPermissions(agentID)
}
