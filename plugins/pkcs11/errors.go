//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"strings"

	cryptoki "github.com/miekg/pkcs11"

	"github.com/passman-dev/passman/plugins/sdk"
)

// callReasons are the reasons of the return values that mean the same
// whichever call returned them. Any other is ReasonFailed.
var callReasons = map[uint]sdk.Reason{
	cryptoki.CKR_TOKEN_NOT_PRESENT:      sdk.ReasonUnreachable,
	cryptoki.CKR_TOKEN_NOT_RECOGNIZED:   sdk.ReasonUnreachable,
	cryptoki.CKR_DEVICE_REMOVED:         sdk.ReasonUnreachable,
	cryptoki.CKR_DEVICE_ERROR:           sdk.ReasonUnreachable,
	cryptoki.CKR_SLOT_ID_INVALID:        sdk.ReasonUnreachable,
	cryptoki.CKR_PIN_LOCKED:             sdk.ReasonLockedOut,
	cryptoki.CKR_PIN_EXPIRED:            sdk.ReasonLockedOut,
	cryptoki.CKR_FUNCTION_NOT_SUPPORTED: sdk.ReasonUnsupported,
}

// refusedLogin are the return values of C_Login that mean the token
// refused the PIN.
var refusedLogin = []uint{
	cryptoki.CKR_PIN_INCORRECT,
	cryptoki.CKR_PIN_INVALID,
	cryptoki.CKR_PIN_LEN_RANGE,
	cryptoki.CKR_USER_PIN_NOT_INITIALIZED,
}

// refusedPIN are the return values of C_SetPIN and C_InitPIN that mean
// the token refused the new PIN.
var refusedPIN = []uint{cryptoki.CKR_PIN_INVALID, cryptoki.CKR_PIN_LEN_RANGE}

// callError returns the *sdk.Error for a failed call; doing says what the
// call was for.
func callError(err error, doing string) error {
	reason := sdk.ReasonFailed
	if rv, ok := ckr(err); ok {
		if r, known := callReasons[rv]; known {
			reason = r
		}
	}
	return sdk.Errorf(reason, "%s: %s", doing, ckrText(err))
}

// loginError returns the *sdk.Error for a failed C_Login as who.
func loginError(err error, who role) error {
	if isCKR(err, refusedLogin...) {
		return sdk.Errorf(sdk.ReasonAuthFailed, "the token refused the %s: %s",
			who.pin, ckrText(err))
	}
	return callError(err, "logging in with the "+who.pin)
}

// setError returns the *sdk.Error for a failed C_SetPIN or C_InitPIN.
func setError(err error, doing string) error {
	switch {
	case isCKR(err, refusedPIN...):
		return sdk.Errorf(sdk.ReasonRejected, "%s: the token refused the new PIN: %s",
			doing, ckrText(err))
	case isCKR(err, cryptoki.CKR_PIN_INCORRECT):
		return sdk.Errorf(sdk.ReasonAuthFailed, "%s: the token refused the current PIN: %s",
			doing, ckrText(err))
	}
	return callError(err, doing)
}

// ckr returns the PKCS#11 return value that err carries.
func ckr(err error) (uint, bool) {
	var e cryptoki.Error
	if errors.As(err, &e) {
		return uint(e), true
	}
	return 0, false
}

// isCKR reports whether err carries one of the return values.
func isCKR(err error, values ...uint) bool {
	rv, ok := ckr(err)
	if !ok {
		return false
	}
	for _, v := range values {
		if rv == v {
			return true
		}
	}
	return false
}

// ckrText returns err for a message: a PKCS#11 return value as its name
// and number.
func ckrText(err error) string {
	rv, ok := ckr(err)
	if !ok {
		return err.Error()
	}
	text := err.Error()
	name := text[strings.LastIndex(text, " ")+1:]
	if !strings.HasPrefix(name, "CKR_") {
		return fmt.Sprintf("return value 0x%X", rv)
	}
	return fmt.Sprintf("%s (0x%X)", name, rv)
}
