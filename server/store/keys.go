package store

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/passman-dev/passman/server/model"
)

// The key layout. Every key starts with a one-letter table prefix and a
// slash; names never contain a slash, so a prefix scan of one parent or one
// account cannot run into another's keys.
//
//	m/vault                         vault metadata (its creation)
//	m/slot/<name>                   vault key slot wrapping the data key
//	m/audit-head                    sequence number and hash of the last audit record
//	n/<id>                          node: folder, target or account
//	c/<parent id>/<name>            child name index: the id of the named child
//	r/<account id>/<type>           credential state
//	v/<account id>/<type>/<n hex>   sealed credential version n (16 hex digits)
//	s/<status>/<account id>         accounts by status
//	p/<name>                        policy
//	u/<name>                        user
//	k/<sha-256 hex>                 API token, by the hash of its secret
//	K/<user>/<sha-256 hex>          API tokens by user
//	g/<node id>/<principal>         grant of operations on a node
//	j/<id>                          job (ids sort by creation time)
//	J/<state>/<id>                  jobs by state
//	A/<seq hex>                     audit record (16 hex digits)
//	a/<id>                          enrolled agent
//	N/<nkey>                        agents by NATS key
//	e/<sha-256 hex>                 agent enrollment token, by the hash of its secret
//	X/<end ns hex>/<account>/<type> exclusive checkouts by the time they end
const (
	prefixMeta     = "m/"
	prefixNode     = "n/"
	prefixChild    = "c/"
	prefixCred     = "r/"
	prefixVersion  = "v/"
	prefixStatus   = "s/"
	prefixPolicy   = "p/"
	prefixUser     = "u/"
	prefixToken    = "k/"
	prefixUserTok  = "K/"
	prefixGrant    = "g/"
	prefixJob      = "j/"
	prefixJobState = "J/"
	prefixAudit    = "A/"
	prefixAgent    = "a/"
	prefixAgentKey = "N/"
	prefixEnroll   = "e/"
	prefixCheckout = "X/"
)

var (
	keyVault     = []byte(prefixMeta + "vault")
	keyAuditHead = []byte(prefixMeta + "audit-head")
)

// VaultKey is the key of the vault's metadata record.
func VaultKey() []byte { return keyVault }

// SlotKey is the key of the vault key slot called name.
func SlotKey(name string) []byte { return []byte(prefixMeta + "slot/" + name) }

// SlotPrefix is the prefix of every vault key slot.
func SlotPrefix() []byte { return []byte(prefixMeta + "slot/") }

// NodeKey is the key of the node with id.
func NodeKey(id string) []byte { return []byte(prefixNode + id) }

// ChildKey is the key of the name index entry for name under parentID.
func ChildKey(parentID, name string) []byte {
	return []byte(prefixChild + parentID + "/" + name)
}

// ChildPrefix is the prefix of every child of parentID.
func ChildPrefix(parentID string) []byte { return []byte(prefixChild + parentID + "/") }

// CredentialKey is the key of the state of an account's credential.
func CredentialKey(accountID string, t model.CredentialType) []byte {
	return []byte(prefixCred + accountID + "/" + string(t))
}

// CredentialPrefix is the prefix of every credential of an account.
func CredentialPrefix(accountID string) []byte {
	return []byte(prefixCred + accountID + "/")
}

// VersionKey is the key of version n of an account's credential.
func VersionKey(accountID string, t model.CredentialType, n uint64) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%016x", prefixVersion, accountID, t, n)
}

// VersionPrefix is the prefix of every version of an account's credential.
func VersionPrefix(accountID string, t model.CredentialType) []byte {
	return []byte(prefixVersion + accountID + "/" + string(t) + "/")
}

// StatusKey is the index entry of an account under its status.
func StatusKey(s model.SyncStatus, accountID string) []byte {
	return []byte(prefixStatus + string(s) + "/" + accountID)
}

// StatusPrefix is the prefix of every account with status s.
func StatusPrefix(s model.SyncStatus) []byte { return []byte(prefixStatus + string(s) + "/") }

// PolicyKey is the key of the policy called name.
func PolicyKey(name string) []byte { return []byte(prefixPolicy + name) }

// PolicyPrefix is the prefix of every policy.
func PolicyPrefix() []byte { return []byte(prefixPolicy) }

// UserKey is the key of the user called name.
func UserKey(name string) []byte { return []byte(prefixUser + name) }

// UserPrefix is the prefix of every user.
func UserPrefix() []byte { return []byte(prefixUser) }

// TokenKey is the key of the API token whose secret hashes to hash.
func TokenKey(hash []byte) []byte { return []byte(prefixToken + hex.EncodeToString(hash)) }

// UserTokenKey is the index entry of a token under its user.
func UserTokenKey(user string, hash []byte) []byte {
	return []byte(prefixUserTok + user + "/" + hex.EncodeToString(hash))
}

// UserTokenPrefix is the prefix of every token index entry of user.
func UserTokenPrefix(user string) []byte { return []byte(prefixUserTok + user + "/") }

// GrantKey is the key of principal's grant on a node.
func GrantKey(nodeID, principal string) []byte {
	return []byte(prefixGrant + nodeID + "/" + principal)
}

// GrantPrefix is the prefix of every grant on a node.
func GrantPrefix(nodeID string) []byte { return []byte(prefixGrant + nodeID + "/") }

// JobKey is the key of the job with id.
func JobKey(id string) []byte { return []byte(prefixJob + id) }

// JobPrefix is the prefix of every job.
func JobPrefix() []byte { return []byte(prefixJob) }

// JobStateKey is the index entry of a job under its state.
func JobStateKey(s model.JobState, id string) []byte {
	return []byte(prefixJobState + string(s) + "/" + id)
}

// JobStatePrefix is the prefix of every job in state s.
func JobStatePrefix(s model.JobState) []byte { return []byte(prefixJobState + string(s) + "/") }

// AuditKey is the key of the audit record with sequence number seq.
func AuditKey(seq uint64) []byte { return fmt.Appendf(nil, "%s%016x", prefixAudit, seq) }

// AuditPrefix is the prefix of every audit record.
func AuditPrefix() []byte { return []byte(prefixAudit) }

// TokenKeyOf returns the token key that a UserTokenKey entry of user
// points to.
func TokenKeyOf(user string, indexKey []byte) []byte {
	return append([]byte(prefixToken), indexKey[len(UserTokenPrefix(user)):]...)
}

// AllGrantsPrefix is the prefix of every grant on every node.
func AllGrantsPrefix() []byte { return []byte(prefixGrant) }

// AgentKey is the key of the agent with id.
func AgentKey(id string) []byte { return []byte(prefixAgent + id) }

// AgentPrefix is the prefix of every agent.
func AgentPrefix() []byte { return []byte(prefixAgent) }

// AgentNATSKey is the index entry of an agent under its NATS nkey.
func AgentNATSKey(nkey string) []byte { return []byte(prefixAgentKey + nkey) }

// EnrollTokenKey is the key of the enrollment token whose secret hashes to
// hash.
func EnrollTokenKey(hash []byte) []byte { return []byte(prefixEnroll + hex.EncodeToString(hash)) }

// CheckoutKey is the index entry of an exclusive checkout under the time
// it ends, so that expired checkouts are found in order.
func CheckoutKey(until time.Time, accountID string, t model.CredentialType) []byte {
	return fmt.Appendf(nil, "%s%016x/%s/%s", prefixCheckout, until.UnixNano(), accountID, t)
}

// CheckoutPrefix is the prefix of every checkout index entry.
func CheckoutPrefix() []byte { return []byte(prefixCheckout) }
