package pkcs11

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/passman-dev/passman/plugins/sdk"
)

// The target parameters the driver reads.
const (
	ParamLibrary    = "library"
	ParamTokenLabel = "token_label"
	ParamSlot       = "slot"
	ParamConfigEnv  = "config_env"
)

// maxLabel is the length in bytes of a PKCS#11 token label.
const maxLabel = 32

// params describes the target parameters for Describe.
var params = []sdk.Param{
	{
		Name:        ParamLibrary,
		Description: "absolute path of the PKCS#11 module (a .so file) on the agent's host",
		Required:    true,
	},
	{
		Name:        ParamTokenLabel,
		Description: "label of the token; this or slot is required",
	},
	{
		Name:        ParamSlot,
		Description: "id of the token's slot, a decimal number; this or token_label is required",
	},
	{
		Name: ParamConfigEnv,
		Description: "NAME=value to set in the driver's environment before the module is " +
			"first loaded, such as SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf; the targets " +
			"of one module on one agent must all give the same",
	},
}

// envNamePattern is what the name in config_env must look like.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedEnvPrefixes are the environment names config_env may not set:
// the dynamic loader's, which would be read too late to do what they
// seem to, and PassMan's own.
var reservedEnvPrefixes = []string{"LD_", "PASSMAN_"}

// target is a target's parameters, checked.
type target struct {
	// library is the module's path as given, cleaned.
	library string
	// module is the module's path with symbolic links resolved: the key
	// under which the process keeps it.
	module string
	// label is the token's label, or empty when slot names the token.
	label string
	// slot is the token's slot id, when label is empty.
	slot uint
	// configEnv is the NAME=value to set before loading the module, or
	// empty.
	configEnv string
}

// parseParams checks a target's parameters. The address is not read:
// the token is on the agent's own host.
func parseParams(t sdk.Target) (*target, error) {
	p := &target{}
	for name, value := range t.Params {
		if err := p.set(name, value); err != nil {
			return nil, err
		}
	}
	if p.library == "" {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"the %s parameter is required", ParamLibrary)
	}
	_, hasLabel := t.Params[ParamTokenLabel]
	_, hasSlot := t.Params[ParamSlot]
	if hasLabel == hasSlot {
		return nil, sdk.Errorf(sdk.ReasonInvalidParams,
			"give exactly one of the %s and %s parameters", ParamTokenLabel, ParamSlot)
	}
	module, err := checkLibrary(p.library)
	if err != nil {
		return nil, err
	}
	p.module = module
	return p, nil
}

// set applies one target parameter.
func (p *target) set(name, value string) error {
	switch name {
	case ParamLibrary:
		if !filepath.IsAbs(value) {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be an absolute path, not %q", ParamLibrary, value)
		}
		p.library = filepath.Clean(value)
	case ParamTokenLabel:
		return p.setLabel(value)
	case ParamSlot:
		n, err := strconv.ParseUint(value, 10, strconv.IntSize)
		if err != nil {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s must be a slot id, a decimal number, not %q", ParamSlot, value)
		}
		p.slot = uint(n)
	case ParamConfigEnv:
		if err := checkConfigEnv(value); err != nil {
			return err
		}
		p.configEnv = value
	default:
		return sdk.Errorf(sdk.ReasonInvalidParams, "unknown parameter %q", name)
	}
	return nil
}

// setLabel checks a token label. Tokens pad their labels with spaces,
// which a label given here therefore cannot end with.
func (p *target) setLabel(value string) error {
	label := strings.TrimRight(value, " ")
	switch {
	case label == "":
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s is empty", ParamTokenLabel)
	case len(label) > maxLabel:
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"%s is longer than the %d bytes of a PKCS#11 label", ParamTokenLabel, maxLabel)
	}
	p.label = label
	return nil
}

// checkConfigEnv checks a config_env parameter.
func checkConfigEnv(value string) error {
	name, _, ok := strings.Cut(value, "=")
	switch {
	case !ok || !envNamePattern.MatchString(name):
		return sdk.Errorf(sdk.ReasonInvalidParams,
			"%s must be NAME=value with a NAME of letters, digits and _", ParamConfigEnv)
	case strings.ContainsRune(value, 0):
		return sdk.Errorf(sdk.ReasonInvalidParams, "%s holds a NUL byte", ParamConfigEnv)
	}
	for _, prefix := range reservedEnvPrefixes {
		if strings.HasPrefix(strings.ToUpper(name), prefix) {
			return sdk.Errorf(sdk.ReasonInvalidParams,
				"%s may not set %s: names starting with %s are reserved",
				ParamConfigEnv, name, prefix)
		}
	}
	return nil
}

// checkLibrary checks that path names a regular file that is safe to
// load into the process, and returns it with symbolic links resolved.
func checkLibrary(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", sdk.Errorf(sdk.ReasonInvalidParams,
				"%s %s does not exist", ParamLibrary, path)
		}
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "%s %s: %v", ParamLibrary, path, err)
	}
	info, err := os.Stat(real)
	switch {
	case err != nil:
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "%s %s: %v", ParamLibrary, path, err)
	case !info.Mode().IsRegular():
		return "", sdk.Errorf(sdk.ReasonInvalidParams,
			"%s %s is not a regular file", ParamLibrary, path)
	}
	if err := safeToLoad(info); err != nil {
		return "", sdk.Errorf(sdk.ReasonInvalidParams, "%s %s: %v", ParamLibrary, path, err)
	}
	return real, nil
}

// token names the target's token for logs and messages.
func (p *target) token() string {
	if p.label != "" {
		return fmt.Sprintf("label %q", p.label)
	}
	return fmt.Sprintf("slot %d", p.slot)
}
