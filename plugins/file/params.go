package file

import (
	"errors"
	"path/filepath"

	"github.com/passman-dev/passman/plugins/sdk"
)

// params are a target's parameters, checked.
type params struct {
	path, key string
	format    format
}

// parseParams checks a target's parameters.
func parseParams(in map[string]string) (*params, error) {
	p := &params{path: in[ParamPath], key: in[ParamKey]}
	switch {
	case p.path == "":
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "the %s parameter is required", ParamPath)
	case !filepath.IsAbs(p.path):
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s %q is not absolute", ParamPath, p.path)
	case p.key == "":
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "the %s parameter is required", ParamKey)
	}
	p.path = filepath.Clean(p.path)
	f, err := formatFor(in[ParamFormat], p.path)
	if err != nil {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%v", err)
	}
	p.format = f
	return p, nil
}

// find returns where the key's value is in content, or an *sdk.Error.
func (p *params) find(content []byte) (*match, error) {
	m, err := p.format.find(content, p.key)
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, errKeyNotFound):
		return nil, sdk.Errorf(sdk.ReasonAuthFailed, "%s has no key %q", p.path, p.key)
	case errors.Is(err, errDuplicateKey), errors.Is(err, errLayout):
		return nil, sdk.Errorf(sdk.ReasonInvalidParams, "%s, key %q: %v", p.path, p.key, err)
	default:
		return nil, sdk.Errorf(sdk.ReasonFailed, "reading %s: %v", p.path, err)
	}
}

// holds returns nil when content holds value under the key, or an
// *sdk.Error saying why not.
func (p *params) holds(content []byte, value sdk.Secret) error {
	m, err := p.find(content)
	if err != nil {
		return err
	}
	if !equal(m.value, value) {
		return sdk.Errorf(sdk.ReasonAuthFailed,
			"%s holds another value under key %q", p.path, p.key)
	}
	return nil
}

// edit returns content with m's value replaced by value, after checking
// that the result reads back as intended.
func (p *params) edit(content []byte, m *match, value []byte) ([]byte, error) {
	enc, err := p.format.encode(value, m)
	if err != nil {
		return nil, sdk.Errorf(sdk.ReasonRejected, "%s cannot hold the new value: %v", p.path, err)
	}
	out := splice(content, m, enc)
	if err := p.format.verify(content, out, p.key, m, value); err != nil {
		clear(out)
		return nil, sdk.Errorf(sdk.ReasonFailed,
			"the edit of %s did not read back as intended; nothing changed: %v", p.path, err)
	}
	return out, nil
}
