// Package policy owns the rules a credential must follow: how long a password
// is and which characters it draws from, which PINs are too easy to guess,
// and which SSH key algorithms and sizes are accepted.
//
// A Policy validates itself, generates values that always comply with it
// (from crypto/rand only) and checks typed values against it. CheckFormat
// answers the narrower question of whether a value is a credential of a
// given type at all, whatever the policy.
//
// No error or violation message built here ever holds a secret value or any
// character of one.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
)

// Errors returned by this package. Each is wrapped with a message saying
// what is wrong; test for them with errors.Is.
var (
	// ErrInvalidPolicy means a policy cannot be used: a field is out of
	// range or the rules cannot all be met at once.
	ErrInvalidPolicy = errors.New("invalid policy")

	// ErrInvalidValue means a value is not a credential of the expected
	// type at all, for example a password with a newline in it or an SSH
	// key that does not parse.
	ErrInvalidValue = errors.New("invalid credential value")
)

// maxNameLength is the longest policy name accepted.
const maxNameLength = 64

// Policy is the rules for one credential type. Exactly one of the rules
// fields is set: the one that matches Type.
type Policy struct {
	// Name identifies the policy: 1 to 64 letters, digits, dots,
	// underscores or hyphens.
	Name string `json:"name"`

	// Type is the credential type the policy governs.
	Type model.CredentialType `json:"type"`

	// Password holds the rules when Type is model.Password.
	Password *PasswordRules `json:"password,omitempty"`

	// PIN holds the rules when Type is model.PIN.
	PIN *PINRules `json:"pin,omitempty"`

	// SSHKey holds the rules when Type is model.SSHKey.
	SSHKey *SSHKeyRules `json:"ssh_key,omitempty"`
}

// Default returns the built-in policy for credential type t, named
// "default-" followed by the type. For an unknown type the result has no
// rules and does not validate.
func Default(t model.CredentialType) Policy {
	p := Policy{Name: "default-" + string(t), Type: t}
	p.EnsureDefaults()
	return p
}

// EnsureDefaults fills in the zero fields of the rules for p.Type with their
// documented defaults, creating the rules if they are missing. Fields that
// are already set are kept, and the rules of other types are left alone so
// that Validate can report them. A zero field cannot be told apart from an
// unset one, so after EnsureDefaults a minimum count is never zero and the
// symbol set is never empty.
func (p *Policy) EnsureDefaults() {
	switch p.Type {
	case model.Password:
		if p.Password == nil {
			p.Password = &PasswordRules{}
		}
		p.Password.ensureDefaults()
	case model.PIN:
		if p.PIN == nil {
			p.PIN = &PINRules{}
		}
		p.PIN.ensureDefaults()
	case model.SSHKey:
		if p.SSHKey == nil {
			p.SSHKey = &SSHKeyRules{}
		}
		p.SSHKey.ensureDefaults()
	}
}

// Validate reports whether p can be used. The error wraps ErrInvalidPolicy
// and lists every problem found, each with what to change.
func (p *Policy) Validate() error {
	problems := nameProblems(p.Name)
	rules := p.ruleProblems()
	problems = append(problems, rules...)
	if len(rules) == 0 {
		problems = append(problems, p.typeProblems()...)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidPolicy, p.Name, strings.Join(problems, "; "))
}

// nameProblems checks a policy name against the allowed length and
// characters.
func nameProblems(name string) []string {
	if name == "" || len(name) > maxNameLength {
		return []string{fmt.Sprintf(
			"name must be 1 to %d characters long, not %d", maxNameLength, len(name))}
	}
	for _, c := range name {
		if !isNameChar(c) {
			return []string{"name may only hold letters, digits, '.', '_' and '-'"}
		}
	}
	return nil
}

// isNameChar reports whether c may appear in a policy name.
func isNameChar(c rune) bool {
	return isASCIILetter(c) || isASCIIDigit(c) || c == '.' || c == '_' || c == '-'
}

// ruleProblems checks that the type is known and that exactly the rules for
// that type are set.
func (p *Policy) ruleProblems() []string {
	if !slices.Contains(model.CredentialTypes, p.Type) {
		return []string{fmt.Sprintf(
			"unknown credential type %q; use password, ssh-key or pin", p.Type)}
	}
	rules := []struct {
		field string
		typ   model.CredentialType
		set   bool
	}{
		{"password", model.Password, p.Password != nil},
		{"pin", model.PIN, p.PIN != nil},
		{"ssh_key", model.SSHKey, p.SSHKey != nil},
	}
	var problems []string
	for _, r := range rules {
		switch {
		case r.typ == p.Type && !r.set:
			problems = append(problems, fmt.Sprintf(
				"type %s needs %s rules; add a %q object", p.Type, r.field, r.field))
		case r.typ != p.Type && r.set:
			problems = append(problems, fmt.Sprintf(
				"type %s cannot have %s rules; remove %q or change the type",
				p.Type, r.field, r.field))
		}
	}
	return problems
}

// typeProblems checks the rules for p.Type, which ruleProblems has found
// present.
func (p *Policy) typeProblems() []string {
	switch p.Type {
	case model.Password:
		return p.Password.problems()
	case model.PIN:
		return p.PIN.problems()
	case model.SSHKey:
		return p.SSHKey.problems()
	}
	return nil
}

// Generate returns a new random value that complies with p. It fails only
// when p does not validate or when key generation fails.
func (p *Policy) Generate() (secret.Value, error) {
	if err := p.Validate(); err != nil {
		return secret.Value{}, err
	}
	switch p.Type {
	case model.Password:
		return p.Password.generate(), nil
	case model.PIN:
		return p.PIN.generate(), nil
	default:
		return p.SSHKey.generate()
	}
}

// Check lists the ways v breaks p, each a sentence a person can act on. An
// empty list means v is Compliant. The messages name only the rules, never
// the value or any character of it. When p itself does not validate, the
// list holds that error instead.
func (p *Policy) Check(v secret.Value) []string {
	if err := p.Validate(); err != nil {
		return []string{fmt.Sprintf("cannot check against this policy: %v", err)}
	}
	switch p.Type {
	case model.Password:
		return p.Password.check(v.Reveal())
	case model.PIN:
		return p.PIN.check(v.Reveal())
	default:
		return p.SSHKey.check(v.Reveal())
	}
}

// isASCIILetter reports whether c is an ASCII letter.
func isASCIILetter(c rune) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// isASCIIDigit reports whether c is an ASCII digit.
func isASCIIDigit(c rune) bool {
	return '0' <= c && c <= '9'
}

// plural returns one when n is 1 and many otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
