package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// The files of a cluster's PKI in one directory (cpgkeygen's -dir):
//
//	ca.pem  ca-key.pem                    the CA
//	node-K.pem  node-K-key.pem            node K
//	client-NAME.pem  client-NAME-key.pem  client NAME
//
// Keys are written mode 0600, certificates 0644, the directory 0700.

// CAFiles returns the paths of the CA certificate and key in dir.
func CAFiles(dir string) (cert, key string) {
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
}

// NodeFiles returns the paths of node id's certificate and key in dir.
func NodeFiles(dir string, id uint32) (cert, key string) {
	base := filepath.Join(dir, "node-"+strconv.FormatUint(uint64(id), 10))
	return base + ".pem", base + "-key.pem"
}

// ClientFiles returns the paths of the client name's certificate and key
// in dir.
func ClientFiles(dir, name string) (cert, key string) {
	base := filepath.Join(dir, "client-"+name)
	return base + ".pem", base + "-key.pem"
}

// PKIFiles are the files WritePKI wrote or reused.
type PKIFiles struct {
	// Dir is the directory holding them.
	Dir string
	// CA and CAKey are the CA's certificate and key.
	CA, CAKey string
	// Nodes and Clients are the certificate and key of each node and
	// client asked for.
	Nodes   map[uint32]CertFiles
	Clients map[string]CertFiles
	// NewCA: the CA was made now, not reused.
	NewCA bool
}

// CertFiles are the paths of one certificate and its key.
type CertFiles struct {
	Cert, Key string
}

// Node returns the CA, certificate and key paths of node id, as
// Config.CryptoCA, CryptoCert and CryptoKey take them.
func (p *PKIFiles) Node(id uint32) (ca, cert, key string) {
	f := p.Nodes[id]
	return p.CA, f.Cert, f.Key
}

// WritePKI makes the PKI of a cluster in dir (created mode 0700 if
// missing): the CA, reused if dir holds one (so that nodes and clients
// can be added later), and a key and certificate for each node id and
// client name. An existing node or client key is an error unless force
// (then it is replaced); the CA is never replaced: remove its files to
// make a new one. Files are written whole or not at all.
func WritePKI(dir string, nodes []uint32, clients []string, force bool) (*PKIFiles, error) {
	for _, id := range nodes {
		if id == 0 {
			return nil, errors.New("remote: node id 0")
		}
	}
	for _, name := range clients {
		if err := CheckClientName(name); err != nil {
			return nil, fmt.Errorf("remote: %v", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	p := &PKIFiles{Dir: dir, Nodes: map[uint32]CertFiles{}, Clients: map[string]CertFiles{}}
	p.CA, p.CAKey = CAFiles(dir)
	ca, err := caIn(p.CA, p.CAKey)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		if ca, err = NewCA(); err != nil {
			return nil, err
		}
		kp, err := ca.KeyPEM()
		if err != nil {
			return nil, err
		}
		// The key first: a CA certificate without its key is no CA.
		if err := writeFile(p.CAKey, kp, 0o600, false); err != nil {
			return nil, err
		}
		if err := writeFile(p.CA, ca.CertPEM(), 0o644, false); err != nil {
			return nil, err
		}
		p.NewCA = true
	}
	issue := func(id Identity, cert, key string) error {
		if !force {
			if _, err := os.Lstat(key); err == nil {
				return fmt.Errorf("remote: %s exists (force replaces it)", key)
			}
		}
		cp, kp, err := ca.Issue(id)
		if err != nil {
			return err
		}
		if err := writeFile(key, kp, 0o600, true); err != nil {
			return err
		}
		return writeFile(cert, cp, 0o644, true)
	}
	for _, id := range nodes {
		cert, key := NodeFiles(dir, id)
		if err := issue(Identity{Node: id}, cert, key); err != nil {
			return nil, err
		}
		p.Nodes[id] = CertFiles{cert, key}
	}
	for _, name := range clients {
		cert, key := ClientFiles(dir, name)
		if err := issue(Identity{Client: name}, cert, key); err != nil {
			return nil, err
		}
		p.Clients[name] = CertFiles{cert, key}
	}
	return p, nil
}

// NewTestPKI makes a fresh PKI in dir (t.TempDir() in a test) for the
// given nodes and clients, as cpgkeygen does: WritePKI without force. It
// takes a few milliseconds (ECDSA P-256), so that every test can have
// its own CA.
func NewTestPKI(dir string, nodes []uint32, clients []string) (*PKIFiles, error) {
	return WritePKI(dir, nodes, clients, false)
}

// caIn loads the CA of dir; nil if neither of its files exists.
func caIn(cert, key string) (*CA, error) {
	_, cerr := os.Stat(cert)
	_, kerr := os.Stat(key)
	switch {
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
		return nil, nil
	case errors.Is(cerr, fs.ErrNotExist):
		return nil, fmt.Errorf("remote: %s exists without %s", key, cert)
	case errors.Is(kerr, fs.ErrNotExist):
		return nil, fmt.Errorf("remote: %s exists without its key %s", cert, key)
	}
	return LoadCA(cert, key)
}

// writeFile writes b to path with mode perm, through a temporary file
// renamed over it: path holds the old or the new content, never a part.
// An existing path is an error unless replace.
func writeFile(path string, b []byte, perm os.FileMode, replace bool) error {
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("remote: %s exists", path)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, nothing is there
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("remote: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("remote: %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("remote: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("remote: %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	return nil
}
