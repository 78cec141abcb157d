package agent

import "github.com/passman-dev/passman/internal/wire"

// Permissions returns the only NATS subjects an agent may publish to and
// subscribe to. The server gives an agent's NATS user exactly these, so
// that an agent can take only its own jobs, through its own durable
// consumer, and speak only for itself:
//
//   - publish: pull the next job from its consumer, read that consumer's
//     info, acknowledge its jobs, and send its events and heartbeats;
//   - subscribe: its own inbox, where pulled jobs and JetStream's answers
//     arrive.
//
// It cannot create or delete streams or consumers, read the job subjects
// directly, or reach another agent's subjects.
func Permissions(agentID string) (pub, sub []string) {
	consumer := wire.JobStream + "." + wire.ConsumerName(agentID)
	pub = []string{
		"$JS.API.CONSUMER.MSG.NEXT." + consumer,
		"$JS.API.CONSUMER.INFO." + consumer,
		"$JS.ACK." + consumer + ".>",
		wire.EventSubject(agentID),
		wire.HeartbeatSubject(agentID),
	}
	sub = []string{wire.InboxPrefix(agentID) + ".>"}
	return pub, sub
}
