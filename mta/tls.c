/*
 * OpenSSL contexts.  Server: TLS 1.2 and 1.3, a wide TLS 1.2 cipher list
 * with the server's preference, the configured certificate or a
 * self-signed one made once under spool_dir/tls.  Client: TLS 1.2+, DANE
 * enabled, the system CA store; the handshake never fails on the
 * certificate, which is judged afterwards against the TLS decision.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "compat.h"
#include "config.h"
#include "log.h"
#include "tls.h"
#include "tls_policy.h"
#include "util.h"

/* RFC 7435 §3 / RFC 7672 §8.2: for opportunistic SMTP any reasonable
 * cipher beats cleartext; only the broken ones are left out. */
#define TLS_CIPHERS_WIDE	"HIGH:MEDIUM:!aNULL:!eNULL:!RC4:!3DES:!MD5"
#define SELFSIGNED_DAYS		3650
#define CN_MAX			64	/* RFC 5280 ub-common-name */

void
tls_init(void)
{
	(void)OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
}

const char *
tls_error_string(char *buf, size_t len)
{
	unsigned long	 e = ERR_get_error();

	ERR_clear_error();
	if (e == 0)
		(void)snprintf(buf, len, "unknown TLS error");
	else
		ERR_error_string_n(e, buf, len);
	return buf;
}

/* Options both sides share. */
static void
ctx_common(SSL_CTX *ctx)
{
	long	 opts = SSL_OP_NO_COMPRESSION;

#ifdef SSL_OP_NO_RENEGOTIATION
	opts |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* Peers often close without close_notify; SMTP ends its data with
	 * its own markers, so a missing alert truncates nothing unseen. */
	opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	(void)SSL_CTX_set_options(ctx, opts);
	(void)SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static int	selfsigned_ensure(const char *, const char *, const char *, int,
		    char *, size_t);

static int
load_pair(SSL_CTX *ctx, const char *cp, const char *kp, char *err,
    size_t errlen)
{
	char	 e[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, cp) != 1) {
		(void)snprintf(err, errlen, "%s: %s", cp,
		    tls_error_string(e, sizeof(e)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, kp, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		(void)snprintf(err, errlen, "%s: %s", kp,
		    tls_error_string(e, sizeof(e)));
		return -1;
	}
	return 0;
}

/* The self-made pair of one key type under spool_dir/tls. */
static int
selfmade_pair(SSL_CTX *ctx, const char *dir, const char *prefix,
    const char *hostname, int rsa, char *err, size_t errlen)
{
	char	 cert[1100], key[1100];

	if ((size_t)snprintf(cert, sizeof(cert), "%s/%scert.pem", dir,
	    prefix) >= sizeof(cert) || (size_t)snprintf(key, sizeof(key),
	    "%s/%skey.pem", dir, prefix) >= sizeof(key)) {
		(void)snprintf(err, errlen, "spool_dir too long");
		return -1;
	}
	if (selfsigned_ensure(cert, key, hostname, rsa, err, errlen) == -1)
		return -1;
	return load_pair(ctx, cert, key, err, errlen);
}

static int
server_cert(SSL_CTX *ctx, const struct config *conf, char *err,
    size_t errlen)
{
	char	 dir[1024];

	if (conf->tls_cert != NULL && *conf->tls_cert != '\0')
		return load_pair(ctx, conf->tls_cert, conf->tls_key, err,
		    errlen);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/tls", conf->spool_dir) >=
	    sizeof(dir)) {
		(void)snprintf(err, errlen, "spool_dir too long");
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* OpenSSL keeps one certificate per key type and picks per peer. */
	if (selfmade_pair(ctx, dir, "", conf->hostname, 0, err, errlen) == -1)
		return -1;
	return selfmade_pair(ctx, dir, "rsa-", conf->hostname, 1, err, errlen);
}

SSL_CTX *
tls_server_ctx(const struct config *conf, char *err, size_t errlen)
{
	static const unsigned char sid[] = "postern";
	SSL_CTX		*ctx;
	const char	*ciphers = TLS_CIPHERS_WIDE;
	char		 e[256];

	if (conf->tls_ciphers != NULL && *conf->tls_ciphers != '\0')
		ciphers = conf->tls_ciphers;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		(void)snprintf(err, errlen, "SSL_CTX_new: %s",
		    tls_error_string(e, sizeof(e)));
		return NULL;
	}
	ctx_common(ctx);
	/* The context is made before fork(), so every child shares its
	 * ticket keys: tickets resume across children; a per-process
	 * session cache would only grow and never hit. */
	(void)SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	(void)SSL_CTX_set_dh_auto(ctx, 1);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		(void)snprintf(err, errlen, "tls_ciphers \"%s\": %s", ciphers,
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	if (server_cert(ctx, conf, err, errlen) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void
ca_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* Ex-data slot of a client context: the CA file still to load ("" for
 * the system store), or NULL once loaded. */
static int
ca_index(void)
{
	static int	 idx = -1;

	if (idx == -1)
		idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ca_free);
	return idx;
}

static int
ca_load(SSL_CTX *ctx)
{
	char	*cafile = SSL_CTX_get_ex_data(ctx, ca_index());
	char	 e[256];
	int	 ok;

	if (cafile == NULL)
		return 0;
	ok = *cafile != '\0' ? SSL_CTX_load_verify_locations(ctx, cafile,
	    NULL) : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		log_warnx("CA store %s: %s", *cafile ? cafile : "(system)",
		    tls_error_string(e, sizeof(e)));
		return -1;
	}
	(void)SSL_CTX_set_ex_data(ctx, ca_index(), NULL);
	free(cafile);
	return 0;
}

SSL_CTX *
tls_client_ctx(const char *cafile, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 e[256];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		(void)snprintf(err, errlen, "SSL_CTX_new: %s",
		    tls_error_string(e, sizeof(e)));
		return NULL;
	}
	ctx_common(ctx);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_WIDE) != 1) {
		(void)snprintf(err, errlen, "client ciphers: %s",
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	/* RFC 7672 §3: TLSA records are matched by OpenSSL's DANE code. */
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		(void)snprintf(err, errlen, "DANE: %s",
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	/* The CA store is read when a level first needs PKIX (verify,
	 * mta-sts): reading the system bundle costs more than the rest of a
	 * delivery to a peer that only needs opportunistic TLS or DANE. */
	if (ca_index() == -1 || SSL_CTX_set_ex_data(ctx, ca_index(),
	    xstrdup(cafile != NULL ? cafile : "")) != 1) {
		(void)snprintf(err, errlen, "CA store: %s",
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	/* Verification runs but never aborts the handshake: the caller
	 * checks SSL_get_verify_result() when its TLS level requires it. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
is_ip_literal(const char *s)
{
	return strchr(s, ':') != NULL || strspn(s, "0123456789.") ==
	    strlen(s);
}

/*
 * RFC 7672 §3.1.1: DANE-EE ignores names; §3.2.2: DANE-TA checks the TLSA
 * base domain (the MX host name); §3.1.3: PKIX-TA/PKIX-EE (usages 0, 1)
 * are unusable for SMTP.  -1 when no usable record is left: the decision
 * promised some (tls_policy.h), so nothing is weaker than asked.
 */
static int
dane_setup(SSL *ssl, const struct tls_decision *d, const char *name)
{
	size_t	 i, usable = 0;

	if (SSL_dane_enable(ssl, name) <= 0)
		return -1;
	(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < d->ntlsa; i++) {
		if (d->tlsa[i].usage != 2 && d->tlsa[i].usage != 3)
			continue;
		if (SSL_dane_tlsa_add(ssl, d->tlsa[i].usage,
		    d->tlsa[i].selector, d->tlsa[i].mtype, d->tlsa[i].data,
		    d->tlsa[i].len) > 0)
			usable++;
	}
	return usable > 0 ? 0 : -1;
}

/*
 * The reference identity of a PKIX check (RFC 6125 §6.2): the host name,
 * or for an IP literal next hop (relayhost [192.0.2.1]) its address as
 * an iPAddress name.  With match= names those are the identities of an IP
 * literal instead: OpenSSL would demand the address and a name both.
 */
static int
pkix_reference(SSL *ssl, const struct tls_decision *d, const char *name)
{
	if (!is_ip_literal(name))
		return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
	if (d->nmatch > 0 && tls_auth_required(d->level))
		return 0;
	return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 ?
	    0 : -1;
}

SSL *
tls_client_ssl(SSL_CTX *ctx, const struct tls_decision *d, const char *name)
{
	SSL		*ssl;
	size_t		 i;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	/* tls_policy_file "protocols=>=TLSv1.3". */
	if (d->min_proto != 0 &&
	    SSL_set_min_proto_version(ssl, d->min_proto) != 1)
		goto fail;
	/* RFC 6066 §3: no IP literals in SNI. */
	if (*name != '\0' && !is_ip_literal(name))
		(void)SSL_set_tlsext_host_name(ssl, name);
	if (d->level == TLS_LEVEL_DANE) {
		if (dane_setup(ssl, d, name) == -1)
			goto fail;
	} else if (tls_auth_required(d->level) || d->sts_testing) {
		if (ca_load(ctx) == -1)
			goto fail;
		/* MTA-STS testing (RFC 8461 §5): checked, only reported. */
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (pkix_reference(ssl, d, name) == -1)
			goto fail;
	}
	for (i = 0; i < d->nmatch && tls_auth_required(d->level); i++)
		if (SSL_add1_host(ssl, d->match[i]) != 1)
			goto fail;
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

const char *
tls_client_verify(SSL *ssl)
{
	long	 v = SSL_get_verify_result(ssl);

	return v == X509_V_OK ? NULL : X509_verify_cert_error_string(v);
}

/* EC P-256 for modern peers; RSA 2048 beside it for clients that only
 * know RSA key exchange or signatures (a self-made certificate must let
 * every sane peer encrypt). */
static EVP_PKEY *
make_key(int rsa)
{
	EVP_PKEY_CTX	*pc;
	EVP_PKEY	*pk = NULL;

	if ((pc = EVP_PKEY_CTX_new_id(rsa ? EVP_PKEY_RSA : EVP_PKEY_EC,
	    NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_keygen_init(pc) <= 0 || (rsa ?
	    EVP_PKEY_CTX_set_rsa_keygen_bits(pc, 2048) :
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc,
	    NID_X9_62_prime256v1)) <= 0 || EVP_PKEY_keygen(pc, &pk) <= 0)
		pk = NULL;
	EVP_PKEY_CTX_free(pc);
	return pk;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* A random positive 63-bit serial (RFC 5280 §4.1.2.2). */
static int
set_serial(X509 *x)
{
	unsigned char	 r[8];
	BIGNUM		*bn;
	int		 rc = -1;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[0] &= 0x7f;
	r[0] |= 0x01;
	if ((bn = BN_bin2bn(r, sizeof(r), NULL)) == NULL)
		return -1;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
	BN_free(bn);
	return rc;
}

static X509 *
make_cert(EVP_PKEY *pk, const char *hostname)
{
	int		 rsa = EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA;
	X509		*x;
	X509_NAME	*name;
	char		 san[300];
	const char	*cn = strlen(hostname) <= CN_MAX ? hostname : "postern";

	if ((size_t)snprintf(san, sizeof(san), "DNS:%s", hostname) >=
	    sizeof(san) || (x = X509_new()) == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || set_serial(x) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), SELFSIGNED_DAYS, 0,
	    NULL) == NULL || X509_set_pubkey(x, pk) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(x, NID_key_usage, rsa ?
	    "critical,digitalSignature,keyEncipherment" :
	    "critical,digitalSignature") == -1 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") == -1 ||
	    add_ext(x, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(x, NID_subject_alt_name, san) == -1 ||
	    X509_sign(x, pk, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes a PEM file under a temporary name, fsyncs and renames it into
 * place: a crash leaves either no file or a whole one. */
static int
write_atomic(const char *path, mode_t mode, EVP_PKEY *pk, X509 *x,
    char *err, size_t errlen)
{
	char	 tmp[1100];
	FILE	*f = NULL;
	int	 fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1 || fchmod(fd, mode) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	ok = pk != NULL ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_X509(f, x);
	if (!ok || fflush(f) != 0 || fsync(fd) == -1) {
		(void)snprintf(err, errlen, "%s: write failed", tmp);
		goto fail;
	}
	fd = -1;
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		f = NULL;
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (f != NULL)
		(void)fclose(f);
	else if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	return -1;
}

int
tls_selfsigned_ensure(const char *cert, const char *key,
    const char *hostname, char *err, size_t errlen)
{
	return selfsigned_ensure(cert, key, hostname, 0, err, errlen);
}

static int
selfsigned_ensure(const char *cert, const char *key, const char *hostname,
    int rsa, char *err, size_t errlen)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	int		 rc = -1;
	char		 e[256];

	if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
		return 0;
	if ((pk = make_key(rsa)) == NULL || (x = make_cert(pk, hostname)) ==
	    NULL) {
		(void)snprintf(err, errlen, "self-signed certificate: %s",
		    tls_error_string(e, sizeof(e)));
		goto done;
	}
	/* Key first: a crash between the two leaves no certificate, and the
	 * next start makes both again. */
	if (write_atomic(key, 0600, pk, NULL, err, errlen) == -1 ||
	    write_atomic(cert, 0644, NULL, x, err, errlen) == -1)
		goto done;
	log_info("made a self-signed certificate for %s in %s", hostname,
	    cert);
	rc = 0;
done:
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}
