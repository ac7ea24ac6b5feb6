// Package scan matches an image's SBOM against a vulnerability database
// with grype, applies OpenVEX statements, gates on severity and renders
// the findings (table, JSON, SARIF, cosign vuln attestation predicate).
package scan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v6 "github.com/anchore/grype/grype/db/v6"
	v6dist "github.com/anchore/grype/grype/db/v6/distribution"
	v6inst "github.com/anchore/grype/grype/db/v6/installation"
	"github.com/anchore/grype/grype/vulnerability"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/flagcheck"
)

// DefaultMaxDBAge is how old a database may be before scans refuse it.
const DefaultMaxDBAge = 5 * 24 * time.Hour

// CheckMaxDBAge refuses a --max-db-age that was given as zero or
// negative: zero would quietly mean the default, a negative age refuse
// every database.
func CheckMaxDBAge(d time.Duration) error {
	return flagcheck.PositiveDuration("max-db-age", d, "120h", "to use scan.maxDBAge from harden.yaml (default 120h)")
}

// DBOptions say where the vulnerability database comes from.
type DBOptions struct {
	// Path is a grype v6 database for air-gapped use: vulnerability.db, a
	// directory holding it, or an archive (.tar.gz, .tar.zst, .tar.xz) as
	// grype publishes them. Empty downloads grype's current database.
	Path string
	// CacheDir keeps downloaded databases; default
	// $XDG_CACHE_HOME/harden/grype-db.
	CacheDir string
	// MaxAge refuses an older database; 0 means DefaultMaxDBAge.
	MaxAge time.Duration
	// Now is the clock for the age check; nil is time.Now.
	Now func() time.Time
	// PathInConfig and MaxAgeInConfig say that the user sets Path and
	// MaxAge in harden.yaml (scan.db, scan.maxDBAge) rather than with
	// harden scan's --db and --max-db-age, so that messages name those.
	PathInConfig, MaxAgeInConfig bool
}

// pathName and maxAgeName name the settings in messages.
func (o DBOptions) pathName() string {
	if o.PathInConfig {
		return "scan.db"
	}
	return "--db"
}

func (o DBOptions) maxAgeName() string {
	if o.MaxAgeInConfig {
		return "scan.maxDBAge"
	}
	return "--max-db-age"
}

// givePath says how to give a local database.
func (o DBOptions) givePath() string {
	if o.PathInConfig {
		return "set scan.db in harden.yaml to"
	}
	return "pass --db with"
}

// DBStatus describes the database a scan used.
type DBStatus struct {
	Schema string    `json:"schema"` // "v6.1.10"
	Built  time.Time `json:"built"`
	Source string    `json:"source"` // where it came from: a path, or grype's listing URL
}

// DB is an open vulnerability database.
type DB struct {
	Status   DBStatus
	provider vulnerability.Provider
	cleanup  func() error
}

// OpenDB opens the database o names, or downloads the current one, and
// refuses it when it is older than o.MaxAge.
func OpenDB(o DBOptions) (*DB, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	maxAge := o.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxDBAge
	}
	if maxAge < 0 {
		return nil, CheckMaxDBAge(maxAge)
	}
	var db *DB
	var err error
	if o.Path != "" {
		db, err = importDB(o)
	} else {
		db, err = downloadDB(o)
	}
	if err != nil {
		return nil, err
	}
	if age := now().Sub(db.Status.Built); age > maxAge {
		_ = db.Close()
		update := "run without --db to download the current one, or fetch a new archive for --db"
		if o.PathInConfig {
			update = "remove scan.db from harden.yaml to download the current one, or fetch a new archive for scan.db"
		}
		raise := "raise --max-db-age"
		if o.MaxAgeInConfig {
			raise = "raise scan.maxDBAge in harden.yaml"
		}
		return nil, errs.Input(fmt.Errorf("the vulnerability database was built %s (%s ago), older than %s %s; update it (%s) or %s",
			db.Status.Built.UTC().Format(time.RFC3339), age.Round(time.Hour), o.maxAgeName(), maxAge, update, raise))
	}
	return db, nil
}

// importDB installs a local database into a temporary grype root, so
// the user's file is only read.
func importDB(o DBOptions) (*DB, error) {
	path, name := o.Path, o.pathName()
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Input(fmt.Errorf("%s %s: no such file or directory; %s a grype v6 database (vulnerability.db, its directory, or a .tar.gz/.tar.zst archive)", name, path, o.givePath()))
		}
		return nil, fmt.Errorf("%s %s: %w", name, path, err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, "vulnerability.db")
		if _, err := os.Stat(path); err != nil {
			return nil, errs.Input(fmt.Errorf("%s %s: no vulnerability.db in the directory; %s a grype v6 database", name, filepath.Dir(path), o.givePath()))
		}
	}
	root, err := os.MkdirTemp("", "harden-grype-db-*")
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database: %w", err)
	}
	cleanup := func() error { return os.RemoveAll(root) }
	cur, err := v6inst.NewCurator(v6inst.Config{DBRootDir: root, ValidateChecksum: true}, nil)
	if err == nil {
		err = cur.Import(path)
	}
	if err != nil {
		_ = cleanup()
		return nil, errs.Input(fmt.Errorf("%s %s: %w; %s a grype v6 database (schema %d)", name, path, err, o.givePath(), v6.ModelVersion))
	}
	db, err := open(cur, path)
	if err != nil {
		_ = cleanup()
		return nil, err
	}
	db.cleanup = cleanup
	return db, nil
}

// downloadDB updates the cached copy of grype's published database.
func downloadDB(o DBOptions) (*DB, error) {
	cacheDir := o.CacheDir
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("vulnerability database cache: %w; %s a local grype v6 database", err, o.givePath())
		}
		cacheDir = filepath.Join(base, "harden", "grype-db")
	}
	dist := v6dist.DefaultConfig()
	client, err := v6dist.NewClient(dist)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database client: %w", err)
	}
	cur, err := v6inst.NewCurator(v6inst.Config{DBRootDir: cacheDir, ValidateChecksum: true}, client)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database cache %s: %w", cacheDir, err)
	}
	if _, err := cur.Update(); err != nil {
		// A cached copy may still do; the age check decides.
		if st := cur.Status(); st.Error != nil {
			return nil, errs.Unreachable(fmt.Errorf("download the vulnerability database from %s: %w; for air-gapped use %s a grype v6 database archive", dist.LatestURL, err, o.givePath()))
		}
	}
	return open(cur, dist.LatestURL)
}

func open(cur v6.Curator, source string) (*DB, error) {
	st := cur.Status()
	if st.Error != nil {
		return nil, errs.Input(fmt.Errorf("vulnerability database from %s: %w", source, st.Error))
	}
	rdr, err := cur.Reader()
	if err != nil {
		return nil, fmt.Errorf("read vulnerability database from %s: %w", source, err)
	}
	return &DB{
		Status:   DBStatus{Schema: strings.TrimSpace(st.SchemaVersion), Built: st.Built.UTC(), Source: source},
		provider: v6.NewVulnerabilityProvider(rdr),
	}, nil
}

// Close releases the database and removes any temporary copy.
func (d *DB) Close() error {
	err := d.provider.Close()
	if d.cleanup != nil {
		if cErr := d.cleanup(); cErr != nil && err == nil {
			err = cErr
		}
	}
	return err
}
