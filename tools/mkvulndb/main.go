// Command mkvulndb writes the offline vulnerability database of the demo:
// a grype v6 database of real advisories for packages the pgcli fixture
// image holds, built now (scans refuse databases older than five days).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/harden-dev/harden/internal/scan/vulndb"
)

func main() {
	out := flag.String("out", "", "directory to write vulnerability.db into")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkvulndb: pass -out DIR")
		os.Exit(2)
	}
	if err := vulndb.Write(*out, vulndb.Fixture(), time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "mkvulndb:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s/vulnerability.db (%d advisories)\n", *out, len(vulndb.Fixture()))
}
