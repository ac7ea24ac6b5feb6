// Command maxrss runs a command and writes its peak resident memory
// (rusage Maxrss, KiB on Linux) to a file: maxrss FILE CMD [ARG...]. It
// exits as the command did.
//
// Tests measure through it rather than from their own process: Go starts
// children with vfork, and a child's Maxrss starts at its parent's
// high-water mark, which for a test holding an in-process registry is
// over 200 MiB. From this small process the floor is a few MiB.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: maxrss FILE CMD [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "maxrss:", err)
		os.Exit(127)
	}
	kib := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if err := os.WriteFile(os.Args[1], []byte(strconv.FormatInt(int64(kib), 10)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "maxrss:", err)
		os.Exit(127)
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		fmt.Fprintf(os.Stderr, "maxrss: %s: signal: %v\n", os.Args[2], ws.Signal())
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
