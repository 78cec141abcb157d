// Package client is a Go client of PassMan's HTTPS API, used by the
// passman CLI and usable by any Go program that drives PassMan.
//
// Every method returns *api.Error for a refusal the server explained, so
// callers can switch on its stable Code.
package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	fastjson "github.com/go-json-experiment/json/v1"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/pki"
)

// The environment variables FromEnv reads.
const (
	EnvAddr   = "PASSMAN_ADDR"
	EnvToken  = "PASSMAN_TOKEN"
	EnvCACert = "PASSMAN_CACERT"
)

var (
	// ErrNoAddr is returned when no server address is configured.
	ErrNoAddr = errors.New("no server address; set " + EnvAddr + " (for example https://127.0.0.1:8443)")
	// ErrPlainHTTP is returned for an http:// address: PassMan speaks HTTPS only.
	ErrPlainHTTP = errors.New("the server address must use https://")
)

// Config configures a Client.
type Config struct {
	// Addr is the server's base URL, https://host:port; "host:port" is
	// taken as https.
	Addr string
	// Token is the API token sent with every request.
	Token secret.Value
	// CACert is the PEM of the CA that signed the server's certificate.
	// Empty means the system's roots.
	CACert []byte
	// Timeout bounds each request. Default 60s.
	Timeout time.Duration
}

// Client talks to one PassMan server.
type Client struct {
	base  string
	token secret.Value
	hc    *http.Client
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	base, err := normaliseAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	if len(cfg.CACert) > 0 {
		tlsCfg, err := pki.ClientTLSConfig(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("loading CA certificate: %w", err)
		}
		tr.TLSClientConfig = tlsCfg
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	return &Client{base: base, token: cfg.Token, hc: &http.Client{Transport: tr, Timeout: cfg.Timeout}}, nil
}

// FromEnv returns a Client configured from PASSMAN_ADDR, PASSMAN_TOKEN and
// PASSMAN_CACERT (a file path).
func FromEnv() (*Client, error) { return FromGetenv(os.Getenv) }

// FromGetenv is FromEnv reading the variables through getenv.
func FromGetenv(getenv func(string) string) (*Client, error) {
	cfg := Config{Addr: getenv(EnvAddr), Token: secret.FromString(getenv(EnvToken))}
	if p := getenv(EnvCACert); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", EnvCACert, err)
		}
		cfg.CACert = b
	}
	return New(cfg)
}

func normaliseAddr(addr string) (string, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	switch {
	case addr == "":
		return "", ErrNoAddr
	case strings.HasPrefix(addr, "http://"):
		return "", ErrPlainHTTP
	case !strings.HasPrefix(addr, "https://"):
		addr = "https://" + addr
	}
	if _, err := url.Parse(addr); err != nil {
		return "", fmt.Errorf("parsing server address: %w", err)
	}
	return addr, nil
}

// WithToken returns a copy of c that sends tok.
func (c *Client) WithToken(tok secret.Value) *Client {
	cc := *c
	cc.token = tok
	return &cc
}

// do sends one request and decodes the answer into out, or the error body
// into an *api.Error.
func (c *Client) do(method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := marshalBody(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return fmt.Errorf("making request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.token.IsEmpty() {
		req.Header.Set("Authorization", "Bearer "+string(c.token.Reveal()))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("calling the server: %w", err)
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

// marshalBody encodes a request body. Secret fields are written in clear
// here, and only here, for the TLS connection.
func marshalBody(body any) ([]byte, error) {
	if raw, ok := body.(rawBody); ok {
		return raw, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	return b, nil
}

// rawBody is a request body sent as it is.
type rawBody []byte

func decodeResponse(resp *http.Response, out any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := new(api.Error)
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			return fmt.Errorf("server answered %s", resp.Status)
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := fastjson.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding response: %w", err)
	}
	return nil
}
