package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/internal/secret"
)

// serverProc is `passman server run` as a process of its own, so that a
// test can kill it with SIGKILL and start it again on the same data
// directory and addresses.
type serverProc struct {
	dir      string
	apiAddr  string
	natsAddr string
	caPath   string
	// vaultKey and token are the secrets server init printed.
	vaultKey string
	token    string
	// c is a client with the administrator's token.
	c *client.Client
	// logs holds the output of every run of the process.
	logs *logbuf.Buffer

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// startServerProc initialises a data directory whose certificate also
// covers natsHost, starts the server with its NATS on natsHost, and opens
// the vault. The process is killed at cleanup.
func startServerProc(t *testing.T, natsHost string) *serverProc {
	t.Helper()
	p := &serverProc{dir: filepath.Join(t.TempDir(), "server"), logs: &logbuf.Buffer{},
		apiAddr: freeAddr(t, "127.0.0.1"), natsAddr: freeAddr(t, natsHost)}
	p.init(t, natsHost)
	ca, err := os.ReadFile(p.caPath)
	if err != nil {
		t.Fatal(err)
	}
	p.c, err = client.New(client.Config{Addr: p.apiAddr, Token: secret.FromString(p.token),
		CACert: ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("server logs:\n%s", p.logs.String())
		}
	})
	p.start(t)
	p.openVault(t)
	return p
}

// init runs server init and keeps the secrets it prints.
func (p *serverProc) init(t *testing.T, natsHost string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "passman"), "server", "init", "--data", p.dir,
		"--hostname", "localhost", "--hostname", "127.0.0.1", "--hostname", natsHost, "-o", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("passman server init: %v: %s", err, stderr.String())
	}
	var boot struct {
		VaultKey   string `json:"vault_key"`
		AdminToken string `json:"admin_token"`
		CACert     string `json:"ca_cert"`
	}
	if err := json.Unmarshal(out, &boot); err != nil {
		t.Fatalf("decoding server init's output: %v", err)
	}
	if boot.VaultKey == "" || boot.AdminToken == "" || boot.CACert == "" {
		t.Fatal("server init printed no vault key, admin token or CA certificate")
	}
	p.vaultKey, p.token, p.caPath = boot.VaultKey, boot.AdminToken, boot.CACert
}

// start runs the server and waits until its API answers.
func (p *serverProc) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(filepath.Join(bin, "passman"), "server", "run", "--data", p.dir,
		"--listen", p.apiAddr, "--nats-listen", p.natsAddr, "--log-level", "debug")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting the server: %v", err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) {
		p.err = cmd.Wait()
		close(exited)
	}(p.cmd)
	waitFor(t, "the server to answer", func() bool {
		select {
		case <-exited:
			t.Fatalf("the server exited: %v\n%s", p.err, p.logs.String())
		default:
		}
		return p.c.Health() == nil
	})
}

// kill ends the server with SIGKILL, as a crash would, and waits for it.
func (p *serverProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// restart kills the server and starts it again, with its vault closed
// until openVault.
func (p *serverProc) restart(t *testing.T) {
	t.Helper()
	p.kill()
	p.start(t)
}

// openVault opens the vault with the key server init printed.
func (p *serverProc) openVault(t *testing.T) {
	t.Helper()
	key := api.NewSecret(secret.FromString(p.vaultKey))
	if _, err := p.c.OpenVault(&api.VaultOpenRequest{Key: key}); err != nil {
		t.Fatalf("opening the vault: %v", err)
	}
}

// passman runs the CLI against the server with the administrator's token
// and returns its stdout.
func (p *serverProc) passman(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "passman"), args...)
	cmd.Env = append(os.Environ(),
		client.EnvAddr+"=https://"+p.apiAddr,
		client.EnvToken+"="+p.token,
		client.EnvCACert+"="+p.caPath)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("passman %s: %v: %s", strings.Join(args, " "), err,
			errb.String())
	}
	return out.String(), nil
}

// enroll enrolls an agent of zone with the CLI and returns its data
// directory.
func (p *serverProc) enroll(t *testing.T, zone string) string {
	t.Helper()
	tok, err := p.c.CreateAgentToken(&api.AgentTokenRequest{Zone: zone})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "agent")
	_, err = p.passman(tok.Token+"\n", "agent", "enroll", "--server", "https://"+p.apiAddr,
		"--token-stdin", "--data", dir, "--name", zone+"-agent")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// env returns an env on the server for the harness helpers that need only
// a client: startAgent, waitJob, waitSettled and checkout. Its srv is
// nil, so passman, enroll and noSecrets are not for it.
func (p *serverProc) env(t *testing.T) *env {
	return &env{t: t, c: p.c}
}

// freeAddr returns host and a port that is free on it now.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("finding a free port on %s: %v", host, err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
