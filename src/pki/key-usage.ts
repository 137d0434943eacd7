// The extended key usage that makes a certificate a TLS client's (RFC 5280): the server refuses a
// client certificate without it, asks it of its own certificate before presenting it to a syslog
// collector, and jobctl names it when it explains a refusal. Defined once, with no imports, so
// jobctl can load it without the rest of the PKI.

/** id-kp-clientAuth, as Node's X509Certificate.keyUsage and PeerCertificate.ext_key_usage list it. */
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
