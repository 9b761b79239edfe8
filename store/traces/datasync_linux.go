package traces

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync is fdatasync(2): the file's data and what reading it back needs
// (its length), without the timestamps fsync also commits.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Fdatasync(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
