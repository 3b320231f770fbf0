package reporter

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// chromium finds the headless browser: $CHROMIUM, or the usual paths.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where the screenshot is kept: $NUISANCE_ARTIFACTS when
// set (CI uploads it), else the test's temporary directory.
func artifactDir(t *testing.T) string {
	if dir := os.Getenv("NUISANCE_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestHTMLRendersInChromium prints the seeded week's page to a PNG of an
// A4 sheet at 150 dpi in headless Chromium and fails on any console
// message or failed load: the page has no script and loads nothing.
func TestHTMLRendersInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium()
	if bin == "" {
		if os.Getenv("CHROMIUM_REQUIRED") != "" {
			t.Fatal("CHROMIUM_REQUIRED is set but no chromium was found (install it with scripts/install-deps.sh --chromium or set CHROMIUM)")
		}
		t.Skip("chromium not installed: the HTML report is not rendered (make test installs it and sets CHROMIUM_REQUIRED=1)")
	}
	pool := testenv.DB(t)
	seed(t, pool)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	dir := artifactDir(t)
	page := filepath.Join(dir, "reporter-"+fixtureWeek+".html")
	shot := filepath.Join(dir, "reporter-"+fixtureWeek+".png")
	var buf bytes.Buffer
	if err := Render(r, "html", &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(shot)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--screenshot="+shot, "--window-size=1240,1754", "file://"+page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Uncaught") || strings.Contains(line, "CONSOLE") ||
			strings.Contains(line, "Failed to load resource") || strings.Contains(line, "net::ERR_") {
			t.Errorf("chromium reported a page error: %s", line)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 1240 || b.Dy() != 1754 {
		t.Errorf("screenshot is %dx%d, want 1240x1754", b.Dx(), b.Dy())
	}
	// A rendered page has text, tables and a map: many pixels that are
	// neither white nor one flat colour.
	colours := map[uint32]bool{}
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				inked++
			}
		}
	}
	if len(colours) < 50 || inked < 5000 {
		t.Errorf("screenshot looks blank: %d colours, %d inked samples", len(colours), inked)
	}
	t.Logf("screenshot kept at %s", shot)
}
