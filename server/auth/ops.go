package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Op is an operation that can be granted.
type Op string

// The operations. A grant on a node holds for the node and everything
// under it; vault-wide operations are granted on the root folder.
const (
	OpRead              Op = "read"
	OpCreate            Op = "create"
	OpUpdate            Op = "update"
	OpDelete            Op = "delete"
	OpMove              Op = "move"
	OpCheckOut          Op = "checkout"
	OpCheck             Op = "check"
	OpReset             Op = "reset"
	OpUpdateCredentials Op = "update_credentials"
	OpCheckIn           Op = "checkin"
	OpReadRevisions     Op = "read_revisions"
	OpRestore           Op = "restore"
	OpOpenVault         Op = "open_vault"
	OpManageVaultKeys   Op = "manage_vault_keys"
	OpManagePermissions Op = "manage_permissions"
	OpReadAudit         Op = "read_audit"
	OpManageAgents      Op = "manage_agents"
)

// AllOps lists every operation, in the order they are shown.
var AllOps = []Op{
	OpRead, OpCreate, OpUpdate, OpDelete, OpMove, OpCheckOut, OpCheck, OpReset,
	OpUpdateCredentials, OpCheckIn, OpReadRevisions, OpRestore, OpOpenVault,
	OpManageVaultKeys, OpManagePermissions, OpReadAudit, OpManageAgents,
}

// ParseOps parses a comma-separated list of operations; "all" stands for
// every operation. Duplicates are dropped and the result is in AllOps order.
func ParseOps(s string) ([]Op, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no operations given (want a comma-separated list such as read,checkout)")
	}
	set := map[Op]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			for _, op := range AllOps {
				set[op] = true
			}
			continue
		}
		if !slices.Contains(AllOps, Op(f)) {
			return nil, fmt.Errorf("unknown operation %q", f)
		}
		set[Op(f)] = true
	}
	var out []Op
	for _, op := range AllOps {
		if set[op] {
			out = append(out, op)
		}
	}
	return out, nil
}

// Principals returns the names a user acts as: its own name and each of
// its groups written "@group".
func Principals(user string, groups []string) []string {
	out := []string{user}
	for _, g := range groups {
		out = append(out, "@"+g)
	}
	return out
}
