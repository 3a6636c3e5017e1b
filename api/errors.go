package api

import (
	"errors"
	"strconv"
)

// Code is a Corosync cs_error_t value. CS_OK is 1; every error is above it.
type Code int32

// The cs_error_t values (corotypes.h). Numbers are part of the protocol.
const (
	CodeOK                Code = 1
	CodeLibrary           Code = 2
	CodeVersion           Code = 3
	CodeInit              Code = 4
	CodeTimeout           Code = 5
	CodeTryAgain          Code = 6
	CodeInvalidParam      Code = 7
	CodeNoMemory          Code = 8
	CodeBadHandle         Code = 9
	CodeBusy              Code = 10
	CodeAccess            Code = 11
	CodeNotExist          Code = 12
	CodeNameTooLong       Code = 13
	CodeExist             Code = 14
	CodeNoSpace           Code = 15
	CodeInterrupt         Code = 16
	CodeNameNotFound      Code = 17
	CodeNoResources       Code = 18
	CodeNotSupported      Code = 19
	CodeBadOperation      Code = 20
	CodeFailedOperation   Code = 21
	CodeMessageError      Code = 22
	CodeQueueFull         Code = 23
	CodeQueueNotAvailable Code = 24
	CodeBadFlags          Code = 25
	CodeTooBig            Code = 26
	CodeNoSections        Code = 27
	CodeContextNotFound   Code = 28
	CodeTooManyGroups     Code = 30
	CodeSecurity          Code = 100
)

var codeNames = map[Code]string{
	CodeOK: "CS_OK", CodeLibrary: "CS_ERR_LIBRARY", CodeVersion: "CS_ERR_VERSION",
	CodeInit: "CS_ERR_INIT", CodeTimeout: "CS_ERR_TIMEOUT", CodeTryAgain: "CS_ERR_TRY_AGAIN",
	CodeInvalidParam: "CS_ERR_INVALID_PARAM", CodeNoMemory: "CS_ERR_NO_MEMORY",
	CodeBadHandle: "CS_ERR_BAD_HANDLE", CodeBusy: "CS_ERR_BUSY", CodeAccess: "CS_ERR_ACCESS",
	CodeNotExist: "CS_ERR_NOT_EXIST", CodeNameTooLong: "CS_ERR_NAME_TOO_LONG",
	CodeExist: "CS_ERR_EXIST", CodeNoSpace: "CS_ERR_NO_SPACE", CodeInterrupt: "CS_ERR_INTERRUPT",
	CodeNameNotFound: "CS_ERR_NAME_NOT_FOUND", CodeNoResources: "CS_ERR_NO_RESOURCES",
	CodeNotSupported: "CS_ERR_NOT_SUPPORTED", CodeBadOperation: "CS_ERR_BAD_OPERATION",
	CodeFailedOperation: "CS_ERR_FAILED_OPERATION", CodeMessageError: "CS_ERR_MESSAGE_ERROR",
	CodeQueueFull: "CS_ERR_QUEUE_FULL", CodeQueueNotAvailable: "CS_ERR_QUEUE_NOT_AVAILABLE",
	CodeBadFlags: "CS_ERR_BAD_FLAGS", CodeTooBig: "CS_ERR_TOO_BIG", CodeNoSections: "CS_ERR_NO_SECTIONS",
	CodeContextNotFound: "CS_ERR_CONTEXT_NOT_FOUND", CodeTooManyGroups: "CS_ERR_TOO_MANY_GROUPS",
	CodeSecurity: "CS_ERR_SECURITY",
}

// String returns the Corosync name of the code, e.g. "CS_ERR_TRY_AGAIN".
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "CS_ERR_" + strconv.Itoa(int(c))
}

// Err returns nil for CodeOK and the matching *Error otherwise.
func (c Code) Err() error {
	if c == CodeOK {
		return nil
	}
	if c == 0 {
		return ErrLibrary
	}
	return &Error{Code: c}
}

// Error is an actorcpg error carrying its CS code. Two Errors match with
// errors.Is when their codes are equal, so a wrapped error still matches the
// sentinel: errors.Is(err, api.ErrTryAgain).
type Error struct {
	Code Code
}

// Error implements error.
func (e *Error) Error() string { return "cpg: " + e.Code.String() }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the CS code of err: CodeOK for nil, the code of the *Error
// it wraps, or CodeLibrary for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeLibrary
}

// The errors the calls return, one per CS code they use.
var (
	ErrLibrary         = &Error{Code: CodeLibrary}
	ErrVersion         = &Error{Code: CodeVersion}
	ErrInit            = &Error{Code: CodeInit}
	ErrTimeout         = &Error{Code: CodeTimeout}
	ErrTryAgain        = &Error{Code: CodeTryAgain}
	ErrInvalidParam    = &Error{Code: CodeInvalidParam}
	ErrNoMemory        = &Error{Code: CodeNoMemory}
	ErrBadHandle       = &Error{Code: CodeBadHandle}
	ErrBusy            = &Error{Code: CodeBusy}
	ErrAccess          = &Error{Code: CodeAccess}
	ErrNotExist        = &Error{Code: CodeNotExist}
	ErrNameTooLong     = &Error{Code: CodeNameTooLong}
	ErrExist           = &Error{Code: CodeExist}
	ErrNoSpace         = &Error{Code: CodeNoSpace}
	ErrInterrupt       = &Error{Code: CodeInterrupt}
	ErrNoResources     = &Error{Code: CodeNoResources}
	ErrNotSupported    = &Error{Code: CodeNotSupported}
	ErrMessageError    = &Error{Code: CodeMessageError}
	ErrQueueFull       = &Error{Code: CodeQueueFull}
	ErrBadFlags        = &Error{Code: CodeBadFlags}
	ErrTooBig          = &Error{Code: CodeTooBig}
	ErrNoSections      = &Error{Code: CodeNoSections}
	ErrContextNotFound = &Error{Code: CodeContextNotFound}
	ErrSecurity        = &Error{Code: CodeSecurity}
)
