package intake_test

import (
	"net/http"
	"testing"
)

// A look-up of a ticket holding /../ goes past the mux, and is signed all
// the same: unsigned, or signed with another key, it is refused, as on
// any other path.
func TestARawLookupIsSignedAsAnyOther(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, path := range []string{"XM/../0004", "XM%2F..%2F0004", "XM/%2E%2E/0004", "XM//0005"} {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/hotline/complaints/"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned GET %s: %d, want 401", path, resp.StatusCode)
		}
		req.Header.Set("webhook-id", "raw-forged")
		req.Header.Set("webhook-timestamp", "1700000000")
		req.Header.Set("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with a forged signature: %d, want 401", path, resp.StatusCode)
		}
	}
}
