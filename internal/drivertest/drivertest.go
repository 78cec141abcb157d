// Package drivertest is what the tests of PassMan's built-in drivers
// share: a record of the secret values a test used, checked against logs
// and error messages; a driver's log kept in memory; and small helpers for
// credentials, driver errors and deadlines.
package drivertest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/plugins/sdk"
)

// Secrets records the secret values a test gave a target or a driver, so
// that logs and error messages can be searched for them.
type Secrets struct {
	mu     sync.Mutex
	values []string
}

// Add records values.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values = append(s.values, values...)
}

// CheckLogs fails t for each log, by name, that holds a recorded value.
func (s *Secrets) CheckLogs(t testing.TB, logs map[string]string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, text := range logs {
		for _, v := range s.values {
			if v != "" && strings.Contains(text, v) {
				t.Errorf("the %s log holds a secret", name)
				break
			}
		}
	}
}

// CheckError fails t if err's message holds a recorded value.
func (s *Secrets) CheckError(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if v != "" && strings.Contains(err.Error(), v) {
			t.Errorf("an error message holds a secret (reason %s)", Reason(t, err))
			return
		}
	}
}

// Log keeps what a driver logs. It is safe for concurrent writers.
type Log struct{ logbuf.Buffer }

// Logger returns a logger named name that writes everything, down to
// trace level, to l.
func (l *Log) Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: l, Level: hclog.Trace})
}

// Password returns a password credential.
func Password(s string) sdk.Credential {
	return sdk.Credential{Type: sdk.Password, Value: sdk.NewSecret([]byte(s))}
}

// Reason returns the reason of a driver's error, or "" for nil. An error
// that is not an *sdk.Error fails t at once.
func Reason(t testing.TB, err error) sdk.Reason {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
	}
	return e.Reason
}

// Context returns a context that ends after d or with the test.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
