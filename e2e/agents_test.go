package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/service"
)

// fileAccounts creates n file targets in zone, each with one account whose
// value the file holds, and returns the accounts' paths.
func (e *env) fileAccounts(zone string, n int) []string {
	e.t.Helper()
	dir := e.t.TempDir()
	if _, err := e.c.CreateFolder("fleet"); err != nil {
		e.t.Fatal(err)
	}
	var paths []string
	for i := range n {
		file := filepath.Join(dir, fmt.Sprintf("app%d.env", i))
		if err := os.WriteFile(file, []byte("DB_PASSWORD="+initialV+"\n"), 0o600); err != nil {
			e.t.Fatal(err)
		}
		tp := fmt.Sprintf("fleet/app%d", i)
		_, err := e.c.CreateTarget(&api.TargetCreateRequest{Path: tp, Type: "file", Address: "localhost",
			Zone: zone, Params: map[string]string{"path": file, "key": "DB_PASSWORD"}})
		if err != nil {
			e.t.Fatal(err)
		}
		_, err = e.c.CreateAccount(&api.AccountCreateRequest{Path: tp + "/db",
			Credentials: []api.CredentialSpec{{Type: model.Password, Value: sec(initialV)}}})
		if err != nil {
			e.t.Fatal(err)
		}
		paths = append(paths, tp+"/db")
	}
	return paths
}

func TestJobsSpreadAcrossAZonesAgents(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	paths := e.fileAccounts("dc1", 12)
	a := e.startAgent(e.enroll("dc1"), nil)
	b := e.startAgent(e.enroll("dc1"), nil)
	var ids []string
	for _, p := range paths {
		r, err := e.c.Reset(&api.ResetRequest{Path: p, Type: model.Password, Generate: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.Job.ID)
	}
	ran := map[string]int{}
	for _, id := range ids {
		j := e.waitJob(id)
		if j.State != model.JobSucceeded {
			t.Fatalf("job %s: %s %q", id, j.State, j.Outcome)
		}
		ran[j.AgentID]++
	}
	if ran[a.id] == 0 || ran[b.id] == 0 {
		t.Errorf("jobs per agent = %v; both agents of the zone should have run some", ran)
	}

	// Check Credentials on every account at once.
	res, err := e.c.Check(&api.CheckRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != len(paths) {
		t.Fatalf("check --all started %d jobs, want %d", len(res.Jobs), len(paths))
	}
	for _, j := range res.Jobs {
		if got := e.waitJob(j.ID); got.State != model.JobSucceeded {
			t.Errorf("check of %s: %s %s", j.Path, got.State, got.Reason)
		}
	}
	list, err := e.c.ListAccounts("", "", model.InSync)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Accounts) != len(paths) {
		t.Errorf("%d accounts InSync, want %d", len(list.Accounts), len(paths))
	}
}

func TestAgentShownOfflineWhenHeartbeatsStop(t *testing.T) {
	e := newEnv(t, testserver.Config{Service: service.Options{AgentLive: time.Second}})
	dir := e.enroll("dc1")
	a := e.startAgentArgs(dir, "--heartbeat", "200ms")
	list, err := e.c.ListAgents()
	if err != nil {
		t.Fatal(err)
	}
	ag := list.Agents[0]
	if !ag.Online || ag.Zone != "dc1" || len(ag.Drivers) == 0 || ag.Version == "" {
		t.Fatalf("agent = %+v, want online in dc1 with its drivers and version", ag)
	}
	a.stop()
	waitFor(t, "the agent to show offline", func() bool {
		list, err := e.c.ListAgents()
		return err == nil && !list.Agents[0].Online
	})
}

func TestAutoResetChangesTheTarget(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	file := e.fileTarget("dc1")
	e.startAgent(e.enroll("dc1"), nil)
	co, err := e.c.Checkout(&api.CheckoutRequest{Path: appPath, Type: model.Password, ForSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Checkin(&api.CheckinRequest{Path: appPath}); err != nil {
		t.Fatal(err)
	}
	a := e.waitSettled(appPath)
	now := e.checkout(appPath, model.Password)
	if a.Status != model.InSync || now == co.Value || !fileHolds(t, file, now) {
		t.Fatalf("after checkin: %s; the value seen at checkout still current: %v",
			a.Status, now == co.Value)
	}
}

func TestTargetParamsCheckedAgainstTheDriver(t *testing.T) {
	e := newEnv(t, testserver.Config{})
	e.startAgent(e.enroll("dc1"), nil)
	waitFor(t, "the agent to describe its drivers", func() bool {
		_, err := e.c.CreateTarget(&api.TargetCreateRequest{Path: "probe", Type: "file",
			Address: "localhost", Zone: "dc1", Params: map[string]string{"path": "/x", "key": "K"}})
		return err == nil
	})
	cases := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"missing a required parameter", map[string]string{"path": "/etc/app.env"}, "key"},
		{"unknown parameter", map[string]string{"path": "/x", "key": "K", "colour": "red"}, "colour"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CreateTarget(&api.TargetCreateRequest{Path: fmt.Sprintf("t%d", i),
				Type: "file", Address: "localhost", Zone: "dc1", Params: tc.params})
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != api.CodeInvalidArgument ||
				!strings.Contains(ae.Message, tc.want) {
				t.Fatalf("error = %v, want invalid_argument naming %q", err, tc.want)
			}
		})
	}
	tgt, err := e.c.CreateTarget(&api.TargetCreateRequest{Path: "other", Type: "nosuchdriver",
		Address: "localhost", Zone: "dc1"})
	if err != nil || len(tgt.Warnings) == 0 {
		t.Errorf("a target of an unreported driver: %v, warnings %v", err, tgt.Warnings)
	}
}
