package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite nats/authorization.conf from Services")

// TestAuthorizationFileIsCurrent keeps the committed authorization block,
// which docker-compose mounts, equal to the table it is rendered from.
func TestAuthorizationFileIsCurrent(t *testing.T) {
	t.Parallel()
	want := Authorization()
	path := filepath.FromSlash(AuthorizationFile)
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with deploy.Services: run go test ./deploy -run TestAuthorizationFileIsCurrent -update", path)
	}
}
