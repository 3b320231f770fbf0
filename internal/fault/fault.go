// Package fault gives errors a kind that decides, in one table each, the
// HTTP status of a request and the ack action of a message.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds; Internal is the zero value so unclassified errors are retried.
const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Unauthorized
	Forbidden
	Unavailable
)

func (k Kind) String() string {
	return [...]string{"internal", "invalid", "not_found", "conflict", "unauthorized", "forbidden", "unavailable"}[k]
}

type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// Wrap marks err with kind.
func Wrap(kind Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

// Errorf formats a new error of kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of the outermost marked error in err's chain.
func KindOf(err error) Kind {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return Internal
}

// HTTPStatus maps a kind to its HTTP status.
func HTTPStatus(k Kind) int {
	switch k {
	case Invalid:
		return 400
	case NotFound:
		return 404
	case Conflict:
		return 409
	case Unauthorized:
		return 401
	case Forbidden:
		return 403
	case Unavailable:
		return 503
	}
	return 500
}
