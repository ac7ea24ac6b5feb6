package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/harden-dev/harden/internal/dist"
	"github.com/harden-dev/harden/internal/errs"
	"github.com/harden-dev/harden/internal/smoke"
)

func newTestCmd(g *globals) *cobra.Command {
	var out, runtime string
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the smoke tests inside the built image as its own user",
		Long: `Test checks the image config (non-root numeric user, entrypoint), checks that
the entrypoint's program is an executable file in the image for that user
(found on the image's PATH, symlinks followed inside the image), and runs
each smoke test of harden.yaml in the built image with runc (as root),
docker or podman, or chroot as a last resort.

Without smoke tests it runs the entrypoint once with test.defaultArgs
(default --version), requires exit code 0 and warns that nothing else was
checked.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := smoke.CheckRuntime(runtime); err != nil {
				return err
			}
			pr, err := g.load(cmd.Context(), "")
			if err != nil {
				return err
			}
			idx, _, err := dist.Dir(out).Build()
			if err != nil {
				return err
			}
			rep, err := smoke.RunOutput(cmd.Context(), idx, pr.Config, runtime)
			if err != nil {
				return err
			}
			if err := g.emit(rep, func(w io.Writer) { renderSmoke(w, rep) }); err != nil {
				return err
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(g.stderr, "WARNING: %s\n", w)
			}
			if rep.Failed() {
				return errs.Check(fmt.Errorf("smoke tests: %w", errCheckFailed))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", dist.Default, "build output directory")
	cmd.Flags().StringVar(&runtime, "runtime", "", "runc, docker, podman or chroot (default: first usable)")
	return cmd
}

func renderSmoke(w io.Writer, rep *smoke.Report) {
	fmt.Fprintf(w, "image    %s (%s)\nruntime  %s\n", rep.Digest, rep.Platform, rep.Runtime)
	for _, c := range rep.Checks {
		status := "PASS"
		if !c.Passed {
			status = "FAIL"
		}
		line := fmt.Sprintf("%s  %s", status, c.Name)
		if c.Stdout != "" {
			line += fmt.Sprintf(" → %q", firstLineOf(c.Stdout))
		}
		if c.Detail != "" {
			line += " → " + c.Detail
		}
		if c.Reason != "" {
			line += ": " + c.Reason
		}
		fmt.Fprintln(w, line)
	}
}

func firstLineOf(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
