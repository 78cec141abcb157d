package wire

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"fmt"
)

// Keys are an agent's private keys: HPKE to open jobs, Ed25519 to sign
// events. They never leave the agent's data directory.
type Keys struct {
	AgentID string
	hpke    hpke.PrivateKey
	sign    ed25519.PrivateKey
}

// NewKeys generates keys for an agent.
func NewKeys(agentID string) (*Keys, error) {
	hk, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generating HPKE key: %w", err)
	}
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	return &Keys{AgentID: agentID, hpke: hk, sign: sk}, nil
}

// HPKEPublic returns the public key jobs are sealed to.
func (k *Keys) HPKEPublic() []byte { return k.hpke.PublicKey().Bytes() }

// SigningPublic returns the public key events are verified with.
func (k *Keys) SigningPublic() ed25519.PublicKey { return k.sign.Public().(ed25519.PublicKey) }

type keysFile struct {
	AgentID string `json:"agent_id"`
	HPKE    []byte `json:"hpke"`
	Sign    []byte `json:"sign"`
}

// MarshalBinary encodes the private keys for the agent's key file.
func (k *Keys) MarshalBinary() ([]byte, error) {
	hb, err := k.hpke.Bytes()
	if err != nil {
		return nil, err
	}
	return json.Marshal(keysFile{AgentID: k.AgentID, HPKE: hb, Sign: k.sign.Seed()})
}

// ParseKeys decodes a key file written with MarshalBinary.
func ParseKeys(b []byte) (*Keys, error) {
	var f keysFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decoding agent keys: %w", err)
	}
	hk, err := kem.NewPrivateKey(f.HPKE)
	if err != nil {
		return nil, fmt.Errorf("parsing HPKE key: %w", err)
	}
	if len(f.Sign) != ed25519.SeedSize {
		return nil, fmt.Errorf("parsing signing key: want %d bytes", ed25519.SeedSize)
	}
	return &Keys{AgentID: f.AgentID, hpke: hk, sign: ed25519.NewKeyFromSeed(f.Sign)}, nil
}

// String hides the keys.
func (k *Keys) String() string { return "agent keys of " + k.AgentID }

// CheckHPKEPublic reports whether b is a public key jobs can be sealed to.
func CheckHPKEPublic(b []byte) error {
	if _, err := kem.NewPublicKey(b); err != nil {
		return fmt.Errorf("parsing HPKE public key: %w", err)
	}
	return nil
}
