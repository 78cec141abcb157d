package ssh

import (
	"bytes"
	"net"
	"sync"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/plugins/sdk"
)

// hostKeyCheck verifies a target's host key against the pinned one, if
// any, and remembers the key it saw.
type hostKeyCheck struct {
	pinned xssh.PublicKey

	mu       sync.Mutex
	observed string
	mismatch bool
}

// check is an xssh.HostKeyCallback.
func (h *hostKeyCheck) check(_ string, _ net.Addr, key xssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observed = authorizedLine(key)
	if h.pinned != nil && !bytes.Equal(h.pinned.Marshal(), key.Marshal()) {
		h.mismatch = true
		return errHostKeyMismatch
	}
	return nil
}

// key returns the host key seen, in authorized_keys form.
func (h *hostKeyCheck) key() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.observed
}

// seen reports whether the handshake got as far as the host key, and
// whether that key was refused.
func (h *hostKeyCheck) seen() (observed, mismatch bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.observed != "", h.mismatch
}

// mismatchError describes a refused host key by fingerprints.
func (h *hostKeyCheck) mismatchError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	got, _, _, _, err := xssh.ParseAuthorizedKey([]byte(h.observed))
	if err != nil {
		return sdk.Errorf(sdk.ReasonHostKeyMismatch, "the host key is not the pinned one")
	}
	return sdk.Errorf(sdk.ReasonHostKeyMismatch,
		"the target presented host key %s, not the pinned %s",
		xssh.FingerprintSHA256(got), xssh.FingerprintSHA256(h.pinned))
}

// parseHostKey parses a pinned host key in authorized_keys form.
func parseHostKey(s string) (xssh.PublicKey, error) {
	key, _, _, _, err := xssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"the pinned host key is not in authorized_keys form: %v", err)
	}
	return key, nil
}

// pinnedAlgorithms returns the host key algorithms to offer so that the
// target presents the pinned key rather than another of its keys, or nil
// to offer the defaults.
func pinnedAlgorithms(pinned xssh.PublicKey) []string {
	switch {
	case pinned == nil:
		return nil
	case pinned.Type() == xssh.KeyAlgoRSA:
		return []string{xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA}
	}
	return []string{pinned.Type()}
}
