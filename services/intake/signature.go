package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// tolerance is how far a webhook-timestamp may be from now, as the
// Standard Webhooks library enforces it.
const tolerance = 5 * time.Minute

// signingKey is one hotline secret, with HMACs keyed by it ready for reuse:
// keying one costs two SHA-256 blocks and a few allocations.
type signingKey struct {
	macs sync.Pool
}

func newSigningKey(secret string) (*signingKey, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, err
	}
	return &signingKey{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}, nil
}

// sign appends the base64 HMAC-SHA256 of "id.timestamp.body" to dst,
// writing the parts to the MAC without joining them in a copy.
func (k *signingKey) sign(dst []byte, id string, timestamp int64, body []byte) []byte {
	mac := k.macs.Get().(hash.Hash)
	var scratch [sha256.Size + 20]byte
	mac.Write([]byte(id))
	mac.Write(append(strconv.AppendInt(append(scratch[:0], '.'), timestamp, 10), '.'))
	mac.Write(body)
	sum := mac.Sum(scratch[:0])
	mac.Reset()
	k.macs.Put(mac)
	return base64.StdEncoding.AppendEncode(dst, sum)
}

// header reads a header by its canonical name without canonicalizing it
// again.
func header(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// verify checks the Standard Webhooks signature of body against every
// configured secret, as the Standard Webhooks library does: the same
// headers, the 5-minute timestamp tolerance, the timestamp signed as its
// decimal value, any "v1," signature of the space-separated list compared
// in constant time. Errors wrap the library's, which signatureDetail
// explains.
func (s *Service) verify(body []byte, h http.Header) error {
	id := header(h, "Webhook-Id")
	signatures := header(h, "Webhook-Signature")
	stamp := header(h, "Webhook-Timestamp")
	if id == "" || signatures == "" || stamp == "" {
		return fmt.Errorf("verify signature: %w", standardwebhooks.ErrRequiredHeaders)
	}
	sec, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return fmt.Errorf("verify signature: %w", standardwebhooks.ErrInvalidHeaders)
	}
	at, now := time.Unix(sec, 0), s.now()
	if now.Sub(at) > tolerance {
		return fmt.Errorf("verify signature: %w", standardwebhooks.ErrMessageTooOld)
	}
	if at.After(now.Add(tolerance)) {
		return fmt.Errorf("verify signature: %w", standardwebhooks.ErrMessageTooNew)
	}
	var buf [64]byte
	for _, k := range s.keys {
		want := k.sign(buf[:0], id, sec, body)
		for rest := signatures; rest != ""; {
			var candidate string
			candidate, rest, _ = strings.Cut(rest, " ")
			version, sig, ok := strings.Cut(candidate, ",")
			if !ok || version != "v1" {
				continue
			}
			sig, _, _ = strings.Cut(sig, ",")
			if hmac.Equal([]byte(sig), want) {
				return nil
			}
		}
	}
	return fmt.Errorf("verify signature: %w", standardwebhooks.ErrNoMatchingSignature)
}
