// Package wheel installs Python wheels natively into a layer.Tree, following
// the "Binary distribution format" (wheel 1.0), "Recording installed
// projects" and "Platform compatibility tags" specifications. No Python
// runs at build time, so no .pyc files are written; the interpreter
// compiles on first import (or not at all with a read-only site-packages,
// which only costs start-up time).
//
// Decisions the specs leave open, and where harden differs from pip:
//
//   - Tags follow packaging.tags.sys_tags() for CPython on manylinux, minus
//     linux_<arch> (no glibc floor, refused by PyPI) and musllinux (the
//     targets are glibc images). See Target.Tags.
//   - A file that another wheel already installed is an error naming both
//     owners; pip overwrites silently. Directories may be shared.
//   - Headers go to Scheme.Headers/<METADATA Name>/, as distutils and pip do.
//   - "#!python..." first lines of .data/scripts are replaced whole by
//     "#!<Interpreter>" (arguments dropped), exactly as pip does; scripts
//     are installed 0755 even when the archive lacks the exec bit.
//   - Launchers for console_scripts and gui_scripts are harden's own; the
//     module-only form ("name = pkg.mod") runs the module like "python -m",
//     where pip refuses it.
//   - Symlink members are kept as symlinks if, followed like the kernel
//     would (through other links of the wheel and of the tree), they stay
//     inside the scheme dir they are installed under; else refused. pip
//     would write them as plain files holding the target text.
//   - RECORD.jws and RECORD.p7s are neither verified nor installed: they
//     sign the wheel's RECORD, which the installed RECORD replaces. A wheel's
//     own INSTALLER and REQUESTED are dropped for the same reason.
//   - No direct_url.json: harden installs from a hash lock, not a URL.
//   - Hashes: sha256, sha384 and sha512 are accepted; md5, sha1 and
//     sha224 are refused as weak.
//   - Modes are 0755 when any exec bit is set, else 0644; setuid and setgid
//     bits are refused, devices and pipes too.
//
// The peer test (peer_test.go) checks all of this against a real pip.
package wheel
