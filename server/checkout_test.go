package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/client"
	"github.com/passman-dev/passman/internal/testserver"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// step is one request of a scenario whose requests depend on each other.
type step struct {
	name string
	do   func(t *testing.T) error
	// code is the refusal the step expects, or empty when it must succeed.
	code api.Code
}

// runSteps runs the steps in order and stops at the first that fails, as
// the later ones depend on it. A refused step must leave the database,
// audit aside, as it was.
func runSteps(t *testing.T, s *testserver.Server, steps []step) {
	t.Helper()
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			if st.code == "" {
				if err := st.do(t); err != nil {
					t.Fatal(err)
				}
				return
			}
			before := dump(t, s)
			wantCode(t, st.do(t), st.code)
			if diff := cmp.Diff(dump(t, s), before); diff != "" {
				t.Errorf("refused request changed the database (-got +want):\n%s", diff)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; the later steps depend on it", st.name)
		}
	}
}

// setCheckoutUntil rewrites the end of every exclusive checkout in the
// store, as time passing would.
func setCheckoutUntil(t *testing.T, s *testserver.Server, until time.Time) {
	t.Helper()
	err := s.Service().Store().Update(func(tx *store.Tx) error {
		return tx.Scan([]byte("r/"), func(k, v []byte) error {
			var cr model.Credential
			if err := jsonUnmarshal(v, &cr); err != nil {
				return err
			}
			if cr.Checkout == nil {
				return nil
			}
			cr.Checkout.Until = until
			return tx.Put(k, cr)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkoutHolder returns who holds the password of f/web/root, or "".
func checkoutHolder(t *testing.T, s *testserver.Server) string {
	t.Helper()
	a := must[*api.Account](t)(s.Admin.ShowAccount("f/web/root"))
	if co := a.Credentials[0].Checkout; co != nil {
		return co.User
	}
	return ""
}

func TestExclusiveCheckout(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	const stored = "Initial-Passw0rd!xyzxyzxyz"
	demo(t, c, stored)
	bob := newUser(t, s, "bob", nil)
	grant(t, c, "f", "bob", "checkout", "read", "reset", "update_credentials")
	carol := newUser(t, s, "carol", nil)
	grant(t, c, "f", "carol", "checkout", "read", "checkin")

	exclusive := &api.CheckoutRequest{Path: "f/web/root", Type: model.Password,
		ForSeconds: 3600, Reason: "patching"}
	shared := &api.CheckoutRequest{Path: "f/web/root", Type: model.Password}
	resetDB := &api.ResetRequest{Path: "f/web/root", Type: model.Password, Generate: true,
		DatabaseOnly: true}
	in := &api.CheckinRequest{Path: "f/web/root", Type: model.Password}
	checkout := func(c *client.Client, req *api.CheckoutRequest) func(*testing.T) error {
		return func(*testing.T) error { _, err := c.Checkout(req); return err }
	}
	checkin := func(c *client.Client) func(*testing.T) error {
		return func(*testing.T) error { _, err := c.Checkin(in); return err }
	}
	expire := func(t *testing.T) error {
		setCheckoutUntil(t, s, time.Now().Add(-time.Minute))
		return nil
	}
	holder := func(want string) func(*testing.T) error {
		return func(t *testing.T) error {
			if got := checkoutHolder(t, s); got != want {
				t.Errorf("checkout holder = %q, want %q", got, want)
			}
			return nil
		}
	}

	if got := api.CodeCheckedOut.ExitCode(); got != 3 {
		t.Errorf("exit code of checked_out = %d, want 3 (refused)", got)
	}
	runSteps(t, s, []step{
		{"admin checks out exclusively", func(t *testing.T) error {
			start := time.Now()
			co, err := c.Checkout(exclusive)
			if err != nil {
				return err
			}
			if co.Value != stored || co.Version != 1 {
				t.Errorf("checkout gave version %d, or a value other than the stored one",
					co.Version)
			}
			got := co.Checkout
			if got == nil || got.User != "admin" || !got.Exclusive || got.Reason != "patching" {
				t.Fatalf("checkout record = %+v, want exclusive by admin for patching", got)
			}
			d := got.Until.Sub(start)
			if d < 3599*time.Second || d > 3601*time.Second+time.Since(start) {
				t.Errorf("checkout lasts %v, want an hour", d)
			}
			return nil
		}, ""},
		{"account shows the holder", holder("admin"), ""},
		{"other user cannot check out exclusively", checkout(bob, exclusive), api.CodeCheckedOut},
		{"other user cannot check out shared", checkout(bob, shared), api.CodeCheckedOut},
		{"other user cannot reset in the database", func(*testing.T) error {
			_, err := bob.Reset(resetDB)
			return err
		}, api.CodeCheckedOut},
		{"other user cannot update", func(*testing.T) error {
			_, err := bob.Update(&api.UpdateRequest{Path: "f/web/root", Type: model.Password,
				Value: sec("Manual-Passw0rd!abcdefghij")})
			return err
		}, api.CodeCheckedOut},
		{"holder checks out again", checkout(c, exclusive), ""},
		{"holder checks out shared", checkout(c, shared), ""},
		{"holder still holds it", holder("admin"), ""},
		{"checkin of another's checkout without checkin permission", checkin(bob),
			api.CodeForbidden},
		{"holder checks in", checkin(c), ""},
		{"account shows no holder", holder(""), ""},
		{"checkin with nothing checked out", checkin(c), api.CodeNotCheckedOut},
		{"other user checks out once it is free", checkout(bob, exclusive), ""},
		{"first holder is now refused", checkout(c, shared), api.CodeCheckedOut},
		{"checkin of another's checkout with checkin permission", checkin(carol), ""},
		{"checkin by another leaves no holder", holder(""), ""},
		{"other user checks out again", checkout(bob, exclusive), ""},
		{"checkout expires", expire, ""},
		{"expired checkout does not block a checkout", checkout(carol, exclusive), ""},
		{"second checkout expires", expire, ""},
		{"a reset waits for the AutoReset the checkins started", func(*testing.T) error {
			_, err := c.Reset(resetDB)
			return err
		}, api.CodeChanging},
		{"expired checkout cannot be checked in", checkin(carol), api.CodeNotCheckedOut},
	})
}

func TestSharedCheckoutOnlyAudits(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	const stored = "Initial-Passw0rd!xyzxyzxyz"
	demo(t, s.Admin, stored)
	before := dump(t, s)

	co := must[*api.CheckoutResponse](t)(s.Admin.Checkout(&api.CheckoutRequest{
		Path: "f/web/root", Type: model.Password}))
	if co.Value != stored || co.Checkout != nil {
		t.Errorf("shared checkout: checkout record %+v, value equal to stored: %t",
			co.Checkout, co.Value == stored)
	}
	if diff := cmp.Diff(dump(t, s), before); diff != "" {
		t.Errorf("shared checkout changed the database (-got +want):\n%s", diff)
	}
	var got []audit.Record
	recs := must[*api.AuditList](t)(s.Admin.ListAudit("f/web/root", time.Time{}, 0))
	for _, r := range recs.Records {
		if r.Op == "account.checkout" {
			r.Seq, r.Time, r.Prev, r.Hash = 0, time.Time{}, nil, nil
			got = append(got, r)
		}
	}
	want := []audit.Record{{Actor: "admin", Op: "account.checkout", Path: "f/web/root",
		Outcome: audit.OK, Detail: "password version 1"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("checkout audit records (-got +want):\n%s", diff)
	}
}

// sshKeyPEM returns a new ed25519 private key in PKCS#8 PEM form.
func sshKeyPEM(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestCheckoutReturnsStoredValue(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Admin
	values := map[model.CredentialType]string{
		model.Password: "  späces, ünïcode & \"quotes\" \\ 🔑  ",
		model.PIN:      "0482",
		model.SSHKey:   sshKeyPEM(t),
	}
	must[*api.Folder](t)(c.CreateFolder("f"))
	must[*api.Target](t)(c.CreateTarget(&api.TargetCreateRequest{Path: "f/web", Type: "ssh",
		Address: "10.0.0.1:22", Zone: "dc1"}))
	var specs []api.CredentialSpec
	for typ, v := range values {
		specs = append(specs, api.CredentialSpec{Type: typ, Value: sec(v)})
	}
	must[*api.JobResponse](t)(c.CreateAccount(&api.AccountCreateRequest{Path: "f/web/root",
		Credentials: specs}))

	for _, typ := range model.CredentialTypes {
		t.Run(string(typ), func(t *testing.T) {
			co := must[*api.CheckoutResponse](t)(c.Checkout(&api.CheckoutRequest{
				Path: "f/web/root", Type: typ}))
			if co.Value != values[typ] {
				t.Errorf("checkout of the %s gave another value than the stored one", typ)
			}
			if co.Type != typ || co.Path != "f/web/root" || co.Version != 1 {
				t.Errorf("checkout = %s %s version %d, want f/web/root %s version 1",
					co.Path, co.Type, co.Version, typ)
			}
		})
	}
}
