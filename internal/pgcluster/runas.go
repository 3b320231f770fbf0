package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Names of the unprivileged accounts a cluster runs as when the caller is
// root: Debian's postgresql package creates the first; the second is
// created on demand where that package is absent.
const (
	debianUser   = "postgres"
	fallbackUser = "nuisance-pg"
)

// account is the operating-system user that owns the data directory and
// runs the PostgreSQL programs.
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
	// switchTo is set when the caller is root and must drop to this
	// account for every PostgreSQL program.
	switchTo bool
}

// currentAccount describes the calling user, who runs PostgreSQL directly.
func currentAccount() (account, error) {
	u, err := user.Current()
	if err != nil {
		return account{}, fmt.Errorf("look up current user: %w", err)
	}
	return toAccount(u, false)
}

// serverAccount picks the account that runs PostgreSQL: the caller itself
// unless it is root, which PostgreSQL refuses to run as.
func serverAccount(ctx context.Context) (account, error) {
	if os.Geteuid() != 0 {
		return currentAccount()
	}
	if u, err := user.Lookup(debianUser); err == nil {
		return toAccount(u, true)
	}
	u, err := user.Lookup(fallbackUser)
	if err != nil {
		if err := createSystemUser(ctx, fallbackUser); err != nil {
			return account{}, err
		}
		if u, err = user.Lookup(fallbackUser); err != nil {
			return account{}, fmt.Errorf("look up %s after creating it: %w", fallbackUser, err)
		}
	}
	return toAccount(u, true)
}

// createSystemUser adds a login-less system user; a concurrent creation
// by another process is not an error.
func createSystemUser(ctx context.Context, name string) error {
	useradd, err := exec.LookPath("useradd")
	if err != nil {
		return fmt.Errorf("create system user %s: useradd not found: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, useradd, "--system", "--user-group",
		"--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", name).CombinedOutput()
	if err != nil {
		if _, lerr := user.Lookup(name); lerr == nil {
			return nil
		}
		return fmt.Errorf("create system user %s: %w: %s", name, err, out)
	}
	return nil
}

func toAccount(u *user.User, switchTo bool) (account, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	a := account{name: u.Username, uid: uint32(uid), gid: uint32(gid), switchTo: switchTo}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// apply makes cmd run as the account, without a shell in between, and in
// its own process group so a terminal's Ctrl-C aimed at the caller does
// not reach PostgreSQL's tools halfway through.
func (a account) apply(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if a.switchTo {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
	}
}

// own gives path to the account when the caller is root.
func (a account) own(path string) error {
	if !a.switchTo {
		return nil
	}
	if err := os.Lchown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, a.name, err)
	}
	return nil
}

// ownTree gives dir and everything under it to the account when the
// caller is root, skipping the walk when dir already belongs to it.
func (a account) ownTree(dir string) error {
	if !a.switchTo {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return a.own(path)
	})
}

// canSearch reports whether the account may traverse the directory with
// the given owner and mode, following the owner, group, other rule.
func (a account) canSearch(mode fs.FileMode, uid, gid uint32) bool {
	if a.uid == 0 {
		return true
	}
	if uid == a.uid {
		return mode&0o100 != 0
	}
	if gid == a.gid {
		return mode&0o010 != 0
	}
	for _, g := range a.groups {
		if g == gid {
			return mode&0o010 != 0
		}
	}
	return mode&0o001 != 0
}

// checkTraversable makes sure the account can reach dir: PostgreSQL runs
// as that account and must open files below dir by absolute path. It
// fails with the first ancestor that blocks it and how to fix it.
func (a account) checkTraversable(dir string) error {
	if !a.switchTo {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("stat %s: no ownership information", p)
		}
		if !a.canSearch(fi.Mode(), st.Uid, st.Gid) {
			return fmt.Errorf("PostgreSQL runs as user %s, who cannot enter %s (mode %v): run `chmod o+x %s` or choose a data directory it can reach (e.g. under /var/lib)",
				a.name, p, fi.Mode().Perm(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// mkdirAllSearchable creates dir and any missing parents, and makes the
// ones it created searchable by everyone whatever the umask, so the
// unprivileged account can reach the cluster through them.
func mkdirAllSearchable(dir string) error {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		missing = append(missing, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if err := os.Mkdir(p, 0o755); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // created meanwhile by someone else: theirs to set
			}
			return fmt.Errorf("create %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}
