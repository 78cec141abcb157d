package model

import "time"

// User is a local user. PasswordHash is an argon2id hash in the PHC string
// format, empty for a user that logs in with tokens only.
type User struct {
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Groups       []string  `json:"groups,omitempty"`
	Created      time.Time `json:"created"`
}

// Token is an API token as stored: only its SHA-256 hash is kept.
type Token struct {
	Hash    []byte    `json:"hash"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	// Session marks a web console session: it is accepted only from the
	// session cookie, never as a bearer token.
	Session bool `json:"session,omitempty"`
}

// Grant gives a principal (a user, or a group written "@name") operations
// on a node and everything under it.
type Grant struct {
	NodeID    string   `json:"node_id"`
	Principal string   `json:"principal"`
	Ops       []string `json:"ops"`
}

// VaultKeySlot is one vault key's wrapping of the data key.
type VaultKeySlot struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Salt    []byte    `json:"salt"`
	Time    uint32    `json:"time"`
	Memory  uint32    `json:"memory"`
	Threads uint8     `json:"threads"`
	Wrapped []byte    `json:"wrapped"`
}
