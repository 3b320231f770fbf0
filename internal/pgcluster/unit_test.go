package pgcluster

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParsePostmasterPID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    *postmasterPID
		wantErr bool
	}{
		{
			name: "ready server",
			in:   "4242\n/var/pg/data\n1717000000\n54321\n/var/pg/run\n127.0.0.1\n  5432001    12\nready   \n",
			want: &postmasterPID{PID: 4242, Port: 54321, SocketDir: "/var/pg/run", Status: "ready"},
		},
		{
			name: "written before the socket line",
			in:   "17\n/d\n1717000000\n6000\n",
			want: &postmasterPID{PID: 17, Port: 6000},
		},
		{name: "empty after a crash", in: "", want: &postmasterPID{}},
		{name: "garbage pid", in: "abc\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parsePostmasterPID([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCanSearch(t *testing.T) {
	t.Parallel()
	a := account{name: "postgres", uid: 101, gid: 104, groups: []uint32{104, 110}, switchTo: true}
	tests := []struct {
		name     string
		mode     fs.FileMode
		uid, gid uint32
		want     bool
	}{
		{"world searchable", 0o711, 0, 0, true},
		{"root private", 0o700, 0, 0, false},
		{"owned by the account", 0o700, 101, 0, true},
		{"owner without x", 0o070, 101, 104, false},
		{"primary group", 0o750, 0, 104, true},
		{"supplementary group", 0o750, 0, 110, true},
		{"group without x", 0o705, 0, 104, false},
		{"other group, other x", 0o701, 0, 999, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := a.canSearch(tt.mode, tt.uid, tt.gid); got != tt.want {
				t.Errorf("canSearch(%v, %d, %d) = %v, want %v", tt.mode, tt.uid, tt.gid, got, tt.want)
			}
		})
	}
}

func TestSocketDirFitsSocketPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dir string
		inside    bool
	}{
		{"short", "/var/lib/nuisance/pg", true},
		{"long", "/" + strings.Repeat("x", 120) + "/pg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := socketDir(tt.dir)
			if len(got)+len("/.s.PGSQL.65535") > 107 {
				t.Errorf("socket dir %q too long", got)
			}
			if inside := strings.HasPrefix(got, tt.dir); inside != tt.inside {
				t.Errorf("socketDir(%q) = %q, inside = %v, want %v", tt.dir, got, inside, tt.inside)
			}
			if again := socketDir(tt.dir); again != got {
				t.Errorf("socketDir not stable: %q then %q", got, again)
			}
		})
	}
}

func TestDebianBinDirsNewestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"9.6", "15", "13", "16", "common", "README"} {
		if err := os.MkdirAll(filepath.Join(root, d, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := debianBinDirs(root)
	var want []string
	for _, v := range []string{"16", "15", "13", "9.6"} {
		want = append(want, filepath.Join(root, v, "bin"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestHasServerBinaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]fs.FileMode
		ok    bool
	}{
		{"complete", map[string]fs.FileMode{"initdb": 0o755, "pg_ctl": 0o755, "postgres": 0o755}, true},
		{"client only, like libpq-dev's /usr/bin", map[string]fs.FileMode{"pg_ctl": 0o755}, false},
		{"not executable", map[string]fs.FileMode{"initdb": 0o644, "pg_ctl": 0o755, "postgres": 0o755}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, mode := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := hasServerBinaries(dir); (err == nil) != tt.ok {
				t.Errorf("hasServerBinaries = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestMkdirAllSearchableIgnoresUmask(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "a", "b")
	// Simulate a restrictive umask on a created directory's parent: the
	// function must set 0755 on what it created and leave base alone.
	if err := mkdirAllSearchable(dir); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{base: 0o700, filepath.Join(base, "a"): 0o755, dir: 0o755} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
}

func TestFindBinaries(t *testing.T) {
	t.Parallel()
	if _, err := findBinaries(func(string) string { return "" }); err != nil {
		t.Skipf("no PostgreSQL on this machine: %v", err)
	}
	custom := t.TempDir()
	for _, name := range serverBinaries {
		if err := os.WriteFile(filepath.Join(custom, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		bindir  string
		want    string
		wantErr string
	}{
		{name: "PG_BINDIR wins", bindir: custom, want: custom},
		{name: "PG_BINDIR without a server", bindir: t.TempDir(), wantErr: "PG_BINDIR="},
		// Any directory with the three programs will do.
		{name: "found on the machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := findBinaries(func(key string) string {
				if key == "PG_BINDIR" {
					return tt.bindir
				}
				return ""
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if err := hasServerBinaries(got); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestNoBinariesErrorNamesTheFix(t *testing.T) {
	t.Parallel()
	if !strings.Contains(ErrNoBinaries.Error(), "scripts/install-deps.sh") {
		t.Errorf("ErrNoBinaries does not point at the install script: %v", ErrNoBinaries)
	}
}

// The use lock: short commands share it with each other; a long-lived
// holder excludes them and a second long-lived holder, and waits while
// only short commands hold it.
func TestUseLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "up.lock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, err := ShareUse(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ShareUse(path)
	if err != nil {
		t.Fatalf("two commands share the lock: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = HoldUse(short, path)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hold while commands share it: %v, want to wait until they are done", err)
	}
	a.Release()
	b.Release()

	up, err := HoldUse(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ShareUse(path); !errors.Is(err, ErrInUse) {
		t.Errorf("share while held: %v, want ErrInUse", err)
	}
	if _, err := HoldUse(ctx, path); !errors.Is(err, ErrInUse) {
		t.Errorf("a second holder: %v, want ErrInUse at once", err)
	}
	up.Release()
	c, err := ShareUse(path)
	if err != nil {
		t.Fatalf("share after release: %v", err)
	}
	c.Release()
}
