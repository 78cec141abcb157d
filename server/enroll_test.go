package server_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/service"
)

// enrollRequest makes the request of a new agent with fresh keys.
func enrollRequest(t *testing.T, token string) *api.EnrollRequest {
	t.Helper()
	keys, err := wire.NewKeys("")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return &api.EnrollRequest{Token: sec(token), Name: "edge-1", HPKEKey: keys.HPKEPublic(),
		SigningKey: keys.SigningPublic(), NATSKey: pub, Version: "test"}
}

func TestEnrollmentTokens(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	s := testserver.StartWith(t, testserver.Config{Service: service.Options{Now: clk.now}})
	c := s.Admin
	anon := s.Client(t, nil)

	tok := must[*api.AgentToken](t)(c.CreateAgentToken(&api.AgentTokenRequest{Zone: "dmz"}))
	res := must[*api.EnrollResponse](t)(anon.Enroll(enrollRequest(t, tok.Token)))
	if res.Zone != "dmz" || res.AgentID == "" || len(res.NATS) == 0 || res.CACert == "" {
		t.Fatalf("enrollment = %+v", res)
	}
	expiring := must[*api.AgentToken](t)(c.CreateAgentToken(&api.AgentTokenRequest{Zone: "dmz",
		TTLSeconds: 60}))
	bad := enrollRequest(t, "pm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	bad.SigningKey = ed25519.PublicKey{1, 2, 3}

	before := dump(t, s)
	cases := []struct {
		name string
		req  *api.EnrollRequest
		code api.Code
	}{
		{"token used once already", enrollRequest(t, tok.Token), api.CodeUnauthenticated},
		{"unknown token", enrollRequest(t, "pm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
			api.CodeUnauthenticated},
		{"not a token", enrollRequest(t, "hello"), api.CodeUnauthenticated},
		{"malformed key", bad, api.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := anon.Enroll(tc.req)
			wantCode(t, err, tc.code)
		})
	}
	t.Run("expired token", func(t *testing.T) {
		clk.advance(2 * time.Minute)
		_, err := anon.Enroll(enrollRequest(t, expiring.Token))
		wantCode(t, err, api.CodeUnauthenticated)
	})
	if diff := cmp.Diff(dump(t, s), before); diff != "" {
		t.Errorf("refused enrollments changed the database (-got +want):\n%s", diff)
	}
	agents := must[*api.AgentList](t)(c.ListAgents())
	if len(agents.Agents) != 1 || agents.Agents[0].Online {
		t.Errorf("agents = %+v, want the one enrolled, offline", agents.Agents)
	}
	s.CheckLogs(t, tok.Token, expiring.Token)
}
