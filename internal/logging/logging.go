// Package logging builds the zap JSON logger every process uses.
package logging

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// New returns a JSON logger writing to w at level (debug, info, warn, error).
func New(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core, zap.AddCaller()), nil
}

// Error is zap.Error for an error that may quote personal data: the
// "error" field holds its text masked by pii.MaskError, the phone and
// ID-card numbers and the names given (the callers' of the message or
// work order it is about) starred, the kind of error and its ids left
// readable. Every log line of a failure in handling an event, a work
// order or a request carries its error so: a PostgreSQL error, a JSON
// decoder's, a stage's own quote the value they failed on. A nil error
// adds no field.
func Error(err error, names ...string) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String("error", pii.MaskError(err.Error(), names...))
}
