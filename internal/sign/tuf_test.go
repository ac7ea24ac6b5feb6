package sign

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/sigstoretest"
)

// Offline, the trusted root comes from the TUF cache an online load
// left, without a request, and only while that cache is unexpired.
func TestLoadTrustOfflineFromTUFCache(t *testing.T) {
	const rootPath = "../pep740/testdata/trusted_root_public_good.json"
	trustedRoot, err := os.ReadFile(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	repo := sigstoretest.NewTUFRepo(t, map[string][]byte{"trusted_root.json": trustedRoot}, true)
	var requests atomic.Int32
	files := http.FileServer(http.Dir(repo.Dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cache := t.TempDir()
	opts := TrustOptions{CacheDir: cache, TUFMirror: srv.URL, TUFRoot: repo.RootJSON(t)}

	// Offline before any online load: nothing cached, nothing asked.
	off := opts
	off.Offline = true
	_, err = LoadTrust(off)
	if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "run once with the network to fill it, or pass --trusted-root FILE") {
		t.Fatalf("offline with an empty cache: exit %d: %v", errs.ExitCode(err), err)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("an offline load made %d requests", n)
	}

	online, err := LoadTrust(opts)
	if err != nil {
		t.Fatal(err)
	}
	if online.Source != srv.URL || len(online.Root.FulcioCertificateAuthorities()) == 0 {
		t.Fatalf("online load: source %s, %d CAs", online.Source, len(online.Root.FulcioCertificateAuthorities()))
	}
	asked := requests.Load()
	if asked == 0 {
		t.Fatal("the online load asked the repository nothing")
	}

	// A fresh reader, so nothing is kept in memory: the cache alone.
	off.TUF = &TUFReader{}
	got, err := LoadTrust(off)
	if err != nil {
		t.Fatalf("offline from the cache: %v", err)
	}
	if n := requests.Load(); n != asked {
		t.Fatalf("the offline load made %d requests", n-asked)
	}
	if len(got.Root.FulcioCertificateAuthorities()) != len(online.Root.FulcioCertificateAuthorities()) || got.Source != srv.URL {
		t.Fatalf("offline root differs from the online one: %+v", got)
	}

	// The cache holds no signing config: a signer offline is told so.
	signOff := off
	signOff.NeedSigningConfig, signOff.TUF = true, &TUFReader{}
	signOff.TrustedRootPath = rootPath
	if _, err := LoadTrust(signOff); errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "or pass --signing-config FILE") {
		t.Fatalf("offline signer without a cached signing config: exit %d: %v", errs.ExitCode(err), err)
	}

	// An expired timestamp in the cache is not trusted, and offline it
	// is not refreshed either.
	repo.WriteTimestamp(t, filepath.Join(cache, "tuf", tuf.URLToPath(srv.URL), "timestamp.json"), 1, time.Now().Add(-time.Hour).UTC())
	off.TUF = &TUFReader{}
	_, err = LoadTrust(off)
	if errs.ExitCode(err) != errs.CodeInput || !strings.Contains(err.Error(), "holds no unexpired trust material") {
		t.Fatalf("offline with an expired cache: exit %d: %v", errs.ExitCode(err), err)
	}
	if n := requests.Load(); n != asked {
		t.Fatalf("the offline load with an expired cache made %d requests", n-asked)
	}
	// Online, the same cache is refreshed from the repository.
	repo.WriteTimestamp(t, filepath.Join(repo.Dir, "timestamp.json"), 1, time.Now().AddDate(0, 0, 7).UTC())
	if _, err := LoadTrust(opts); err != nil {
		t.Fatalf("online after expiry: %v", err)
	}
}
