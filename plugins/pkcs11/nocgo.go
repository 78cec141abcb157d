//go:build !cgo

package pkcs11

import (
	"context"

	"github.com/passman-dev/passman/plugins/sdk"
)

// errNoCgo answers every request of a driver built without cgo, which
// cannot load a PKCS#11 module.
var errNoCgo = sdk.Errorf(sdk.ReasonUnsupported,
	"this pkcs11 driver was built without cgo and cannot load PKCS#11 modules")

func check(context.Context, *target, account, sdk.Secret) error { return errNoCgo }

func change(context.Context, *target, account, *sdk.ChangeRequest) error { return errNoCgo }
