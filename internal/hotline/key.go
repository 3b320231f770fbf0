package hotline

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// MinKeyBytes is the shortest signing key taken: Standard Webhooks asks
// for 24 to 64 random bytes. A shorter key, above all an empty one
// ("whsec_" alone, as a configuration template leaves it), would let
// anyone sign.
const MinKeyBytes = 24

// NewWebhook is the signer and verifier of one key, whsec_<base64>. The
// error never repeats the key.
func NewWebhook(secret string) (*standardwebhooks.Webhook, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, errors.New("not whsec_<base64>")
	}
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("its key is %d bytes, fewer than the %d needed", len(key), MinKeyBytes)
	}
	return standardwebhooks.NewWebhook(secret)
}
