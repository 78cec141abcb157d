package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/model"
)

// TestServerKilledWithBatchesInFlight resets many accounts at once, so that
// their jobs travel to the agent in shared batches and their events come
// back in shared reports, then kills the server with SIGKILL at a random
// moment and starts it again. For every account, once its jobs have ended,
// the file must hold the value PassMan calls current, and the account must
// be InSync: no batch may lose a credential or leave a status that lies.
func TestServerKilledWithBatchesInFlight(t *testing.T) {
	p := startServerProc(t, "127.0.0.1")
	e := p.env(t)
	const n = 12
	files, paths := fileAccounts(t, p, n)
	ag := e.startAgent(p.enroll(t, "dc1"), nil)
	secrets := []string{initialV, p.vaultKey, p.token}

	for round := range 3 {
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i, path := range paths {
			wg.Go(func() {
				r, err := p.c.Reset(&api.ResetRequest{Path: path, Type: model.Password,
					Generate: true})
				if err != nil {
					t.Errorf("reset %s: %v", path, err)
					return
				}
				ids[i] = r.Job.ID
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		// The kill is meant to land at a random moment of the batches: no
		// poll would serve here.
		delay := rand.N(40 * time.Millisecond)
		time.Sleep(delay)
		p.restart(t)
		p.openVault(t)

		states := map[string]int{}
		for i, path := range paths {
			j := e.waitJob(ids[i])
			states[string(j.State)+" "+j.Reason]++
			a := e.waitSettled(path)
			if a.Status != model.InSync {
				t.Errorf("round %d: %s is %s %s, want InSync", round, path, a.Status,
					a.Credentials[0].Reason)
			}
			v := e.checkout(path, model.Password)
			secrets = append(secrets, v)
			if !fileHolds(t, files[i], v) {
				t.Errorf("round %d: %s does not hold the value PassMan calls current", round,
					files[i])
			}
		}
		t.Logf("round %d: killed %v after the resets; jobs: %v", round,
			delay.Round(time.Millisecond), states)
	}
	noSecretsIn(t, map[string]string{"server": p.logs.String(), "agent": ag.logs.String()},
		secrets)
}

// fileAccounts creates n file targets of zone dc1, each with one account
// whose file holds initialV, and returns the files and the accounts' paths.
func fileAccounts(t *testing.T, p *serverProc, n int) (files, paths []string) {
	t.Helper()
	if _, err := p.c.CreateFolder("apps"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range n {
		file := filepath.Join(dir, fmt.Sprintf("app%02d.env", i))
		if err := os.WriteFile(file, []byte("DB_PASSWORD="+initialV+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		tp := fmt.Sprintf("apps/app%02d", i)
		_, err := p.c.CreateTarget(&api.TargetCreateRequest{Path: tp, Type: "file",
			Address: "localhost", Zone: "dc1",
			Params: map[string]string{"path": file, "key": "DB_PASSWORD"}})
		if err == nil {
			_, err = p.c.CreateAccount(&api.AccountCreateRequest{Path: tp + "/db",
				Credentials: []api.CredentialSpec{{Type: model.Password, Value: sec(initialV)}}})
		}
		if err != nil {
			t.Fatal(err)
		}
		files, paths = append(files, file), append(paths, tp+"/db")
	}
	return files, paths
}
