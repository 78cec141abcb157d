//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"

	cryptoki "github.com/miekg/pkcs11"

	"github.com/passman-dev/passman/plugins/sdk"
)

// module is a PKCS#11 module loaded into the process and initialised. It
// is never finalised: it lives as long as the process.
//
// TODO: a module such as SoftHSM lists only the tokens it found when it
// was initialised; finalising and initialising it again when a token is
// not found would let the driver see tokens created since, without an
// agent restart.
type module struct {
	path string
	// configEnv is the config_env it was loaded with.
	configEnv string
	ctx       *cryptoki.Ctx
	// whole is held by every request when the module cannot be called
	// from several threads at once; nil when it can.
	whole semaphore

	mu sync.Mutex
	// tokens holds, per slot id, the semaphore that runs one request at
	// a time on the slot's token.
	tokens map[uint]semaphore
}

// modules holds the modules of the process by their resolved path. Its
// semaphore runs one load at a time: setting config_env and loading are
// process-wide.
var modules = struct {
	sem    semaphore
	loaded map[string]*module
}{sem: newSemaphore(), loaded: map[string]*module{}}

// loadModule returns the module of a target, loading and initialising
// it the first time.
func loadModule(ctx context.Context, t *target) (*module, error) {
	release, err := modules.sem.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if m, ok := modules.loaded[t.module]; ok {
		if m.configEnv != t.configEnv {
			return nil, sdk.Errorf(sdk.ReasonInvalidParams,
				"%s is already loaded with %s %q; one agent runs a module with one "+
					"configuration", t.library, ParamConfigEnv, m.configEnv)
		}
		return m, nil
	}
	m, err := openModule(t)
	if err != nil {
		return nil, err
	}
	modules.loaded[t.module] = m
	return m, nil
}

// openModule sets the target's config_env, loads its module and
// initialises it.
func openModule(t *target) (*module, error) {
	if t.configEnv != "" {
		name, value, _ := strings.Cut(t.configEnv, "=")
		if err := os.Setenv(name, value); err != nil {
			return nil, sdk.Errorf(sdk.ReasonInvalidParams, "setting %s: %v", name, err)
		}
	}
	c := cryptoki.New(t.module)
	if c == nil {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"%s %s does not load as a PKCS#11 module", ParamLibrary, t.library)
	}
	threads, err := initialize(c)
	if err != nil {
		c.Destroy()
		return nil, sdk.Errorf(sdk.ReasonUnreachable,
			"initialising the PKCS#11 module %s: %s", t.library, ckrText(err))
	}
	m := &module{path: t.library, configEnv: t.configEnv, ctx: c, tokens: map[uint]semaphore{}}
	if !threads {
		m.whole = newSemaphore()
	}
	return m, nil
}

// initialize initialises a module, letting it use the system's locks, or
// none when it cannot. It reports whether the module may be called from
// several threads at once. A module already initialised in the process
// counts as initialised.
func initialize(c *cryptoki.Ctx) (threads bool, err error) {
	err = c.Initialize()
	if isCKR(err, cryptoki.CKR_CANT_LOCK) {
		err = c.Initialize(cryptoki.InitializeWithFlags(0))
		threads = false
	} else {
		threads = true
	}
	if err == nil || isCKR(err, cryptoki.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return threads, nil
	}
	return false, err
}

// lock waits for the token in slot to be free and returns the function
// that frees it.
func (m *module) lock(ctx context.Context, slot uint) (func(), error) {
	if m.whole != nil {
		return m.whole.acquire(ctx)
	}
	m.mu.Lock()
	s, ok := m.tokens[slot]
	if !ok {
		s = newSemaphore()
		m.tokens[slot] = s
	}
	m.mu.Unlock()
	return s.acquire(ctx)
}

// semaphore lets one holder at a time in, and lets a waiter give up when
// its context ends.
type semaphore chan struct{}

func newSemaphore() semaphore { return make(semaphore, 1) }

// acquire waits for the semaphore and returns the function that releases
// it, or a timeout when ctx ends first.
func (s semaphore) acquire(ctx context.Context) (func(), error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, contextError(ctx, "waiting for another request to finish")
	}
}

// contextError reports why ctx ended while the driver was doing
// something.
func contextError(ctx context.Context, doing string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sdk.Errorf(sdk.ReasonTimeout, "the deadline passed while %s", doing)
	}
	return sdk.Errorf(sdk.ReasonFailed, "cancelled while %s: %v", doing, context.Cause(ctx))
}
