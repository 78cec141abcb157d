package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// File names of the authority inside the directory given to Save.
const (
	// CACertFile is the name of the authority's certificate file, mode 0644.
	CACertFile = "ca.pem"
	// CAKeyFile is the name of the authority's private key file, mode 0600.
	CAKeyFile = "ca-key.pem"
)

// Modes of the files Save writes.
const (
	certFileMode os.FileMode = 0o644
	keyFileMode  os.FileMode = 0o600
)

// Save writes the authority to dir as CACertFile and CAKeyFile, creating dir
// with mode 0700 if it does not exist. Each file is replaced atomically;
// the key is written first, so a certificate on disk always has its key.
func (ca *CA) Save(dir string) error {
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating CA directory: %w", err)
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	if err := WriteFileAtomic(keyPath, keyPEM, keyFileMode); err != nil {
		return fmt.Errorf("saving CA key: %w", err)
	}
	certPath := filepath.Join(dir, CACertFile)
	if err := WriteFileAtomic(certPath, ca.CertPEM, certFileMode); err != nil {
		return fmt.Errorf("saving CA certificate: %w", err)
	}
	return nil
}

// LoadCA reads the authority that Save wrote to dir. It checks that the
// certificate is an authority and that the key belongs to it.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("reading CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("reading CA key: %w", err)
	}

	cert, der, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, ErrNotCA
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, ErrKeyMismatch
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der)}, nil
}

// parseCert returns the first certificate in PEM data and its DER bytes.
func parseCert(data []byte) (*x509.Certificate, []byte, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, nil, ErrNoCertificate
		}
		if block.Type != certBlockType {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing certificate: %w", err)
		}
		return cert, block.Bytes, nil
	}
}

// parseKey returns the ECDSA key in the first PKCS#8 block of PEM data.
func parseKey(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, ErrNoPrivateKey
		}
		if block.Type != keyBlockType {
			continue
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing private key: %w", err)
		}
		key, ok := parsed.(*ecdsa.PrivateKey)
		if !ok {
			return nil, ErrNotECDSA
		}
		return key, nil
	}
}

// WriteFileAtomic replaces the file at path with data and mode perm, so
// that a reader sees either the old contents or the new, never a part.
// It writes a temporary file in the same directory, syncs it, renames it
// over path and then syncs the directory so the rename survives a crash.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	tmpName := tmp.Name()
	if err := writeAndClose(tmp, data, perm); err != nil {
		os.Remove(tmpName)
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("renaming temporary file: %w", err)
	}
	return syncDir(dir)
}

// writeAndClose sets the mode of f, writes data to it, syncs it to disk and
// closes it. The mode is set before any data is written.
func writeAndClose(f *os.File, data []byte, perm os.FileMode) error {
	err := f.Chmod(perm)
	if err != nil {
		err = fmt.Errorf("setting file mode: %w", err)
	} else if _, err = f.Write(data); err != nil {
		err = fmt.Errorf("writing temporary file: %w", err)
	} else if err = f.Sync(); err != nil {
		err = fmt.Errorf("syncing temporary file: %w", err)
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing temporary file: %w", cerr)
	}
	return err
}

// syncDir flushes a directory's entries to disk. Windows cannot sync a
// directory, and renames there are durable without it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}
