package service

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/server/audit"
	"github.com/passman-dev/passman/server/auth"
	"github.com/passman-dev/passman/server/store"
)

// AuditFilter selects audit records.
type AuditFilter struct {
	// Path keeps records on this path or under it.
	Path string
	// Since keeps records at or after this time.
	Since time.Time
	// Limit is the most records returned, the newest ones. Default 100.
	Limit int
}

// ListAudit returns audit records, oldest first. It needs read_audit.
func (s *Service) ListAudit(c *Caller, f AuditFilter) (*api.AuditList, error) {
	out := &api.AuditList{Records: []audit.Record{}}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	err := s.read(event(c, "audit.list", f.Path), func(*audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpReadAudit); err != nil {
			return err
		}
		if f.Limit > 10000 {
			return api.Errorf(api.CodeInvalidArgument, "limit is at most 10000")
		}
		return s.st.Scan(store.AuditPrefix(), func(_, v []byte) error {
			var r audit.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.Time.Before(f.Since) || !underPath(r.Path, f.Path) {
				return nil
			}
			out.Records = append(out.Records, r)
			if len(out.Records) > f.Limit {
				out.Records = out.Records[1:]
			}
			return nil
		})
	})
	return out, err
}

func underPath(p, prefix string) bool {
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// VerifyAudit walks the whole audit chain and reports the first break. It
// needs read_audit.
func (s *Service) VerifyAudit(c *Caller) (*api.AuditVerify, error) {
	out := &api.AuditVerify{}
	headSeq, headHash := s.st.AuditHead()
	err := s.read(event(c, "audit.verify", ""), func(ev *audit.Record) error {
		if err := s.authorizeRoot(s.st, c, auth.OpReadAudit); err != nil {
			return err
		}
		var v audit.Verifier
		err := s.st.Scan(store.AuditPrefix(), func(_, b []byte) error {
			var r audit.Record
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%w: a record after %d does not decode", audit.ErrBroken, v.Count())
			}
			if r.Seq > headSeq {
				return store.ErrStop
			}
			return v.Add(r)
		})
		if err == nil {
			err = v.Finish(headSeq, headHash)
		}
		out.Records = v.Count()
		out.OK = err == nil
		if err != nil {
			out.Problem = err.Error()
			ev.Detail = out.Problem
		}
		return nil
	})
	return out, err
}
