package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// TokenPrefix starts every token, so a token pasted in the wrong place
// (a log, a chat) is recognisable and secret scanners can find it.
const TokenPrefix = "nso_"

// tokenBytes is the entropy of a token: 256 bits.
const tokenBytes = 32

// DefaultCacheTTL is how long a token lookup is reused: long enough to
// spare the database a query per request, short enough that a disabled or
// rotated token stops working within seconds on every process.
const DefaultCacheTTL = 3 * time.Second

// maxCached bounds the lookup cache; past it the cache starts over.
const maxCached = 4096

// NewToken returns a fresh random token and the hash to store for it.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the stored form of a token: SHA-256 of the whole token. A
// token has 256 random bits, so a fast unsalted hash is enough.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wellFormed reports whether tok looks like a token NewToken made, so
// garbage never reaches the database.
func wellFormed(tok string) bool {
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Officer is a token holder as the operator sees it in `officers list`:
// everything but the token, which is never stored.
type Officer struct {
	Principal
	CreatedAt  time.Time  `json:"created_at"`
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// NewOfficer is what `officers add` asks for. An officer needs a team (its
// district follows from it); a supervisor needs a district, or a team to
// take it from; an admin needs neither.
type NewOfficer struct {
	Name     string
	Team     string
	District string
	Role     string
}

// Store keeps the officers and their token hashes in PostgreSQL and
// authenticates requests against them.
type Store struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
	// forgotten counts forgetAll's calls: a look-up caches its answer
	// only when none came while it asked the database, which may have
	// answered before the disable or rotation that cleared the cache.
	forgotten uint64

	// misses are the hashes of tokens the database did not know, or knew
	// disabled, and when, so that the same wrong token sent again (a
	// console retrying a typo) asks nothing of the database for ttl. A
	// miss is remembered by the token's exact hash, never by the address
	// that sent it nor as a snapshot of the tokens that exist: a token
	// created since is not refused, whichever process created it. It has
	// a bound of its own, so random tokens do not evict the valid ones.
	misses *lru.Cache[[sha256.Size]byte, time.Time]
	// known are the hashes of tokens this process has seen valid, or
	// found valid in the officers table when it last read them all. They
	// are looked up whatever their address's failures (and so ended by a
	// disable or a rotation as any other): an office behind one NAT
	// address, or every client behind a proxy, is not locked out by one
	// colleague's typos or a script. Only a token missing from them is
	// refused unseen, and the table is read again, at most every
	// knownEvery, before one is: a token created since is served then.
	known   *lru.Cache[[sha256.Size]byte, struct{}]
	knownMu sync.Mutex
	knownAt time.Time
	// failures holds each client address's budget of look-ups of unseen
	// tokens that failed; allFailures that of every address together.
	failures    *buckets
	allFailures *rate.Limiter

	teamsOnce sync.Once
	teams     map[string]routing.Team
	districts map[string]bool
	teamsErr  error
}

type cached struct {
	p  Principal
	at time.Time
}

// NewStore returns a Store on pool that reuses a token lookup, found or
// not, for ttl (0: every request asks the database).
func NewStore(pool *pgxpool.Pool, ttl time.Duration) *Store {
	misses, err := lru.New[[sha256.Size]byte, time.Time](maxCached)
	if err != nil {
		panic(err) // only for a size below 1
	}
	known, err := lru.New[[sha256.Size]byte, struct{}](maxCached)
	if err != nil {
		panic(err)
	}
	return &Store{pool: pool, ttl: ttl, now: time.Now, cache: make(map[[sha256.Size]byte]cached),
		misses: misses, known: known, failures: newBuckets(rate.Every(failureEvery), failureBurst),
		allFailures: rate.NewLimiter(rate.Every(allFailuresEvery), allFailuresBurst)}
}

// Authorizer returns the Store's authentication as an Authorizer.
func (s *Store) Authorizer() Authorizer { return s.Authorize }

// Authorize authenticates the bearer token of r. A token this process
// has not seen valid is looked up only within the budget of failed
// authentications of r's client address; past it the answer is
// fault.Unauthorized that Deny writes as 429 with Retry-After.
func (s *Store) Authorize(r *http.Request) (Principal, error) {
	return s.lookup(r.Context(), bearer(r), clientOf(r), true)
}

// Lookup returns the holder of token: fault.Unauthorized when the token is
// empty, malformed, unknown or disabled; fault.Unavailable when the
// database does not answer.
func (s *Store) Lookup(ctx context.Context, token string) (Principal, error) {
	return s.lookup(ctx, token, "", false)
}

func (s *Store) lookup(ctx context.Context, token, client string, limited bool) (Principal, error) {
	if token == "" {
		return Principal{}, fault.Errorf(fault.Unauthorized, "no bearer token")
	}
	if !wellFormed(token) {
		return Principal{}, fault.Errorf(fault.Unauthorized, "malformed bearer token")
	}
	key := sha256.Sum256([]byte(token))
	now := s.now()
	var gen uint64 // forgetAll's calls before the database is asked
	if s.ttl > 0 {
		s.mu.Lock()
		c, ok := s.cache[key]
		gen = s.forgotten
		s.mu.Unlock()
		if ok && now.Sub(c.at) < s.ttl {
			return c.p, nil
		}
		if at, ok := s.misses.Get(key); ok && now.Sub(at) < s.ttl {
			return Principal{}, fault.Errorf(fault.Unauthorized, "unknown or disabled bearer token")
		}
	}
	// A look-up that finds the token valid gives its share back: only
	// failures spend the address's budget.
	var spent, spentAll *rate.Reservation
	if limited && !s.known.Contains(key) {
		r, wait := s.failures.take(client, now)
		if r != nil {
			if spentAll = s.allFailures.ReserveN(now, 1); spentAll.DelayFrom(now) > 0 {
				wait = spentAll.DelayFrom(now)
				spentAll.CancelAt(now)
				r.CancelAt(now)
				r, spentAll = nil, nil
			}
		}
		if r == nil && !s.reloadKnown(ctx, now, key) {
			failuresLimited.Inc()
			return Principal{}, fault.Wrap(fault.Unauthorized, &failureLimited{wait: wait})
		}
		spent = r
	}
	var p Principal
	err := s.pool.QueryRow(ctx, `SELECT id, name, COALESCE(team, ''), COALESCE(district, ''), role
		FROM officers WHERE token_hash = $1 AND disabled_at IS NULL`, key[:]).Scan(&p.ID, &p.Name, &p.Team, &p.District, &p.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		s.forget(key)
		s.known.Remove(key)
		if s.ttl > 0 {
			s.misses.Add(key, now)
		}
		return Principal{}, fault.Errorf(fault.Unauthorized, "unknown or disabled bearer token")
	}
	if spent != nil {
		spent.CancelAt(now)
		spentAll.CancelAt(now)
	}
	if err != nil {
		return Principal{}, fault.Wrap(fault.Unavailable, fmt.Errorf("look up token: %w", err))
	}
	s.known.Add(key, struct{}{})
	s.misses.Remove(key)
	if s.ttl > 0 {
		s.mu.Lock()
		if len(s.cache) >= maxCached {
			clear(s.cache)
		}
		if s.forgotten == gen {
			s.cache[key] = cached{p: p, at: now}
		}
		s.mu.Unlock()
	}
	return p, nil
}

// knownEvery is how often, at most, the valid tokens are read again for
// a token refused unseen: the longest a token created meanwhile waits
// when its address is over its failures, and one query per interval
// whatever a script sends.
const knownEvery = 5 * time.Second

// reloadKnown reads every valid token's hash into known, unless it did
// less than knownEvery ago, and reports whether key is known.
func (s *Store) reloadKnown(ctx context.Context, now time.Time, key [sha256.Size]byte) bool {
	s.knownMu.Lock()
	defer s.knownMu.Unlock()
	if s.known.Contains(key) {
		return true // read by another request meanwhile
	}
	if !s.knownAt.IsZero() && now.Sub(s.knownAt) < knownEvery {
		return false
	}
	s.knownAt = now // failed too: a database in trouble is not asked more
	rows, err := s.pool.Query(ctx, `SELECT token_hash FROM officers WHERE disabled_at IS NULL`)
	if err != nil {
		return false
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return false
	}
	for _, h := range hashes {
		if len(h) == sha256.Size {
			s.known.Add([sha256.Size]byte(h), struct{}{})
		}
	}
	return s.known.Contains(key)
}

func (s *Store) forget(key [sha256.Size]byte) {
	s.mu.Lock()
	delete(s.cache, key)
	s.mu.Unlock()
}

// forgetAll drops every cached lookup after a disable or a rotation, so this
// process stops honouring the old token at once (others within the TTL).
func (s *Store) forgetAll() {
	s.mu.Lock()
	clear(s.cache)
	s.forgotten++
	s.mu.Unlock()
}

func (s *Store) loadTeams() error {
	s.teamsOnce.Do(func() {
		r, err := routing.Load()
		if err != nil {
			s.teamsErr = fmt.Errorf("load teams: %w", err)
			return
		}
		s.teams = make(map[string]routing.Team)
		s.districts = make(map[string]bool)
		for _, t := range r.Teams() {
			s.teams[t.ID] = t
			s.districts[t.District] = true
		}
	})
	return s.teamsErr
}

// Team returns a team of the seeds by id, for callers that show its name.
func (s *Store) Team(id string) (routing.Team, bool, error) {
	if err := s.loadTeams(); err != nil {
		return routing.Team{}, false, err
	}
	t, ok := s.teams[id]
	return t, ok, nil
}

// normalise checks n against the seeds and fills the district of a team.
func (s *Store) normalise(n NewOfficer) (NewOfficer, error) {
	if err := s.loadTeams(); err != nil {
		return n, err
	}
	n.Name, n.Team, n.District, n.Role = strings.TrimSpace(n.Name), strings.TrimSpace(n.Team), strings.TrimSpace(n.District), strings.TrimSpace(n.Role)
	if n.Role == "" {
		n.Role = RoleOfficer
	}
	if !slices.Contains(Roles, n.Role) {
		return n, fault.Errorf(fault.Invalid, "role %q: want officer, supervisor or admin", n.Role)
	}
	if n.Name == "" {
		return n, fault.Errorf(fault.Invalid, "an officer needs a name")
	}
	if utf8.RuneCountInString(n.Name) > 100 {
		return n, fault.Errorf(fault.Invalid, "name longer than 100 characters")
	}
	if n.Team != "" {
		t, ok := s.teams[n.Team]
		if !ok {
			return n, fault.Errorf(fault.Invalid, "unknown team %q (see seeds/teams.json)", n.Team)
		}
		if n.District != "" && n.District != t.District {
			return n, fault.Errorf(fault.Invalid, "team %s works in %s, not %s", n.Team, t.District, n.District)
		}
		n.District = t.District
	}
	if n.District != "" && !s.districts[n.District] {
		return n, fault.Errorf(fault.Invalid, "unknown district %q", n.District)
	}
	switch {
	case n.Role == RoleOfficer && n.Team == "":
		return n, fault.Errorf(fault.Invalid, "an officer needs a team")
	case n.Role == RoleSupervisor && n.District == "":
		return n, fault.Errorf(fault.Invalid, "a supervisor needs a district or a team")
	}
	return n, nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newID() (string, error) {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new officer id: %w", err)
	}
	return "off_" + idEncoding.EncodeToString(b), nil
}

// Add creates an officer and returns it with its token; the token is
// shown this once and only its hash is kept.
func (s *Store) Add(ctx context.Context, n NewOfficer) (Officer, string, error) {
	n, err := s.normalise(n)
	if err != nil {
		return Officer{}, "", err
	}
	for range 3 {
		id, err := newID()
		if err != nil {
			return Officer{}, "", err
		}
		token, hash, err := NewToken()
		if err != nil {
			return Officer{}, "", err
		}
		o := Officer{Principal: Principal{ID: id, Name: n.Name, Team: n.Team, District: n.District, Role: n.Role}}
		err = s.pool.QueryRow(ctx, `INSERT INTO officers (id, name, team, district, role, token_hash)
			VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6) RETURNING created_at`,
			id, n.Name, n.Team, n.District, n.Role, hash).Scan(&o.CreatedAt)
		if pgstore.IsUniqueViolation(err) {
			continue // an id collision; draw again
		}
		if err != nil {
			return Officer{}, "", fmt.Errorf("add officer: %w", err)
		}
		return o, token, nil
	}
	return Officer{}, "", errors.New("add officer: no free id after 3 draws")
}

// List returns every officer, disabled ones included, by team and name.
func (s *Store) List(ctx context.Context) ([]Officer, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, COALESCE(team, ''), COALESCE(district, ''), role, created_at, rotated_at, disabled_at
		FROM officers ORDER BY role, COALESCE(team, ''), COALESCE(district, ''), name, id`)
	if err != nil {
		return nil, fmt.Errorf("list officers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Officer, error) {
		var o Officer
		err := r.Scan(&o.ID, &o.Name, &o.Team, &o.District, &o.Role, &o.CreatedAt, &o.RotatedAt, &o.DisabledAt)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list officers: %w", err)
	}
	return out, nil
}

// Disable revokes an officer's token for good; disabling twice is
// harmless. fault.NotFound for an unknown id.
func (s *Store) Disable(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE officers SET disabled_at = COALESCE(disabled_at, now()) WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("disable officer %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Errorf(fault.NotFound, "no officer %s", id)
	}
	s.forgetAll()
	return nil
}

// Rotate replaces an officer's token and returns the new one; the old one
// stops working. fault.NotFound for an unknown id, fault.Conflict for a
// disabled officer.
func (s *Store) Rotate(ctx context.Context, id string) (string, error) {
	token, hash, err := NewToken()
	if err != nil {
		return "", err
	}
	var disabled *time.Time
	err = s.pool.QueryRow(ctx, `UPDATE officers o SET token_hash = CASE WHEN o.disabled_at IS NULL THEN $2 ELSE o.token_hash END,
			rotated_at = CASE WHEN o.disabled_at IS NULL THEN now() ELSE o.rotated_at END
		WHERE o.id = $1 RETURNING o.disabled_at`, id, hash).Scan(&disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fault.Errorf(fault.NotFound, "no officer %s", id)
	}
	if err != nil {
		return "", fmt.Errorf("rotate token of officer %s: %w", id, err)
	}
	if disabled != nil {
		return "", fault.Errorf(fault.Conflict, "officer %s is disabled", id)
	}
	s.forgetAll()
	return token, nil
}
