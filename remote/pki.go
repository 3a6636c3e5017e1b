package remote

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// A cluster's public key infrastructure: one certificate authority (the
// CA, ECDSA P-256, self-signed) signs a certificate for each node and for
// each client that may attach over the network. Whoever holds a key the
// CA signed is who its certificate names; nobody else can link to a node.
// Like Corosync's authkey, the CA's key is the cluster's secret: keep it
// off the nodes once their certificates are made (cpgkeygen reuses it to
// add nodes).
//
// A certificate names its holder with one URI SAN:
//
//	actorcpg://node/<id>       a node (ExtKeyUsage ServerAuth and ClientAuth)
//	actorcpg://client/<name>   a client (ExtKeyUsage ClientAuth)

// URI scheme and hosts of the identities in certificates.
const (
	identityScheme = "actorcpg"
	nodeHost       = "node"
	clientHost     = "client"
)

// caValidity and certValidity are how long a generated CA and a
// certificate it signs are valid (a certificate never outlives its CA).
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 10 * 365 * 24 * time.Hour
)

// maxClientName bounds a client name in a certificate.
const maxClientName = 64

// NodeURI is the URI SAN of node id's certificate.
func NodeURI(id uint32) *url.URL {
	return &url.URL{Scheme: identityScheme, Host: nodeHost, Path: "/" + strconv.FormatUint(uint64(id), 10)}
}

// ClientURI is the URI SAN of the certificate of the client name.
func ClientURI(name string) *url.URL {
	return &url.URL{Scheme: identityScheme, Host: clientHost, Path: "/" + name}
}

// CheckClientName reports whether name may name a client: 1 to 64 ASCII
// letters, digits, '.', '_' or '-', not starting with '.'.
func CheckClientName(name string) error {
	if name == "" || len(name) > maxClientName || name[0] == '.' {
		return fmt.Errorf("client name %q: want 1..%d letters, digits, '.', '_' or '-', not starting with '.'", name, maxClientName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("client name %q: want 1..%d letters, digits, '.', '_' or '-', not starting with '.'", name, maxClientName)
		}
	}
	return nil
}

// IdentityOf returns who cert names: a node or a client, Authenticated.
// It does not verify the certificate (the TLS handshake did): it reads
// its one actorcpg URI SAN, and refuses a certificate with none, with
// more than one, or with one it cannot read.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, errors.New("remote: no certificate")
	}
	var found *url.URL
	for _, u := range cert.URIs {
		if u.Scheme != identityScheme {
			continue
		}
		if found != nil {
			return Identity{}, errors.New("remote: certificate names more than one actorcpg identity")
		}
		found = u
	}
	if found == nil {
		return Identity{}, errors.New("remote: certificate names no actorcpg identity (URI SAN actorcpg://node/ID or actorcpg://client/NAME)")
	}
	if found.User != nil || found.RawQuery != "" || found.Fragment != "" || found.Opaque != "" {
		return Identity{}, fmt.Errorf("remote: certificate identity %q is malformed", found)
	}
	rest, ok := strings.CutPrefix(found.Path, "/")
	if !ok {
		return Identity{}, fmt.Errorf("remote: certificate identity %q is malformed", found)
	}
	switch found.Host {
	case nodeHost:
		if !isDigits(rest) || len(rest) > 10 {
			return Identity{}, fmt.Errorf("remote: certificate identity %q: bad node id", found)
		}
		id, err := strconv.ParseUint(rest, 10, 32)
		if err != nil || id == 0 {
			return Identity{}, fmt.Errorf("remote: certificate identity %q: bad node id", found)
		}
		return Identity{Node: uint32(id), Authenticated: true}, nil
	case clientHost:
		if err := CheckClientName(rest); err != nil {
			return Identity{}, fmt.Errorf("remote: certificate identity %q: %v", found, err)
		}
		return Identity{Client: rest, Authenticated: true}, nil
	}
	return Identity{}, fmt.Errorf("remote: certificate identity %q is neither a node nor a client", found)
}

// CA is a cluster's certificate authority: its certificate and key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a new cluster CA: an ECDSA P-256 key and a self-signed
// certificate, valid ten years, that may sign only leaf certificates.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("remote: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "actorcpg cluster CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("remote: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("remote: CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue makes a key and a certificate signed by ca for id, a node (Node
// set: ServerAuth and ClientAuth) or a client (Client set: ClientAuth),
// and returns both PEM-encoded (the key as PKCS #8).
func (ca *CA) Issue(id Identity) (certPEM, keyPEM []byte, err error) {
	var uri *url.URL
	var cn string
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	switch {
	case id.Node != 0 && id.Client == "":
		uri, cn = NodeURI(id.Node), "actorcpg node "+strconv.FormatUint(uint64(id.Node), 10)
		usage = append(usage, x509.ExtKeyUsageServerAuth)
	case id.Node == 0 && id.Client != "":
		if err := CheckClientName(id.Client); err != nil {
			return nil, nil, err
		}
		uri, cn = ClientURI(id.Client), "actorcpg client "+id.Client
	default:
		return nil, nil, errors.New("remote: issue: want a node id or a client name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("remote: key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              minTime(now.Add(certValidity), ca.Cert.NotAfter),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usage,
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("remote: certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("remote: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// CertPEM is ca's certificate, PEM-encoded.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM is ca's key, PEM-encoded (PKCS #8).
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("remote: CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadCA reads a CA written by WritePKI (cpgkeygen): its certificate and
// its key, which must match.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certs, err := readCerts(certFile)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 || !certs[0].IsCA {
		return nil, fmt.Errorf("remote: %s: want one CA certificate", certFile)
	}
	b, err := readPEMFile(keyFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("remote: %s: no PKCS #8 private key", keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", keyFile, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("remote: %s is not the key of %s", keyFile, certFile)
	}
	return &CA{Cert: certs[0], Key: key}, nil
}

// maxPEMFile bounds a certificate or key file: a few KiB is usual.
const maxPEMFile = 1 << 20

// readPEMFile reads a PEM file of at most maxPEMFile bytes.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	if st.Size() > maxPEMFile {
		return nil, fmt.Errorf("remote: %s: larger than %d bytes", path, maxPEMFile)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("remote: %s: %w", path, err)
	}
	return b, nil
}

// readCerts reads the certificates of a PEM file; at least one.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := readPEMFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("remote: %s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("remote: %s: no certificate", path)
	}
	return certs, nil
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("remote: serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
