package ldap

import (
	"errors"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/passman-dev/passman/plugins/sdk"
)

// TestResultError covers the results that the test directory does not
// produce: those of other directories, Active Directory's among them.
func TestResultError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code uint16
		diag string
		op   operation
		want sdk.Reason
	}{
		{"wrong password", goldap.LDAPResultInvalidCredentials, adDiagnostic("52e"),
			opBind, sdk.ReasonAuthFailed},
		{"AD locked", goldap.LDAPResultInvalidCredentials, adDiagnostic("775"),
			opBind, sdk.ReasonLockedOut},
		{"AD disabled", goldap.LDAPResultInvalidCredentials, "... data 533, v4563",
			opReconcileBind, sdk.ReasonLockedOut},
		{"AD password expired", goldap.LDAPResultInvalidCredentials, "... data 532, v4563",
			opBind, sdk.ReasonLockedOut},
		{"deactivated entry", goldap.LDAPResultUnwillingToPerform, "Account inactivated",
			opBind, sdk.ReasonLockedOut},
		{"retry limit", goldap.LDAPResultConstraintViolation, "Exceed password retry limit",
			opBind, sdk.ReasonLockedOut},
		{"needs TLS", goldap.LDAPResultStrongAuthRequired, "", opBind, sdk.ReasonInvalidParams},
		{"busy", goldap.LDAPResultBusy, "", opModify, sdk.ReasonUnreachable},
		{"unavailable", goldap.LDAPResultUnavailable, "", opBind, sdk.ReasonUnreachable},
		{"StartTLS unavailable", goldap.LDAPResultUnavailable, "Could not initialize TLS",
			opStartTLS, sdk.ReasonFailed},
		{"quality", goldap.LDAPResultConstraintViolation, "Password fails quality checking",
			opModify, sdk.ReasonRejected},
		{"no right", goldap.LDAPResultInsufficientAccessRights, "", opModify,
			sdk.ReasonRejected},
		{"wrong old password", goldap.LDAPResultInvalidCredentials, "", opModify,
			sdk.ReasonAuthFailed},
		{"no RFC 3062", goldap.LDAPResultProtocolError, "unsupported extended operation",
			opModify, sdk.ReasonUnsupported},
		{"no entry", goldap.LDAPResultNoSuchObject, "", opModify, sdk.ReasonFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := resultError(&goldap.Error{ResultCode: tt.code, Err: errors.New(tt.diag)},
				tt.op)
			var se *sdk.Error
			if !errors.As(err, &se) || se.Reason != tt.want {
				t.Errorf("resultError = %v, want reason %q", err, tt.want)
			}
		})
	}
}

// adDiagnostic returns the diagnostic message of a bind Active Directory
// refused, with its data code.
func adDiagnostic(data string) string {
	return "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data " +
		data + ", v4563"
}

func TestRedact(t *testing.T) {
	t.Parallel()
	pw := sdk.NewSecret([]byte("s3cret-value"))
	err := redact(sdk.Errorf(sdk.ReasonRejected, "the directory said: s3cret-value is weak"),
		pw, sdk.NewSecret(nil))
	want := "rejected: the directory said: [redacted] is weak"
	if err.Error() != want {
		t.Errorf("redact = %q, want %q", err.Error(), want)
	}
}

func TestTemplateDN(t *testing.T) {
	t.Parallel()
	tmpl, err := parseTemplate("user_dn_template", "uid=pm-{account},ou=people,dc=example,dc=org")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		account string
		want    string
	}{
		{"alice", "uid=pm-alice,ou=people,dc=example,dc=org"},
		{"a,b", `uid=pm-a\,b,ou=people,dc=example,dc=org`},
		{"a+cn=b", `uid=pm-a\+cn=b,ou=people,dc=example,dc=org`},
		{`"a"<b>;c\d`, `uid=pm-\"a\"\<b\>\;c\\d,ou=people,dc=example,dc=org`},
		{"#1", `uid=pm-\#1,ou=people,dc=example,dc=org`},
		{"jörg müller", "uid=pm-jörg müller,ou=people,dc=example,dc=org"},
		{"a\u200bb", ""},
		{"a\x7fb", ""},
	}
	for _, tt := range tests {
		got, err := tmpl.dn(tt.account)
		if tt.want == "" {
			if err == nil {
				t.Errorf("dn(%q) = %q, want it refused", tt.account, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("dn(%q) = %q, %v; want %q", tt.account, got, err, tt.want)
		}
	}
}
