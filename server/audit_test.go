package server_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// auditActivity makes a mix of requests that leave audit records:
// successes, refusals and failed logins. It returns the secrets it used or
// was given.
func auditActivity(t *testing.T, s *testserver.Server) []string {
	t.Helper()
	c := s.Admin
	const path = "f/web/root"
	const first, typed = "Initial-Passw0rd!xyzxyzxyz", "Typed-Passw0rd!abcdefghijk"
	const wrongPassword, wrongKey = "bob-Wrong-Password-9", "wrong-vault-key-0123456789"
	pw := model.Password
	demo(t, c, first)
	must[*api.User](t)(c.CreateUser(&api.UserCreateRequest{Name: "bob",
		Password: sec(userPassword("bob"))}))
	tok := must[*api.LoginResponse](t)(c.Login(&api.LoginRequest{User: "bob",
		Password: sec(userPassword("bob"))})).Token
	bob := s.Client(t, []byte(tok))
	grant(t, c, "f", "bob", "read")
	must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: path, Type: pw, Value: sec(typed),
		DatabaseOnly: true}))
	must[*api.JobResponse](t)(c.Reset(&api.ResetRequest{Path: path, Type: pw, Generate: true,
		DatabaseOnly: true}))
	must[*api.JobResponse](t)(c.Restore(&api.RestoreRequest{Path: path, Type: pw, Revision: 1,
		DatabaseOnly: true}))
	generated := must[*api.CheckoutResponse](t)(c.Checkout(&api.CheckoutRequest{Path: path,
		Type: pw, ForSeconds: 600})).Value
	must[*api.Account](t)(c.Checkin(&api.CheckinRequest{Path: path}))
	key := must[*api.VaultKeyAddResponse](t)(c.AddVaultKey(&api.VaultKeyAddRequest{
		Name: "backup", Generate: true})).GeneratedKey

	_, err := bob.Checkout(&api.CheckoutRequest{Path: path, Type: pw})
	wantCode(t, err, api.CodeForbidden)
	_, err = c.Login(&api.LoginRequest{User: "bob", Password: sec(wrongPassword)})
	wantCode(t, err, api.CodeUnauthenticated)
	_, err = c.OpenVault(&api.VaultOpenRequest{Key: sec(wrongKey)})
	wantCode(t, err, api.CodeWrongVaultKey)
	return []string{first, typed, generated, userPassword("bob"), wrongPassword, wrongKey, key,
		tok, string(s.Bootstrap.VaultKey.Reveal()), string(s.Bootstrap.AdminToken.Reveal())}
}

func TestAuditChainVerifies(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	secrets := auditActivity(t, s)
	v := must[*api.AuditVerify](t)(s.Admin.VerifyAudit())
	if !v.OK || v.Records == 0 || v.Problem != "" {
		t.Errorf("verify = %+v, want OK with records", v)
	}

	// The chain holds across a restart, which reloads its head.
	s.Restart(t)
	must[*api.VaultOpenResponse](t)(s.Admin.OpenVault(&api.VaultOpenRequest{
		Key: api.NewSecret(s.Bootstrap.VaultKey)}))
	v2 := must[*api.AuditVerify](t)(s.Admin.VerifyAudit())
	if !v2.OK || v2.Records <= v.Records {
		t.Errorf("verify after restart = %+v, want OK with more than %d records", v2, v.Records)
	}

	trail := auditJSON(t, s)
	for i, val := range secrets {
		if strings.Contains(trail, val) {
			t.Errorf("secret %d appears in the audit trail", i)
		}
	}
	s.CheckLogs(t, secrets...)
}

// editRecord rewrites the audit record seq with edit.
func editRecord(tx *store.Tx, seq uint64, edit func(r *audit.Record)) error {
	var r audit.Record
	if err := tx.Get(store.AuditKey(seq), &r); err != nil {
		return err
	}
	edit(&r)
	return tx.Put(store.AuditKey(seq), r)
}

func TestAuditTamperingIsDetected(t *testing.T) {
	t.Parallel()
	edited := func(seq uint64) string { return fmt.Sprintf("record %d was edited", seq) }
	misplaced := func(seq uint64) string {
		return fmt.Sprintf("record %d found where %d was expected", seq+1, seq)
	}
	endsAt := func(seq, head uint64) string {
		return fmt.Sprintf("chain ends at record %d but the head is record %d", seq, head)
	}
	cases := []struct {
		name string
		// tamper edits the store, whose last audit record is head.
		tamper func(tx *store.Tx, head uint64) error
		// problem is what verify must report.
		problem func(head uint64) string
	}{
		{"edit a record's detail", func(tx *store.Tx, head uint64) error {
			return editRecord(tx, head/2, func(r *audit.Record) { r.Detail = "nothing happened" })
		}, func(head uint64) string { return edited(head / 2) }},
		{"edit a record's actor", func(tx *store.Tx, head uint64) error {
			return editRecord(tx, head/2, func(r *audit.Record) { r.Actor = "someone-else" })
		}, func(head uint64) string { return edited(head / 2) }},
		{"edit a refusal into a success", func(tx *store.Tx, head uint64) error {
			return editRecord(tx, head-1, func(r *audit.Record) {
				r.Outcome, r.Code = audit.OK, ""
			})
		}, func(head uint64) string { return edited(head - 1) }},
		{"edit a record and its hash", func(tx *store.Tx, head uint64) error {
			return editRecord(tx, head/2, func(r *audit.Record) {
				r.Actor = "someone-else"
				r.Hash = r.Digest()
			})
		}, func(head uint64) string {
			return fmt.Sprintf("record %d does not link to record %d", head/2+1, head/2)
		}},
		{"edit the last record and its hash", func(tx *store.Tx, head uint64) error {
			return editRecord(tx, head, func(r *audit.Record) {
				r.Actor = "someone-else"
				r.Hash = r.Digest()
			})
		}, func(head uint64) string { return endsAt(head, head) }},
		{"delete a middle record", func(tx *store.Tx, head uint64) error {
			return tx.Delete(store.AuditKey(head / 2))
		}, func(head uint64) string { return misplaced(head / 2) }},
		{"delete the first record", func(tx *store.Tx, _ uint64) error {
			return tx.Delete(store.AuditKey(1))
		}, func(uint64) string { return misplaced(1) }},
		{"swap two records", func(tx *store.Tx, head uint64) error {
			var a, b audit.Record
			ka, kb := store.AuditKey(head/2), store.AuditKey(head/2+1)
			if err := tx.Get(ka, &a); err != nil {
				return err
			}
			if err := tx.Get(kb, &b); err != nil {
				return err
			}
			if err := tx.Put(ka, b); err != nil {
				return err
			}
			return tx.Put(kb, a)
		}, func(head uint64) string { return misplaced(head / 2) }},
		{"delete the last record", func(tx *store.Tx, head uint64) error {
			return tx.Delete(store.AuditKey(head))
		}, func(head uint64) string { return endsAt(head-1, head) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testserver.Start(t)
			auditActivity(t, s)
			if v := must[*api.AuditVerify](t)(s.Admin.VerifyAudit()); !v.OK {
				t.Fatalf("verify before tampering = %+v", v)
			}

			// The store is the server's alone: stop it to tamper.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(filepath.Join(s.Dir, "db"), hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			head, _ := st.AuditHead()
			if head < 8 {
				t.Fatalf("only %d audit records; the cases need more", head)
			}
			err = st.Update(func(tx *store.Tx) error { return tc.tamper(tx, head) })
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("tampering: %v", err)
			}

			s.Restart(t)
			v := must[*api.AuditVerify](t)(s.Admin.VerifyAudit())
			want := tc.problem(head)
			if v.OK || !strings.Contains(v.Problem, want) {
				t.Errorf("verify after tampering = %+v, want a problem with %q", v, want)
			}
		})
	}
}
