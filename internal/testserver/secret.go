package testserver

import "github.com/passman-dev/passman/internal/secret"

func secretOf(b []byte) secret.Value { return secret.New(b) }
