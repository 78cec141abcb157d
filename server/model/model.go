// Package model defines the records PassMan keeps in its store: folders,
// targets, accounts, credentials and their versions, jobs, users, grants and
// vault key slots. It holds data and the rules that belong to the data
// alone (names, statuses); storage lives in package store.
package model

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// RootID is the ID of the root folder, shown as "Vault".
const RootID = "root"

// NewID returns a new random identifier that sorts by creation time: 6 bytes
// of milliseconds since the epoch and 10 random bytes, base32 encoded.
func NewID() string {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b[:6], ms[2:])
	_, _ = rand.Read(b[6:])
	return idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").
	WithPadding(base32.NoPadding)

// Kind tells which of the three kinds of tree node a record is.
type Kind string

// The kinds of node in the tree.
const (
	KindFolder  Kind = "folder"
	KindTarget  Kind = "target"
	KindAccount Kind = "account"
)

// Node is a folder, a target or an account: the three kinds of object in
// the tree on which permissions are granted.
type Node struct {
	ID       string    `json:"id"`
	Kind     Kind      `json:"kind"`
	ParentID string    `json:"parent_id,omitempty"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`

	// Target only.
	Type    string            `json:"type,omitempty"`
	Address string            `json:"address,omitempty"`
	Zone    string            `json:"zone,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	// Target only: the pinned host key, learnt at the first successful
	// check and enforced after, for protocols that have one.
	HostKey string `json:"host_key,omitempty"`
	// Target only: the name of the account on this target that can reset
	// the others' credentials.
	ReconcileAccount string `json:"reconcile_account,omitempty"`

	// Account only: the policy name per credential type; absent means the
	// default policy of that type.
	Policies map[CredentialType]string `json:"policies,omitempty"`
	// Account only: the credential types the account has.
	Credentials []CredentialType `json:"credentials,omitempty"`
	// Account only: the last action taken on the account.
	LastAction *Action `json:"last_action,omitempty"`
}

// Action records an operation on an object: what, by whom, when.
type Action struct {
	Op   string    `json:"op"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}
