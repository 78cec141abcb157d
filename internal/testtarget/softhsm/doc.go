// Package softhsm gives tests real PKCS#11 tokens: SoftHSM 2 tokens in a
// token store of the test process's own, initialised through the PKCS#11
// API so that no PIN is ever on a command line.
//
// SoftHSM reads its configuration once per process, when the module is
// initialised, and sees only the tokens of its store that existed then or
// that the process itself initialised since. A test process therefore has
// one store, made on the first Start in a directory of its own and named
// by SOFTHSM2_CONF in the process's environment; every Start adds a token
// to it. Another process, such as a PassMan agent's pkcs11 plugin, reaches
// the store through the configuration file in Token.Conf, and sees the
// tokens made before it first loads the module. The store of a process
// that has ended is removed by the next process that makes one.
//
// For the same reason a process's module misses what other processes
// change in a token, such as a PIN: Token.Login therefore logs in from a
// new process, the test binary run again as a helper by this package's
// init, with the PIN on its standard input.
//
// The module comes with the apt package softhsm2 (or libsofthsm2 alone);
// make test installs it.
package softhsm
