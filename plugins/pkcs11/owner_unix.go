//go:build unix

package pkcs11

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// safeToLoad refuses a module that someone other than root or the
// driver's own user could have replaced: the driver runs its code.
func safeToLoad(info fs.FileInfo) error {
	if info.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("the file is writable by its group or others (mode %v)", info.Mode())
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("the file is owned by uid %d, neither root nor the driver's user", st.Uid)
	}
	return nil
}
