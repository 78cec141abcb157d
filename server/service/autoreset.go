package service

import (
	"bytes"
	"strings"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/model"
	"github.com/passman-dev/passman/server/store"
)

// autoReset stages an AutoReset job for a credential whose exclusive
// checkout ended: a value generated from its policy, changed on the
// target, so that what the holder saw stops working. It returns "" when a
// change is already in flight.
func (s *Service) autoReset(tx *store.Tx, by string, a *account, cr *model.Credential) (string, error) {
	if cr.Pending != 0 {
		s.log.Info("autoreset skipped", "account", a.ch.path(), "type", cr.Type, "reason", "change in flight")
		return "", nil
	}
	value, err := s.valueOf(a.node, cr.Type, secret.Value{}, true)
	if err != nil {
		return "", err
	}
	defer value.Wipe()
	ch := change{kind: model.JobAutoReset, op: auth.OpReset, path: a.ch.path(), typ: cr.Type,
		source: "generated"}
	job, err := s.apply(tx, &Caller{User: by}, a, cr, ch, value, &api.JobResponse{})
	if err != nil {
		return "", err
	}
	return job.ID, nil
}

// expireCheckouts ends the exclusive checkouts whose time is up, each with
// an AutoReset.
func (s *Service) expireCheckouts() {
	now := s.now()
	var due [][]byte
	_ = s.st.Scan(store.CheckoutPrefix(), func(k, _ []byte) error {
		if string(k) > string(store.CheckoutKey(now, "", "")) {
			return store.ErrStop
		}
		due = append(due, bytes.Clone(k))
		return nil
	})
	for _, k := range due {
		parts := strings.Split(string(k), "/")
		if len(parts) != 4 {
			continue
		}
		id, err := s.expireCheckout(k, parts[2], model.CredentialType(parts[3]))
		s.logErr("expiring checkout", id, err)
	}
}

// expireCheckout ends one expired checkout and returns its AutoReset job.
func (s *Service) expireCheckout(key []byte, accountID string, t model.CredentialType) (string, error) {
	var jobID string
	ev := audit.Record{Actor: "system", Op: "account.checkout.expire"}
	err := s.write(ev, func(tx *store.Tx, ev *audit.Record) error {
		if err := tx.Delete(key); err != nil {
			return err
		}
		ch, err := chainOf(tx, accountID)
		if errNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		a, err := loadAccount(tx, ch)
		if err != nil {
			return err
		}
		cr, ok := a.creds[t]
		if !ok || cr.Checkout == nil || !cr.Checkout.Exclusive {
			return nil
		}
		ev.Path, ev.Detail = ch.path(), "exclusive checkout of "+cr.Checkout.User+" ended"
		cr.Checkout = nil
		if jobID, err = s.autoReset(tx, "autoreset", a, cr); err != nil {
			return err
		}
		ev.JobID = jobID
		return a.save(tx)
	})
	return jobID, err
}
