//go:build !unix

package pkcs11

import "io/fs"

// safeToLoad accepts any file where files have no Unix owner and mode.
func safeToLoad(fs.FileInfo) error { return nil }
