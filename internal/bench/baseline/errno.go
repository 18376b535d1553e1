package baseline

import "syscall"

// errEMFILE: out of file descriptors; Serve waits and accepts again.
var errEMFILE error = syscall.EMFILE
