#!/bin/sh
# mkpki.sh DIR: a throw-away PKI for the TLS tests, made with the openssl
# command (OpenSSL 3.0, as in Debian 12).  No key is ever committed: the
# tests run this into their temporary directory.  Every key is ECDSA
# P-256, mode 0600; the certificates are mode 0644.
#
#   ca.pem ca.key            the test CA ("brokerd test CA")
#   server.pem server.key    CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
#                            IP:::1; serverAuth; signed by ca
#   alias.pem alias.key      CN=broker.example, SAN DNS:broker.example
#                            only (a name the tests reach with
#                            --servername); serverAuth; signed by ca
#   monitor.pem monitor.key  client certificate, CN=monitor, signed by ca
#   other.pem other.key      client certificate, CN=other, signed by ca
#   expired.pem expired.key  client certificate, CN=monitor, signed by ca,
#                            valid 2020-01-01 to 2020-01-02 only
#   ca2.pem ca2.key          a second, unrelated CA ("unrelated CA")
#   stranger.pem stranger.key client certificate, CN=monitor, signed by ca2
#   *.chain.pem              the leaf followed by its CA, for servers
#                            that send the chain
#
#   db/                      openssl ca's databases
#
# Prints nothing on success; on failure, openssl's message and status 1.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: mkpki.sh DIR" >&2
	exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
log=mkpki.log
: >"$log"

ossl() {
	if ! openssl "$@" >>"$log" 2>&1; then
		echo "mkpki.sh: openssl $1 failed:" >&2
		cat "$log" >&2
		exit 1
	fi
}

newkey() {
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1.key"
	chmod 600 "$1.key"
}

# ca NAME CN: a self-signed CA.
ca() {
	newkey "$1"
	cat >"$1.ext" <<EOT
[req]
distinguished_name = dn
prompt = no
[dn]
CN = $2
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOT
	ossl req -new -x509 -key "$1.key" -config "$1.ext" \
	    -extensions v3_ca -days 3650 -sha256 -out "$1.pem"
	rm -f "$1.ext"
	# The database openssl ca wants, for certificates with set dates.
	mkdir -p "db/$1.certs"
	: >"db/$1.index"
	echo 1000 >"db/$1.serial"
}

# leaf NAME CN CA USAGE [SAN] [STARTDATE ENDDATE]: a certificate of
# USAGE (serverAuth or clientAuth) signed by CA, through openssl ca so
# that the dates may be set (x509 -req has only -days in OpenSSL 3.0).
leaf() {
	name=$1 cn=$2 issuer=$3 usage=$4 san=${5:-} start=${6:-} end=${7:-}
	newkey "$name"
	ossl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
	{
		cat <<EOT
[ca]
default_ca = this
[this]
database = db/$issuer.index
serial = db/$issuer.serial
new_certs_dir = db/$issuer.certs
certificate = $issuer.pem
private_key = $issuer.key
default_md = sha256
default_days = 3650
policy = any
unique_subject = no
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = $usage
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOT
		[ -z "$san" ] || echo "subjectAltName = $san"
	} >"$name.cnf"
	if [ -n "$start" ]; then
		ossl ca -batch -notext -config "$name.cnf" -in "$name.csr" \
		    -startdate "$start" -enddate "$end" -out "$name.pem"
	else
		ossl ca -batch -notext -config "$name.cnf" -in "$name.csr" \
		    -out "$name.pem"
	fi
	cat "$name.pem" "$issuer.pem" >"$name.chain.pem"
	chmod 644 "$name.pem" "$name.chain.pem"
	rm -f "$name.csr" "$name.cnf"
}

ca ca "brokerd test CA"
ca ca2 "unrelated CA"
chmod 644 ca.pem ca2.pem
leaf server localhost ca serverAuth \
    "DNS:localhost, IP:127.0.0.1, IP:::1"
leaf alias broker.example ca serverAuth "DNS:broker.example"
leaf monitor monitor ca clientAuth
leaf other other ca clientAuth
leaf expired monitor ca clientAuth "" 20200101000000Z 20200102000000Z
leaf stranger monitor ca2 clientAuth
rm -f "$log"
