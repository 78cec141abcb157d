package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, machine-readable error code. Scripts may match on it;
// a code is never renamed once released.
type Code string

// The error codes of the API. Each maps to one HTTP status in httpStatus and
// to one CLI exit code in ExitCode.
const (
	CodeInvalidJSON      Code = "invalid_json"       // body is not valid JSON
	CodeUnknownField     Code = "unknown_field"      // body names a field the API does not have
	CodeBodyTooLarge     Code = "body_too_large"     // body exceeds the size limit
	CodeInvalidArgument  Code = "invalid_argument"   // a field has a value that is not allowed
	CodeInvalidName      Code = "invalid_name"       // a folder, target, account or user name is not allowed
	CodeInvalidPath      Code = "invalid_path"       // a path is malformed
	CodeInvalidType      Code = "invalid_type"       // unknown credential type
	CodeInvalidPolicy    Code = "invalid_policy"     // a policy cannot be satisfied or is malformed
	CodeInvalidValue     Code = "invalid_value"      // a credential value is not of its type
	CodeNotFound         Code = "not_found"          // no such object
	CodeAlreadyExists    Code = "already_exists"     // the name is taken
	CodeNotEmpty         Code = "not_empty"          // the object still has children
	CodeUnauthenticated  Code = "unauthenticated"    // missing, malformed or unknown token or password
	CodeForbidden        Code = "forbidden"          // authenticated, but not allowed
	CodeVaultClosed      Code = "vault_closed"       // the vault must be opened first
	CodeWrongVaultKey    Code = "wrong_vault_key"    // no vault key slot opens with that key
	CodeLastVaultKey     Code = "last_vault_key"     // the last vault key cannot be removed
	CodeNeedsForce       Code = "needs_force"        // a database-only change of an InSync account
	CodeCheckedOut       Code = "checked_out"        // someone else holds an exclusive checkout
	CodeNotCheckedOut    Code = "not_checked_out"    // checkin without a checkout
	CodeNoCredential     Code = "no_credential"      // the account has no credential of that type
	CodeNoRevision       Code = "no_revision"        // no revision with that number
	CodeChanging         Code = "changing"           // a change of the credential is in flight
	CodeMethodNotAllowed Code = "method_not_allowed" // wrong HTTP method
	CodeCSRF             Code = "csrf"               // a console request without its CSRF token or from another site
	CodeInternal         Code = "internal"           // a fault of the server; see its log
)

var httpStatus = map[Code]int{
	CodeInvalidJSON:      http.StatusBadRequest,
	CodeUnknownField:     http.StatusBadRequest,
	CodeBodyTooLarge:     http.StatusRequestEntityTooLarge,
	CodeInvalidArgument:  http.StatusBadRequest,
	CodeInvalidName:      http.StatusBadRequest,
	CodeInvalidPath:      http.StatusBadRequest,
	CodeInvalidType:      http.StatusBadRequest,
	CodeInvalidPolicy:    http.StatusBadRequest,
	CodeInvalidValue:     http.StatusBadRequest,
	CodeNotFound:         http.StatusNotFound,
	CodeAlreadyExists:    http.StatusConflict,
	CodeNotEmpty:         http.StatusConflict,
	CodeUnauthenticated:  http.StatusUnauthorized,
	CodeForbidden:        http.StatusForbidden,
	CodeVaultClosed:      http.StatusServiceUnavailable,
	CodeWrongVaultKey:    http.StatusForbidden,
	CodeLastVaultKey:     http.StatusConflict,
	CodeNeedsForce:       http.StatusConflict,
	CodeCheckedOut:       http.StatusConflict,
	CodeNotCheckedOut:    http.StatusConflict,
	CodeNoCredential:     http.StatusNotFound,
	CodeNoRevision:       http.StatusNotFound,
	CodeChanging:         http.StatusConflict,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeCSRF:             http.StatusForbidden,
	CodeInternal:         http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status that carries code.
func (c Code) HTTPStatus() int {
	if s, ok := httpStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ExitCode returns the CLI exit code for code: 3 when the request was
// refused (not authorised, vault closed, needs --force), 1 otherwise.
func (c Code) ExitCode() int {
	switch c {
	case CodeUnauthenticated, CodeForbidden, CodeCSRF, CodeVaultClosed, CodeWrongVaultKey,
		CodeNeedsForce, CodeCheckedOut:
		return 3
	}
	return 1
}

// Error is an API error: a stable code and a message for a person. It is
// also the JSON body of every error response.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Error returns the message followed by the code.
func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// Errorf returns an Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
