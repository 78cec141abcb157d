package e2e

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/internal/testtarget/netns"
	"github.com/passman-dev/passman/internal/testtarget/sshd"
	"github.com/passman-dev/passman/server/model"
)

// sshZone is the zone of the agents that reach the sshd of a lab.
const sshZone = "lab"

// requireRoot skips a test that needs root when not run as root, except
// in CI, where such a test must run and fails instead.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root for network namespaces, sshd and local users")
	}
	t.Fatal("needs root for network namespaces, sshd and local users")
}

// sshLab is an sshd on the loopback of a network namespace, which only
// processes inside the namespace reach, and the veth pair through which
// they reach the server's NATS.
type sshLab struct {
	ns   *netns.NS
	link netns.Veth
	sshd *sshd.Server
}

// newSSHLab starts an sshd inside a new network namespace and makes sure
// the test process cannot reach it.
func newSSHLab(t *testing.T) *sshLab {
	t.Helper()
	ns := netns.New(t)
	lab := &sshLab{ns: ns, link: ns.Link(t), sshd: sshd.Start(t, sshd.Options{NS: ns})}
	if c, err := net.DialTimeout("tcp", lab.sshd.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("sshd at %s answers the root namespace; it must be reachable only from %s",
			lab.sshd.Addr, ns.Name)
	}
	return lab
}

// serverConfig is a test server whose NATS listens on the veth address
// the namespace reaches.
func (l *sshLab) serverConfig() testserver.Config {
	host := l.link.HostAddr.String()
	return testserver.Config{NATSHost: host, Hosts: []string{host}}
}

// login logs in from inside the namespace, as someone outside PassMan
// would, checking the sshd's host key, and runs true.
func (l *sshLab) login(user string, auth ssh.AuthMethod) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l.sshd.HostKey))
	if err != nil {
		return fmt.Errorf("parsing the host key: %w", err)
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.FixedHostKey(key), Timeout: 10 * time.Second}
	return l.ns.Do(func() error {
		c, err := ssh.Dial("tcp", l.sshd.Addr, cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Run("true")
	})
}

// wantLogin fails the test unless user logs in with auth.
func (l *sshLab) wantLogin(t *testing.T, what, user string, auth ssh.AuthMethod) {
	t.Helper()
	if err := l.login(user, auth); err != nil {
		t.Errorf("logging in as %s with %s: %v", user, what, err)
	}
}

// wantRefused fails the test unless the sshd refuses user with auth.
func (l *sshLab) wantRefused(t *testing.T, what, user string, auth ssh.AuthMethod) {
	t.Helper()
	err := l.login(user, auth)
	switch {
	case err == nil:
		t.Errorf("logging in as %s with %s worked; it must be refused", user, what)
	case !strings.Contains(err.Error(), "unable to authenticate"):
		t.Errorf("logging in as %s with %s: %v; want an authentication failure", user, what, err)
	}
}

// credentialAuth returns the SSH authentication that a credential's value
// gives: a password, or the private key of an ssh-key.
func credentialAuth(t *testing.T, typ model.CredentialType, value string) ssh.AuthMethod {
	t.Helper()
	if typ == model.Password {
		return ssh.Password(value)
	}
	signer, err := ssh.ParsePrivateKey([]byte(value))
	if err != nil {
		t.Fatalf("parsing an ssh-key value: %v", err)
	}
	return ssh.PublicKeys(signer)
}

// secretForms returns the strings a log must not hold for a credential
// value: the value itself and, for a PEM private key, its base64 body
// whole and line by line. The first line of a body is left out: every
// unencrypted OpenSSH ed25519 key starts with the same header.
func secretForms(value string) []string {
	out := []string{value}
	block, _ := pem.Decode([]byte(value))
	if block == nil {
		return out
	}
	out = append(out, base64.StdEncoding.EncodeToString(block.Bytes))
	var body []string
	for _, line := range strings.Split(value, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			body = append(body, line)
		}
	}
	if len(body) > 1 {
		out = append(out, body[1:]...)
	}
	return out
}

// noSecretsIn fails the test if any form of any secret appears in any of
// the named logs.
func noSecretsIn(t *testing.T, logs map[string]string, secrets []string) {
	t.Helper()
	var forms []string
	for _, s := range secrets {
		forms = append(forms, secretForms(s)...)
	}
	for name, l := range logs {
		if l == "" {
			t.Errorf("the %s log is empty: nothing was scanned", name)
		}
		for i, s := range forms {
			if len(s) >= 8 && strings.Contains(l, s) {
				t.Errorf("a secret (form %d) appears in the %s log", i, name)
			}
		}
	}
}

// on returns a copy of e that reports to t, for use in a subtest.
func (e *env) on(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// resetOutput is what `passman account reset --wait -o json` prints: the
// job it started, then every job it waited for.
type resetOutput struct {
	started *api.JobResponse
	ended   []*model.Job
}

// last returns the last job the command waited for: the reset, or the
// resolve job that settled it.
func (r *resetOutput) last(t testing.TB) *model.Job {
	t.Helper()
	if len(r.ended) == 0 {
		t.Fatal("the reset waited for no job")
	}
	return r.ended[len(r.ended)-1]
}

// parseResetOutput decodes the JSON document a waiting reset prints: its
// answer and the jobs it waited for.
func parseResetOutput(t testing.TB, out string) *resetOutput {
	t.Helper()
	var doc struct {
		Started *api.JobResponse `json:"started"`
		Ended   []*model.Job     `json:"ended"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Started == nil {
		t.Fatalf("decoding the reset's output: %v\n%s", err, out)
	}
	return &resetOutput{started: doc.Started, ended: doc.Ended}
}
