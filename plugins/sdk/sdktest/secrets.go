package sdktest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/passman-dev/passman/plugins/sdk"
)

// minSecretLen is the length below which a value is not looked for in
// text: short values turn up in logs by chance, in times and numbers.
const minSecretLen = 8

// minLineLen is the length from which one line of a value of several
// lines, such as a private key, is looked for on its own.
const minLineLen = 16

// form is one way a secret can show in text.
type form struct {
	name, text string
}

// formsOf returns the forms in which v is looked for: as it is, in hex,
// in base64 and, for a value of several lines, line by line, leaving out
// the lines of PEM armour, which are no secret.
func formsOf(v []byte) []form {
	if len(v) < minSecretLen {
		return nil
	}
	out := []form{
		{"clear", string(v)},
		{"hex", hex.EncodeToString(v)},
		{"HEX", strings.ToUpper(hex.EncodeToString(v))},
		{"base64", base64.StdEncoding.EncodeToString(v)},
	}
	if !bytes.ContainsAny(v, "\r\n") {
		return out
	}
	for i, line := range strings.FieldsFunc(string(v), isNewline) {
		line = strings.TrimSpace(line)
		if len(line) >= minLineLen && !strings.HasPrefix(line, "-----") {
			out = append(out, form{"clear line " + strconv.Itoa(i+1), line})
		}
	}
	return out
}

func isNewline(r rune) bool { return r == '\n' || r == '\r' }

// leak reports whether text holds one of values, and in which form.
func leak(text string, values []sdk.Secret) (string, bool) {
	for i, v := range values {
		for _, f := range formsOf(v.Reveal()) {
			if strings.Contains(text, f.text) {
				return "value " + strconv.Itoa(i+1) + " of those used, in " + f.name, true
			}
		}
	}
	return "", false
}

// redact returns text with every form of values replaced.
func redact(text string, values []sdk.Secret) string {
	for _, v := range values {
		for _, f := range formsOf(v.Reveal()) {
			text = strings.ReplaceAll(text, f.text, "[redacted]")
		}
	}
	return text
}

// noSecretsInLogs searches the driver's logs for every value the suite
// used.
func (s *suite) noSecretsInLogs(t *testing.T) {
	if s.tgt.Logs == nil {
		t.Skip("Target.Logs is not set")
	}
	logs := s.tgt.Logs()
	if form, ok := leak(logs, s.usedValues()); ok {
		t.Errorf("the driver's log holds a credential value (%s); the log, redacted:\n%s",
			form, redact(logs, s.usedValues()))
	}
}
