package model

import "fmt"

// CredentialType names the kind of a credential. An account holds at most
// one credential of each type.
type CredentialType string

// The credential types PassMan manages.
const (
	Password CredentialType = "password"
	SSHKey   CredentialType = "ssh-key"
	PIN      CredentialType = "pin"
)

// CredentialTypes lists every credential type in display order.
var CredentialTypes = []CredentialType{Password, SSHKey, PIN}

// ParseCredentialType returns the credential type named s.
func ParseCredentialType(s string) (CredentialType, error) {
	for _, t := range CredentialTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown credential type %q (want password, ssh-key or pin)", s)
}
