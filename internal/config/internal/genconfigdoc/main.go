// Command genconfigdoc writes docs/config-reference.md and
// docs/harden.schema.json from the config package. It runs through
// go generate ./internal/config.
package main

import (
	"flag"
	"log"
	"path/filepath"

	"github.com/harden-dev/harden/internal/config/configdoc"
	"github.com/harden-dev/harden/internal/fsutil"
)

func main() {
	dir := flag.String("dir", ".", "the config package's directory")
	root := flag.String("root", "../..", "the repository root, where docs/ is")
	flag.Parse()
	ref, schema, err := configdoc.Generate(*dir)
	if err != nil {
		log.Fatalf("genconfigdoc: %v", err)
	}
	for path, data := range map[string][]byte{configdoc.ReferenceFile: ref, configdoc.SchemaFile: schema} {
		if err := fsutil.WriteFileAtomic(filepath.Join(*root, filepath.FromSlash(path)), data, 0o644); err != nil {
			log.Fatalf("genconfigdoc: %v", err)
		}
	}
}
