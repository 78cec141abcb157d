package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server"
	"github.com/passman-dev/passman/server/model"
)

// natsServerProc is a nats-server process built from the same module the
// embedded server comes from, configured as an operator would.
type natsServerProc struct {
	cmd  *exec.Cmd
	conf string
	logs *logbuf.Buffer
	addr string
}

// startExternalNATS starts nats-server with TLS from the PassMan data
// directory's certificate, JetStream, and the authorization block given.
func startExternalNATS(t *testing.T, dataDir, authorization string) *natsServerProc {
	t.Helper()
	exe := filepath.Join(bin, "nats-server")
	if _, err := os.Stat(exe); err != nil {
		out, err := exec.Command("go", "build", "-o", exe, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			t.Fatalf("building nats-server: %v\n%s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := &natsServerProc{conf: filepath.Join(t.TempDir(), "nats.conf"), logs: &logbuf.Buffer{},
		addr: addr}
	n.write(t, dataDir, authorization)
	n.cmd = exec.Command(exe, "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.cmd.Process.Kill(); _ = n.cmd.Wait() })
	waitFor(t, "nats-server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return n
}

func (n *natsServerProc) write(t *testing.T, dataDir, authorization string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(n.addr)
	conf := fmt.Sprintf(`host: %q
port: %s
jetstream { store_dir: %q }
tls {
  cert_file: %q
  key_file: %q
}
%s`, host, port, filepath.Join(filepath.Dir(n.conf), "js"),
		filepath.Join(dataDir, "server.pem"), filepath.Join(dataDir, "server-key.pem"), authorization)
	if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload applies a new authorization block, as an operator does after an
// enrollment.
func (n *natsServerProc) reload(t *testing.T, dataDir, authorization string) {
	t.Helper()
	n.write(t, dataDir, authorization)
	before := len(n.logs.String())
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nats-server to reload", func() bool {
		return len(n.logs.String()) > before
	})
}

func TestExternalNATS(t *testing.T) {
	dir := t.TempDir()
	boot, err := server.Init(dir, server.InitOptions{Vault: testserver.FastVault,
		Hosts: []string{"localhost", "127.0.0.1"}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "nats-server.nk"))
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.FromSeed(seed)
	serverKey, _ := kp.PublicKey()
	nats := startExternalNATS(t, dir, fmt.Sprintf("authorization { users = [ { nkey: %q } ] }\n", serverKey))

	s := testserver.Adopt(t, dir, boot, testserver.Config{NATSURL: "tls://" + nats.addr})
	e := &env{t: t, srv: s, c: s.Admin}
	file := e.fileTarget("ext")
	agentDir := e.enroll("ext")
	cfg, err := e.c.NATSConfig()
	if err != nil {
		t.Fatal(err)
	}
	nats.reload(t, dir, cfg.Authorization)
	ag := e.startAgent(agentDir, nil)

	r, err := e.c.Reset(&api.ResetRequest{Path: appPath, Type: model.Password, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	if j := e.waitJob(r.Job.ID); j.State != model.JobSucceeded {
		t.Fatalf("job through the external NATS: %s %s %q", j.State, j.Reason, j.Outcome)
	}
	// The agent took the job offered directly: its answer went through
	// the cluster's permissions.
	if logs := s.Logs.String(); !strings.Contains(logs, "jobs taken: job_id="+r.Job.ID) {
		t.Error("the job was not taken when offered")
	}
	v := e.checkout(appPath, model.Password)
	if !fileHolds(t, file, v) {
		t.Error("the file does not hold the value PassMan calls current")
	}
	e.noSecrets([]*agentProc{ag}, v, initialV)
}
