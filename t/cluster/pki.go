package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// writePEM writes one PEM block to DIR/name with owner-only permissions.
func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path,
		pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func readCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s: ca.crt or ca.key: no PEM",
			dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	return cert, key, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// makeCA creates a self-signed CA under prefix.crt and prefix.key.  The
// fixture signs the serving certificate and the client certificates with
// it.
func makeCA(prefix, name string) error {
	return sign(prefix, &x509.Certificate{
		Subject:  pkix.Name{CommonName: name},
		NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign |
			x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
}

// issue signs a leaf certificate with the fixture's CA and writes it under
// prefix.crt and prefix.key.
func issue(dir, prefix string, tmpl *x509.Certificate) error {
	ca, caKey, err := readCA(dir)
	if err != nil {
		return err
	}
	tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	return sign(prefix, tmpl, ca, caKey)
}

// sign makes a new key and a certificate for it from tmpl, signed by
// parent, or by itself when parent is nil, and writes both under prefix.
func sign(prefix string, tmpl, parent *x509.Certificate,
	parentKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent,
		&key.PublicKey, parentKey)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(prefix+".crt", "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(prefix+".key", "EC PRIVATE KEY", kder)
}

func makeServingCert(dir string) error {
	return issue(dir, filepath.Join(dir, "apiserver"), &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost", "kubernetes.default.svc"},
	})
}

// The service-account key signs and verifies tokens minted through the
// TokenRequest API; RSA because every issuer setup accepts it.
func makeServiceAccountKey(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "sa.key"), "RSA PRIVATE KEY",
		x509.MarshalPKCS1PrivateKey(key))
}

// clientCert issues DIR/client-USER.crt and .key for user USER in the
// optional group, and prints both paths.
func clientCert(dir string, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: client-cert DIR USER [GROUP]")
	}
	subject := pkix.Name{CommonName: args[0]}
	if len(args) > 1 {
		subject.Organization = []string{args[1]}
	}
	prefix := filepath.Join(dir, "client-"+args[0])
	err := issue(dir, prefix, &x509.Certificate{
		Subject:     subject,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s.crt\n%s.key\n", prefix, prefix)
	return nil
}
