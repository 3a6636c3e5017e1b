package remote

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ALPN protocol names on a node's remoting port with TLS: the client
// says in its TLS handshake what the connection is.
const (
	// ALPNGRPC is protoactor remoting (gRPC), between nodes only.
	ALPNGRPC = "h2"
	// ALPNLink is a link (linkMagic's role without TLS), between nodes
	// only.
	ALPNLink = "cpg-link"
	// ALPNClient is a client connection (serveClient), from a client or
	// a node certificate.
	ALPNClient = "cpg-client"
)

// Security is a node's TLS material: the cluster CA it trusts, its own
// certificate and key, and the nodes of its cluster. A nil *Security is
// plain TCP, the insecure mode: anyone who reaches the port is believed.
//
// With it, every connection to the node's remoting port (and local link
// socket) is TLS 1.3 with a certificate the CA signed on both ends, and
// is refused otherwise; gRPC and links accept only the nodes of the node
// list, and a link's peer-protocol frames must come from the node its
// certificate names.
type Security struct {
	ca    *x509.CertPool
	cert  tls.Certificate
	self  Identity
	nodes map[uint32]bool // nil: any node the CA vouches for
}

// LoadSecurity reads the cluster CA, this process's certificate and its
// key (PEM files, as cpgkeygen writes them). The certificate must be
// signed by the CA and name a node or a client.
func LoadSecurity(caFile, certFile, keyFile string) (*Security, error) {
	cas, err := readCerts(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	if _, err := readPEMFile(certFile); err != nil {
		return nil, err
	}
	if _, err := readPEMFile(keyFile); err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("remote: %s, %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("remote: %s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	if _, err := verifyPeer(pool, []*x509.Certificate{leaf}, x509.ExtKeyUsageClientAuth); err != nil {
		return nil, fmt.Errorf("remote: %s: %w", certFile, err)
	}
	self, err := IdentityOf(leaf)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", certFile, err)
	}
	return &Security{ca: pool, cert: pair, self: self}, nil
}

// Self is who this process's certificate names.
func (s *Security) Self() Identity { return s.self }

// WithNodes returns a copy of s that accepts, among nodes, only those
// listed (the cluster's node list); none listed: every node the CA
// vouches for.
func (s *Security) WithNodes(ids []uint32) *Security {
	c := *s
	c.nodes = nil
	if len(ids) > 0 {
		c.nodes = make(map[uint32]bool, len(ids))
		for _, id := range ids {
			c.nodes[id] = true
		}
	}
	return &c
}

// isMember reports whether id is a node of the cluster s accepts.
func (s *Security) isMember(id Identity) bool {
	return id.Node != 0 && (s.nodes == nil || s.nodes[id.Node])
}

// AdmitsNode reports whether the verified TLS peer of cs is a node of
// the cluster s accepts (the remoting guard's test for gRPC calls).
func (s *Security) AdmitsNode(cs tls.ConnectionState) bool {
	id, err := peerIdentity(cs)
	return err == nil && s.isMember(id)
}

// GRPCClientConfig is the TLS configuration protoactor remoting dials
// other nodes with: ALPNGRPC, this node's certificate, the server a node
// of the cluster.
func (s *Security) GRPCClientConfig() *tls.Config { return s.clientConfig(ALPNGRPC, 0) }

// verifyPeer verifies a peer's chain against the CA for usage and
// returns the identity of its leaf.
func verifyPeer(ca *x509.CertPool, chain []*x509.Certificate, usage x509.ExtKeyUsage) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, errors.New("remote: the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: ca, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return Identity{}, err
	}
	return IdentityOf(chain[0])
}

// peerIdentity is the identity of a verified TLS peer (the handshake
// verified the chain).
func peerIdentity(cs tls.ConnectionState) (Identity, error) {
	if len(cs.PeerCertificates) == 0 {
		return Identity{}, errors.New("remote: the peer sent no certificate")
	}
	return IdentityOf(cs.PeerCertificates[0])
}

// serverConfig is the TLS configuration of the remoting port: TLS 1.3, a
// client certificate the CA signed required, the three protocols.
func (s *Security) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{s.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    s.ca,
		NextProtos:   []string{ALPNGRPC, ALPNLink, ALPNClient},
	}
}

// clientConfig is the TLS configuration of a connection this node opens
// with protocol proto to a node: its certificate, and the server verified
// against the CA (by VerifyConnection: a node is named by its URI SAN,
// not by a host name) and required to be a node of the cluster, the node
// expect if not 0.
func (s *Security) clientConfig(proto string, expect uint32) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{s.cert},
		NextProtos:   []string{proto},
		// Go's documented pattern for identities other than host names:
		// the chain is verified in VerifyConnection, which always runs.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := verifyPeer(s.ca, cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
			switch {
			case err != nil:
				return err
			case !s.isMember(id):
				return fmt.Errorf("remote: the server is %s, not a node of the cluster", id)
			case expect != 0 && id.Node != expect:
				return fmt.Errorf("remote: the server is %s, not node %d", id, expect)
			}
			return nil
		},
	}
}

// LoadClientTLS returns the TLS configuration of client name attaching to
// a node of the cluster whose PKI is in dir (cpgkeygen's files
// client-NAME.pem, client-NAME-key.pem and ca.pem): its certificate, the
// node verified against the CA (any node the CA vouches for), ALPN
// "cpg-client", TLS 1.3.
func LoadClientTLS(dir, name string) (*tls.Config, error) {
	if err := CheckClientName(name); err != nil {
		return nil, fmt.Errorf("remote: %v", err)
	}
	ca, _ := CAFiles(dir)
	cert, key := ClientFiles(dir, name)
	s, err := LoadSecurity(ca, cert, key)
	if err != nil {
		return nil, err
	}
	if s.self.Client != name {
		return nil, fmt.Errorf("remote: %s names %s, not client %s", cert, s.self, name)
	}
	return s.clientConfig(ALPNClient, 0), nil
}

// NodeTLSFiles returns the CA, certificate and key paths of node id in a
// cpgkeygen directory (Config.CryptoCA, CryptoCert, CryptoKey).
func NodeTLSFiles(dir string, id uint32) (ca, cert, key string) {
	ca, _ = CAFiles(dir)
	cert, key = NodeFiles(dir, id)
	return ca, cert, key
}
