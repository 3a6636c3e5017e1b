package api

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorsMatchByCode(t *testing.T) {
	err := fmt.Errorf("join: %w", ErrTryAgain)
	if !errors.Is(err, ErrTryAgain) || errors.Is(err, ErrExist) {
		t.Fatal("a wrapped error must match its own code only")
	}
	if CodeOf(err) != CodeTryAgain || CodeOf(nil) != CodeOK || CodeOf(errors.New("x")) != CodeLibrary {
		t.Fatal("CodeOf")
	}
	if CodeTryAgain.Err() == nil || CodeOK.Err() != nil {
		t.Fatal("Code.Err")
	}
	if ErrNoSections.Error() != "cpg: CS_ERR_NO_SECTIONS" {
		t.Fatalf("got %q", ErrNoSections.Error())
	}
}

func TestNamesAreBinaryAndLengthFirst(t *testing.T) {
	if CompareNames([]byte("x"), []byte("x\x00")) == 0 {
		t.Fatal(`"x" and "x\0" must differ`)
	}
	if CompareNames([]byte("zz"), []byte("aaa")) >= 0 {
		t.Fatal("shorter names sort first")
	}
	if CheckName(make([]byte, 129)) != ErrNameTooLong || CheckName(nil) != ErrInvalidParam || CheckName(make([]byte, 128)) != nil {
		t.Fatal("CheckName bounds")
	}
}
