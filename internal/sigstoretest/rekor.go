package sigstoretest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sigstore/rekor-tiles/v2/pkg/note"
)

const (
	// rekorHost is both the bind address and the checkpoint origin. The
	// verifier checks checkpoint signatures against the hostname of the
	// trusted root's tlog baseUrl, so the two must agree.
	rekorHost = "127.0.0.1"
	// rekorReadyTimeout bounds startup; it normally takes ~0.15 s.
	rekorReadyTimeout = 30 * time.Second
	// rekorStartAttempts covers losing a free port to another process
	// between probing and binding.
	rekorStartAttempts = 3
	// outputTail is how much server output goes into failure messages.
	outputTail = 8 << 10
)

// rekor is a Rekor v2 (rekor-tiles) child process.
type rekor struct {
	url   string
	pub   *ecdsa.PublicKey
	logID []byte // what the server puts in each entry's logId.keyId
	proc  *rekorProcess
}

// startRekor runs the rekor-server binary bin with a fresh key and POSIX
// storage in a new directory under parent, which stays after the server
// stops. The caller stops it with proc.stop. ctx bounds startup only.
func startRekor(ctx context.Context, bin, parent string) (_ *rekor, err error) {
	dir, err := os.MkdirTemp(parent, "rekor-")
	if err != nil {
		return nil, fmt.Errorf("rekor storage: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("rekor key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("rekor key: %w", err)
	}
	keyPath := filepath.Join(dir, "signer.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("rekor key: %w", err)
	}
	// Rekor derives the log ID the same way; for ECDSA it is the SHA-256
	// of the PKIX public key, independent of the origin.
	_, logID, err := note.KeyHash(rekorHost, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("rekor log ID: %w", err)
	}

	for attempt := 1; ; attempt++ {
		p, err := launchRekor(ctx, bin, keyPath, filepath.Join(dir, "log"+strconv.Itoa(attempt)))
		if err == nil {
			return &rekor{url: p.url, pub: &key.PublicKey, logID: logID, proc: p}, nil
		}
		if attempt < rekorStartAttempts && strings.Contains(p.output(), "address already in use") {
			continue
		}
		if out := p.output(); out != "" {
			return nil, fmt.Errorf("%w\nrekor-server output:\n%s", err, out)
		}
		return nil, err
	}
}

// rekorProcess is one running rekor-server.
type rekorProcess struct {
	url     string
	cmd     *exec.Cmd
	out     *tailBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

// launchRekor starts rekor-server and waits until it answers. On error the
// process is gone and p still carries its output.
func launchRekor(ctx context.Context, bin, keyPath, storageDir string) (p *rekorProcess, err error) {
	p = &rekorProcess{out: &tailBuffer{max: outputTail}, done: make(chan struct{})}
	if err := os.MkdirAll(storageDir, 0o755); err != nil {
		return p, fmt.Errorf("rekor storage: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return p, err
	}
	httpPort, grpcPort, metricsPort := ports[0], ports[1], ports[2]
	p.url = "http://" + net.JoinHostPort(rekorHost, strconv.Itoa(httpPort))

	// Not CommandContext: the process must outlive this call; stop kills
	// it.
	p.cmd = exec.Command(bin, "serve",
		"--http-address="+rekorHost,
		"--http-port="+strconv.Itoa(httpPort),
		"--grpc-address="+rekorHost,
		"--grpc-port="+strconv.Itoa(grpcPort),
		"--http-metrics-port="+strconv.Itoa(metricsPort),
		"--hostname="+rekorHost,
		"--storage-dir="+storageDir,
		"--signer-filepath="+keyPath,
		"--checkpoint-interval=500ms",
		"--batch-max-age=50ms",
	)
	if err := p.start(); err != nil {
		return p, err
	}
	if err := p.waitReady(ctx); err != nil {
		p.kill()
		return p, err
	}
	return p, nil
}

// start runs p.cmd with its output going to p.out and closes p.done when
// it exits.
func (p *rekorProcess) start() error {
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cmd.Path, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

// waitReady polls /healthz until the server reports SERVING.
func (p *rekorProcess) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, rekorReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.healthy(ctx, client) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("rekor-server exited before it was ready: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("rekor-server at %s not ready: %w", p.url, ctx.Err())
		case <-tick.C:
		}
	}
}

func (p *rekorProcess) healthy(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	return resp.StatusCode == http.StatusOK && strings.Contains(body.String(), "SERVING")
}

func (p *rekorProcess) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stop kills the server. It reports an error when the server had already
// failed on its own; a clean exit (status 0, as after an interrupt sent to
// the whole process group) is not an error.
func (p *rekorProcess) stop() error {
	select {
	case <-p.done:
		if p.waitErr != nil {
			return fmt.Errorf("rekor-server exited while serving: %w\nrekor-server output:\n%s", p.waitErr, p.output())
		}
		return nil
	default:
	}
	p.kill()
	return nil
}

func (p *rekorProcess) output() string {
	if p == nil || p.out == nil {
		return ""
	}
	return p.out.String()
}

// freePorts reserves n distinct ports on 127.0.0.1 and releases them for
// the child to bind. Another process may grab one in between; callers
// retry on "address already in use".
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(rekorHost, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		addr, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("find a free port: listener is not TCP")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent
// use by the process's output copier and its readers.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
	cut bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.cut = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return "[...]\n" + string(b.buf)
	}
	return string(b.buf)
}
