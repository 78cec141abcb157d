package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/internal/wire"
	"github.com/passman-dev/passman/server/pki"
)

// enrollPath is the server's enrollment endpoint.
const enrollPath = "/v1/agents/enroll"

// maxEnrollBody bounds the server's answer to an enrollment.
const maxEnrollBody = 1 << 20

// DefaultEnrollTimeout bounds an enrollment request unless
// EnrollOptions.Timeout says otherwise.
const DefaultEnrollTimeout = 30 * time.Second

// EnrollOptions configures Enroll.
type EnrollOptions struct {
	// Server is the PassMan server's base URL, https://host:port; a URL
	// without a scheme is taken as https. Required.
	Server string
	// Token is the one-time enrollment token an administrator created for
	// the agent's zone. Required.
	Token secret.Value
	// CACert is the PEM of the CA that signed the server's certificate.
	// Empty means the system's roots.
	CACert []byte
	// DataDir is where the agent keeps its identity. It is created with
	// mode 0700 when missing and must not hold an enrollment. Required.
	DataDir string
	// Name is how the agent is shown. Default: the host name.
	Name string
	// Version is the agent's version, told to the server.
	Version string
	// Timeout bounds the request to the server. Default 30s.
	Timeout time.Duration
}

// Enroll makes the agent known to a server: it creates the agent's keys
// (HPKE to open jobs, Ed25519 to sign events, an nkey to log in to NATS),
// sends their public halves to the server with the one-time token, and
// writes what the server answered and the private keys into DataDir. Run
// then acts as that agent.
func Enroll(ctx context.Context, opts EnrollOptions) error {
	base, err := opts.check()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.DataDir, dirMode); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	done, err := enrolled(opts.DataDir)
	if err != nil {
		return err
	}
	if done {
		return ErrAlreadyEnrolled
	}

	keys, err := wire.NewKeys("")
	if err != nil {
		return err
	}
	nk, err := nkeys.CreateUser()
	if err != nil {
		return fmt.Errorf("creating NATS key: %w", err)
	}
	defer nk.Wipe()

	resp, err := opts.post(ctx, base, keys, nk)
	if err != nil {
		return err
	}
	return saveEnrollment(opts, base, resp, keys, nk)
}

// check validates opts, sets the defaults and returns the server's base
// URL.
func (o *EnrollOptions) check() (string, error) {
	switch {
	case o.DataDir == "":
		return "", ErrNoDataDir
	case o.Token.IsEmpty():
		return "", errors.New("no enrollment token given")
	}
	if o.Name == "" {
		o.Name, _ = os.Hostname()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultEnrollTimeout
	}
	return serverURL(o.Server)
}

// serverURL returns the base URL of a server address, refusing any
// scheme but https.
func serverURL(addr string) (string, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if addr == "" {
		return "", errors.New("no server address given")
	}
	if !strings.Contains(addr, "://") {
		addr = "https://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("parsing server address: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("the server address %q must be https://host:port", addr)
	}
	return addr, nil
}

// post sends the enrollment request and decodes the answer.
func (o *EnrollOptions) post(
	ctx context.Context, base string, keys *wire.Keys, nk nkeys.KeyPair,
) (*api.EnrollResponse, error) {
	natsKey, err := nk.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading NATS key: %w", err)
	}
	body, err := json.Marshal(api.EnrollRequest{
		Token:      api.NewSecret(o.Token),
		Name:       o.Name,
		HPKEKey:    keys.HPKEPublic(),
		SigningKey: keys.SigningPublic(),
		NATSKey:    natsKey,
		Version:    o.Version,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding enrollment: %w", err)
	}
	defer clear(body)
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	endpoint := base + enrollPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building enrollment request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enrolling with %s: %w", base, err)
	}
	defer res.Body.Close()
	return decodeEnrollment(res)
}

// httpClient returns a client that trusts o.CACert.
func (o *EnrollOptions) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(o.CACert) > 0 {
		cfg, err := pki.ClientTLSConfig(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("loading the server's CA certificate: %w", err)
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: tr, Timeout: o.Timeout}, nil
}

// decodeEnrollment reads the server's answer: an EnrollResponse on
// success, an *api.Error otherwise.
func decodeEnrollment(res *http.Response) (*api.EnrollResponse, error) {
	b, err := io.ReadAll(io.LimitReader(res.Body, maxEnrollBody))
	if err != nil {
		return nil, fmt.Errorf("reading enrollment answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		var apiErr api.Error
		if json.Unmarshal(b, &apiErr) == nil && apiErr.Code != "" {
			return nil, &apiErr
		}
		return nil, fmt.Errorf("enrolling: the server answered %s", res.Status)
	}
	out := new(api.EnrollResponse)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("decoding enrollment answer: %w", err)
	}
	if err := checkAgentID(out.AgentID); err != nil {
		return nil, fmt.Errorf("enrollment answer: %w", err)
	}
	if len(out.NATS) == 0 {
		return nil, errors.New("enrollment answer: no NATS URL")
	}
	if len(out.JobsKey) != ed25519.PublicKeySize {
		return nil, errors.New("enrollment answer: no jobs key; the server is older than " +
			"this agent")
	}
	return out, nil
}

// saveEnrollment writes the enrollment and the keys into the data
// directory, giving the keys the agent id the server chose.
func saveEnrollment(
	opts EnrollOptions, base string, resp *api.EnrollResponse, keys *wire.Keys, nk nkeys.KeyPair,
) error {
	seed, err := nk.Seed()
	if err != nil {
		return fmt.Errorf("reading NATS seed: %w", err)
	}
	defer clear(seed)
	keys.AgentID = resp.AgentID
	e := &Enrollment{
		AgentID:  resp.AgentID,
		Name:     opts.Name,
		Zone:     resp.Zone,
		Server:   base,
		NATS:     resp.NATS,
		Enrolled: time.Now().UTC(),
		JobsKey:  resp.JobsKey,
	}
	return writeIdentity(opts.DataDir, e, keys, seed, []byte(resp.CACert))
}
