// Package httpapi serves PassMan's JSON API under /v1 over HTTPS. It turns
// requests into calls of the service layer and errors into JSON bodies with
// a stable code; every decision about what is allowed is the service's.
//
// Request bodies are limited to api.MaxBodyBytes and decoded strictly: an
// unknown field, trailing data or a value of the wrong JSON type is refused
// before the service sees the request. Callers authenticate with
// "Authorization: Bearer <token>".
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	fastjson "github.com/go-json-experiment/json/v1"
	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/api"
	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/service"
)

// Handler is the API's http.Handler.
type Handler struct {
	svc      *service.Service
	log      hclog.Logger
	mux      *http.ServeMux
	sessions *sessions
	// natsKey is the server's own NATS public nkey.
	natsKey string
}

// Options configures the API handler.
type Options struct {
	// NATSKey is the server's own NATS public nkey, for the configuration
	// of an external NATS server.
	NATSKey string
	// SessionIdle ends a console session unused that long. Default
	// DefaultSessionIdle.
	SessionIdle time.Duration
	// Now is the clock of session idleness. Default time.Now.
	Now func() time.Time
	Log hclog.Logger
}

// New returns the API handler for svc.
func New(svc *service.Service, o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	h := &Handler{svc: svc, log: o.Log, mux: http.NewServeMux(), natsKey: o.NATSKey,
		sessions: newSessions(o.SessionIdle, o.Now)}
	h.routes()
	return h
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

type authedFunc func(w http.ResponseWriter, r *http.Request, c *service.Caller)

// authed wraps a handler that needs a caller: it authenticates the bearer
// token, or else the console's session cookie, and audits a refusal.
func (h *Handler) authed(op string, fn authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var c *service.Caller
		var err error
		if tok, ok := bearer(r); ok {
			c, err = h.svc.Authenticate(tok)
		} else if tok, ok := sessionToken(r); ok {
			c, err = h.sessionCaller(r, tok)
		} else {
			err = api.Errorf(api.CodeUnauthenticated,
				"no API token; send Authorization: Bearer <token> (PASSMAN_TOKEN for the CLI)")
		}
		if err != nil {
			var e *api.Error
			if errors.As(err, &e) && (e.Code == api.CodeUnauthenticated || e.Code == api.CodeCSRF) {
				h.svc.Refused("", op, e)
			}
			writeError(w, err)
			return
		}
		fn(w, r, c)
	}
}

func bearer(r *http.Request) (secret.Value, bool) {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || v == "" {
		return secret.Value{}, false
	}
	return secret.FromString(v), true
}

// decode reads a JSON body strictly into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, api.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeInvalidJSON, "request body has data after the JSON object")
	}
	return nil
}

// decodeError turns a JSON decoding failure into an API error that says
// what to fix without echoing the body.
func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		return api.Errorf(api.CodeBodyTooLarge, "request body is larger than %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return api.Errorf(api.CodeInvalidJSON, "request body is empty; send a JSON object")
	case errors.As(err, &typeErr):
		return api.Errorf(api.CodeInvalidJSON, "field %q has the wrong JSON type (want %s)",
			typeErr.Field, typeErr.Type)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return api.Errorf(api.CodeInvalidJSON, "request body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return api.Errorf(api.CodeUnknownField, "unknown field %s in request body", field)
	}
	return api.Errorf(api.CodeInvalidJSON, "request body does not decode: %s", firstLine(err.Error()))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// writeJSON writes v with status 200. Answers are encoded with the v1 API
// of go-json-experiment: the bytes encoding/json writes, in less time.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = fastjson.NewEncoder(w).Encode(v)
}

// writeError writes err as an API error body with its HTTP status.
func writeError(w http.ResponseWriter, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		e = api.Errorf(api.CodeInternal, "internal error; see the server log")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(e)
}

// respond writes v, or err when it is not nil.
func respond(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, v)
}

// post serves a POST whose JSON body decodes into a Req.
func post[Req any](h *Handler, op string, fn func(c *service.Caller, req *Req) (any, error)) http.HandlerFunc {
	return postContext(h, op, func(_ context.Context, c *service.Caller, req *Req) (any, error) {
		return fn(c, req)
	})
}

// postContext is post for a handler that also takes the request's
// context, ended when the client goes away.
func postContext[Req any](h *Handler, op string,
	fn func(ctx context.Context, c *service.Caller, req *Req) (any, error)) http.HandlerFunc {
	return h.authed(op, func(w http.ResponseWriter, r *http.Request, c *service.Caller) {
		req := new(Req)
		if err := decode(w, r, req); err != nil {
			h.svc.Refused(c.User, op, err.(*api.Error))
			writeError(w, err)
			return
		}
		v, err := fn(r.Context(), c, req)
		respond(w, v, err)
	})
}

// rpc serves a POST by a service method that takes the decoded body.
func rpc[Req, Resp any](h *Handler, op string, fn func(*service.Caller, *Req) (Resp, error)) http.HandlerFunc {
	return post(h, op, func(c *service.Caller, req *Req) (any, error) { return fn(c, req) })
}

// get serves a GET answered from the query string.
func (h *Handler) get(op string, fn func(c *service.Caller, q queryArgs) (any, error)) http.HandlerFunc {
	return h.authed(op, func(w http.ResponseWriter, r *http.Request, c *service.Caller) {
		v, err := fn(c, queryArgs{r})
		respond(w, v, err)
	})
}

type queryArgs struct{ r *http.Request }

func (q queryArgs) get(name string) string  { return q.r.URL.Query().Get(name) }
func (q queryArgs) path(name string) string { return q.r.PathValue(name) }

// count reads a whole number of zero or more; absent is zero.
func (q queryArgs) count(name string) (int, error) {
	v := q.get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, api.Errorf(api.CodeInvalidArgument, "%s %q is not a whole number", name, v)
	}
	return n, nil
}
