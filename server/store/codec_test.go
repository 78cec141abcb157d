package store

import (
	stdjson "encoding/json"
	"reflect"
	"testing"
	"time"

	json "github.com/go-json-experiment/json/v1"
	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
)

// TestCodecMatchesEncodingJSON pins the store's JSON codec to what
// encoding/json writes and reads, byte for byte, so that records written
// by earlier versions read the same and audit digests stay valid.
func TestCodecMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 123456789, time.UTC)
	records := map[string]any{
		"job": &model.Job{ID: "j1", Kind: model.JobReset, AccountID: "a1", Path: "f/t/a",
			Type: model.Password, RequestedBy: "admin", ChangeOnTarget: true, Version: 3,
			State: model.JobRunning, Created: at, Deadline: at.Add(time.Minute), Zone: "dc1",
			AgentID: "ag1", Candidates: []uint64{2, 3}, PrevStatus: model.InSync,
			Steps: []model.JobStep{{State: model.JobWaitingAgent, At: at, Note: "a \"quoted\" <note>"}}},
		"empty job": &model.Job{},
		"target": &model.Node{ID: "n1", Kind: model.KindTarget, ParentID: "p", Name: "web01",
			Created: at, Type: "ssh", Address: "10.0.0.1:22", Zone: "dc1",
			Params: map[string]string{"b": "2", "a": "1 & é"}, HostKey: "ssh-ed25519 AAAA"},
		"account": &model.Node{ID: "n2", Kind: model.KindAccount, Name: "root",
			Policies:    map[model.CredentialType]string{model.Password: "strict"},
			Credentials: []model.CredentialType{model.Password, model.SSHKey},
			LastAction:  &model.Action{Op: "reset", By: "admin", At: at}},
		"credential": &model.Credential{AccountID: "n2", Type: model.Password, Current: 4,
			Pending: 5, Status: model.NotInSync, Reason: "auth_failed", CheckedAt: at,
			Violations: []string{"too short"}},
		"version": &model.Version{N: 4, Created: at, Sealed: []byte{0, 1, 2, 0xff}, JobID: "j1"},
		"audit": &audit.Record{Seq: 9, Time: at, Actor: "admin", Op: "account.reset",
			Outcome: audit.OK, Prev: []byte{1, 2}, Hash: []byte{3}},
	}
	for name, rec := range records {
		t.Run(name, func(t *testing.T) {
			want, err := stdjson.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("encoding differs:\n got %s\nwant %s", got, want)
			}
			back := reflect.New(reflect.TypeOf(rec).Elem()).Interface()
			if err := json.Unmarshal(want, back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(back, rec); diff != "" {
				t.Errorf("decoding differs (-got +want):\n%s", diff)
			}
		})
	}
}
