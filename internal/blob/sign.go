package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/fsutil"
	"github.com/harden-dev/harden/internal/sign"
)

// MaxSignSize bounds the files SignFile signs: a message signature is
// made over the whole file in memory. Larger files are signed through
// a checksum file (SHA256SUMS) instead.
const MaxSignSize = 1 << 30

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// Signed is a bundle written by SignFile or SignStatement.
type Signed struct {
	File     string        `json:"file,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	Bundle   string        `json:"bundle"`
	Content  string        `json:"content"`
	Signer   sign.Identity `json:"signer"`
	LogIndex *int64        `json:"logIndex,omitempty"`
}

// SignFile signs file's bytes as a message signature and writes the
// bundle to out atomically.
func SignFile(ctx context.Context, s *sign.Signer, file, out string) (*Signed, error) {
	if err := checkOut(out, file); err != nil {
		return nil, err
	}
	msg, err := readSmall(file)
	if err != nil {
		return nil, err
	}
	b, err := s.Message(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", file, err)
	}
	sum := sha256.Sum256(msg)
	return write(b, out, &Signed{File: file, SHA256: hex.EncodeToString(sum[:]), Bundle: out, Content: ContentMessage, Signer: s.Identity()})
}

// SignStatement signs an in-toto statement in a DSSE envelope and writes
// the bundle to out atomically. The statement is signed exactly as given.
func SignStatement(ctx context.Context, s *sign.Signer, statement []byte, out string) (*Signed, error) {
	if err := checkOut(out, ""); err != nil {
		return nil, err
	}
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(statement, &st); err != nil {
		return nil, errs.Input(fmt.Errorf("not an in-toto statement: %w", err))
	}
	if err := st.Validate(); err != nil {
		return nil, errs.Input(fmt.Errorf("invalid in-toto statement: %w", err))
	}
	b, err := s.DSSE(ctx, InTotoPayloadType, statement)
	if err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	return write(b, out, &Signed{Bundle: out, Content: ContentDSSE, Signer: s.Identity()})
}

// CheckSignTarget checks, before a signer is made, that file can be
// signed into out.
func CheckSignTarget(file, out string) error {
	if err := checkOut(out, file); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return errs.Input(fmt.Errorf("open %s: %w", file, err))
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return errs.Input(fmt.Errorf("stat %s: %w", file, err))
	case st.IsDir():
		return errs.Input(fmt.Errorf("%s is a directory; name a file", file))
	case st.Size() > MaxSignSize:
		return errs.Input(fmt.Errorf("%s is larger than %d MiB; sign a checksum file of it instead (sha256sum FILE > SHA256SUMS)", file, MaxSignSize>>20))
	}
	return nil
}

func checkOut(out, file string) error {
	if out == "" {
		return errs.Input(errors.New("no bundle path: pass --bundle FILE (e.g. FILE.sigstore.json)"))
	}
	if file != "" {
		a, errA := filepath.Abs(out)
		b, errB := filepath.Abs(file)
		if errA == nil && errB == nil && a == b {
			return errs.Input(fmt.Errorf("--bundle %s is the file being signed; write the bundle elsewhere, e.g. %s.sigstore.json", out, file))
		}
	}
	return nil
}

// readSmall reads a file of at most MaxSignSize bytes.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Input(fmt.Errorf("open %s: %w", path, err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, errs.Input(fmt.Errorf("stat %s: %w", path, err))
	}
	if st.IsDir() {
		return nil, errs.Input(fmt.Errorf("%s is a directory; name a file", path))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSignSize+1))
	if err != nil {
		return nil, errs.Input(fmt.Errorf("read %s: %w", path, err))
	}
	if len(data) > MaxSignSize {
		return nil, errs.Input(fmt.Errorf("%s is larger than %d MiB; sign a checksum file of it instead (sha256sum FILE > SHA256SUMS)", path, MaxSignSize>>20))
	}
	return data, nil
}

func write(b *bundle.Bundle, out string, r *Signed) (*Signed, error) {
	data, err := sign.MarshalBundle(b)
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(out, data, 0o644); err != nil {
		return nil, errs.Input(fmt.Errorf("write bundle: %w", err))
	}
	if es, err := b.TlogEntries(); err == nil && len(es) > 0 {
		i := es[0].LogIndex()
		r.LogIndex = &i
	}
	return r, nil
}
