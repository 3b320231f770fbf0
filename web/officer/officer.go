// Package officer serves the officers' web console at /officer/: a
// phone-first page in Chinese where enforcement officers sign in with their
// token, follow their team's assignments live and act on cases. Everything
// it needs (HTML, CSS, script, icon and the district outlines of its map)
// is embedded in the binary, so the console works on a network that
// reaches nothing but this server.
package officer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/seeds"
)

// Prefix is the path the console is served under.
const Prefix = "/officer/"

// ContentSecurityPolicy is sent with every console response: scripts,
// styles, images and API calls only from this origin, no inline code, no
// framing, so an injected string in a complaint can never run.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Routes mounts the console and its district outlines on mux; the
// all-in-one server and cmd/officers call it.
func Routes(mux httpx.Mux) {
	h := Handler()
	mux.Handle("GET "+Prefix, h)
	mux.Handle("GET "+Prefix+"districts.json", h)
	mux.Handle("GET "+Prefix+"teams.json", h)
}

// Handler serves the console under /officer/ (it expects the full path,
// not one stripped of the prefix).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := load()
		if err != nil {
			httpx.WriteProblem(w, httpx.Problem{Status: http.StatusInternalServerError, Detail: "the console could not be prepared"})
			return
		}
		c.serve(w, r)
	})
}

// asset is one prepared response body.
type asset struct {
	body   []byte
	gz     []byte // nil when compressing does not pay
	ctype  string
	etag   string
	hash   string // first hex digits of the body's SHA-256, the ?v= of its URL
	static bool   // versioned by hash: cacheable forever under its ?v=
}

type console struct {
	assets map[string]*asset // by name below Prefix; "" is the page
}

var load = sync.OnceValues(build)

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
}

func build() (*console, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	c := &console{assets: map[string]*asset{}}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == "index.html" {
			continue
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return nil, fmt.Errorf("console asset %s: %w", name, err)
		}
		a, err := newAsset(name, b)
		if err != nil {
			return nil, err
		}
		a.static = true
		c.assets[name] = a
	}
	page, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		return nil, fmt.Errorf("console page: %w", err)
	}
	tmpl, err := template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			a, ok := c.assets[name]
			if !ok {
				return "", fmt.Errorf("no console asset %q", name)
			}
			return name + "?v=" + a.hash, nil
		},
	}).Parse(string(page))
	if err != nil {
		return nil, fmt.Errorf("console page: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return nil, fmt.Errorf("console page: %w", err)
	}
	if c.assets[""], err = newAsset("index.html", buf.Bytes()); err != nil {
		return nil, err
	}
	outlines, err := districtOutlines()
	if err != nil {
		return nil, err
	}
	if c.assets["districts.json"], err = newAsset("districts.json", outlines); err != nil {
		return nil, err
	}
	c.assets["districts.json"].ctype = "application/geo+json"
	// The teams a supervisor may move a case to (改派), as the seeds name them.
	teams, err := seeds.FS.ReadFile("teams.json")
	if err != nil {
		return nil, fmt.Errorf("console teams: %w", err)
	}
	if c.assets["teams.json"], err = newAsset("teams.json", teams); err != nil {
		return nil, err
	}
	return c, nil
}

func newAsset(name string, b []byte) (*asset, error) {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		return nil, fmt.Errorf("console asset %s: no content type for its extension", name)
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])[:16]
	a := &asset{body: b, ctype: ct, hash: h, etag: `"` + h + `"`}
	if len(b) >= 512 && ct != "image/png" {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = zw.Write(b)
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("console asset %s: gzip: %w", name, err)
		}
		if z.Len() < len(b)*9/10 {
			a.gz = z.Bytes()
		}
	}
	return a, nil
}

func (c *console) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		httpx.WriteProblem(w, httpx.Problem{Status: http.StatusNotFound, Detail: "the console is under " + Prefix})
		return
	}
	if name == "index.html" {
		name = ""
	}
	a, ok := c.assets[name]
	if !ok {
		httpx.WriteProblem(w, httpx.Problem{Status: http.StatusNotFound, Detail: "no console file " + name})
		return
	}
	switch {
	case a.static && r.URL.Query().Get("v") == a.hash:
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	case name == "districts.json", name == "teams.json":
		h.Set("Cache-Control", "public, max-age=3600")
	default:
		// The page and unversioned URLs are revalidated on every load, so
		// a new release reaches officers at once.
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.etag
	gz := a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		// Each encoding is its own representation with its own tag.
		body, etag = a.gz, `"`+a.hash+`-gz"`
	}
	h.Set("ETag", etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Content-Type", a.ctype)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
