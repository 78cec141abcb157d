package ldap

import (
	"regexp"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/passman-dev/passman/plugins/sdk"
)

// placeholder is where a DN template takes the account's name.
const placeholder = "{account}"

// sentinel stands for the account's name while a template is checked.
const sentinel = "passman-account-name"

// maxAccountLength is the longest account name, in bytes.
const maxAccountLength = 256

// accountPattern is what an account name must look like before it goes
// into a DN: printable letters, marks, digits, punctuation and symbols,
// with spaces only inside. Escaping takes care of the characters
// that mean something in a DN; this keeps out control and invisible
// characters, which have no business in a name.
var accountPattern = regexp.MustCompile(
	`^[\pL\pM\pN\pP\pS](?:[\pL\pM\pN\pP\pS ]*[\pL\pM\pN\pP\pS])?$`)

// dnTemplate is a validated DN template.
type dnTemplate struct {
	// param is the parameter the template came from, for messages.
	param string
	text  string
	// shape is the template parsed with sentinel for the account.
	shape *goldap.DN
}

// parseTemplate validates a DN template: one {account}, inside an
// attribute value, in an otherwise well-formed DN.
func parseTemplate(param, text string) (*dnTemplate, error) {
	if text == "" {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s is required", param)
	}
	if strings.Count(text, placeholder) != 1 {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"%s %q must hold %s exactly once", param, text, placeholder)
	}
	shape, err := goldap.ParseDN(strings.Replace(text, placeholder, sentinel, 1))
	if err != nil || !inValue(shape) {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"%s %q is not a DN with %s in an attribute value, such as %q",
			param, text, placeholder, "uid={account},ou=people,dc=example,dc=org")
	}
	return &dnTemplate{param: param, text: text, shape: shape}, nil
}

// inValue reports whether the sentinel is in exactly one attribute
// value of dn and in no attribute type.
func inValue(dn *goldap.DN) bool {
	n := 0
	for _, rdn := range dn.RDNs {
		for _, a := range rdn.Attributes {
			if strings.Contains(a.Type, sentinel) {
				return false
			}
			n += strings.Count(a.Value, sentinel)
		}
	}
	return n == 1
}

// dn returns the DN of account: the template with the name escaped as
// RFC 4514 requires. It refuses a name that is not a plain printable
// one, and checks that the result parses back to the template with the
// name in its place.
func (t *dnTemplate) dn(account string) (string, error) {
	if len(account) > maxAccountLength || !accountPattern.MatchString(account) {
		return "", sdk.Errorf(sdk.ReasonInvalidParams,
			"account name %q is not a printable name of at most %d bytes without "+
				"leading or trailing spaces", account, maxAccountLength)
	}
	dn := strings.Replace(t.text, placeholder, goldap.EscapeDN(account), 1)
	parsed, err := goldap.ParseDN(dn)
	if err != nil || !sameShape(parsed, t.shape, account) {
		return "", sdk.Errorf(sdk.ReasonInvalidParams,
			"account name %q cannot be put in %s", account, t.param)
	}
	return dn, nil
}

// sameShape reports whether got is want with account for the sentinel.
func sameShape(got, want *goldap.DN, account string) bool {
	if len(got.RDNs) != len(want.RDNs) {
		return false
	}
	for i, rdn := range got.RDNs {
		w := want.RDNs[i].Attributes
		if len(rdn.Attributes) != len(w) {
			return false
		}
		for j, a := range rdn.Attributes {
			if !strings.EqualFold(a.Type, w[j].Type) ||
				a.Value != strings.Replace(w[j].Value, sentinel, account, 1) {
				return false
			}
		}
	}
	return true
}
