package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/harden-dev/harden/internal/wording"
)

// newDocsCmd generates reference documentation from the command tree
// (make man). Hidden: it is for packagers, not users.
func newDocsCmd(g *globals) *cobra.Command {
	docs := &cobra.Command{Use: "docs", Short: "Generate harden's reference documentation", Hidden: true}
	man := &cobra.Command{
		Use:   "man DIR",
		Short: "Write a man page (section 1) for every command to DIR",
		Long: `Man writes harden.1 and one page per command (harden-scan.1,
harden-policy-generate.1, …) to DIR, creating it. The date in the pages is
SOURCE_DATE_EPOCH when set, so a packaged build can reproduce them.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			dir := a[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Section: "1", Source: "harden " + g.build.Version, Manual: "harden manual"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return fmt.Errorf("write man pages to %s: %w", dir, err)
			}
			pages, _ := filepath.Glob(filepath.Join(dir, "harden*.1"))
			g.logf("wrote %s to %s", wording.Count(len(pages), "man page"), dir)
			return nil
		},
	}
	docs.AddCommand(man)
	return docs
}
