/**
 * X.509 helpers shared by the CA and its clients (ECDSA P-256 via WebCrypto and @peculiar/x509).
 * Private keys are generated where they are used and never leave that process: clients send a
 * CSR, the CA returns a certificate.
 */
// @peculiar/x509 2.x resolves its algorithms through tsyringe, which needs a Reflect polyfill.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The repo compiles without the DOM lib: name WebCrypto's types through node:crypto.
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type CryptoKey = webcrypto.CryptoKey;
type Crypto = webcrypto.Crypto;

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyPairPem {
  readonly keys: CryptoKeyPair;
  /** PKCS#8 PEM, for node:tls. */
  readonly keyPem: string;
}

export async function generateKeyPair(): Promise<KeyPairPem> {
  const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, [
    'sign',
    'verify',
  ])) as unknown as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  return { keys, keyPem: toPem(new Uint8Array(pkcs8), 'PRIVATE KEY') };
}

export async function importKeyPair(keyPem: string, certPem: string): Promise<CryptoKeyPair> {
  const der = fromPem(keyPem);
  const privateKey = (await webcrypto.subtle.importKey('pkcs8', der, EC_ALG, true, [
    'sign',
  ])) as unknown as CryptoKey;
  const publicKey = await new x509.X509Certificate(certPem).publicKey.export(
    EC_ALG,
    ['verify'],
    webcrypto as unknown as Crypto,
  );
  return { privateKey, publicKey };
}

/** A CSR naming `spiffeId` (the CA decides the identity anyway; this is informational). */
export async function createCsr(keys: CryptoKeyPair, spiffeId: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'O=shoal',
    keys,
    signingAlgorithm: SIGN_ALG,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  });
  return csr.toString('pem');
}

/** The first URI SAN of a certificate (its SPIFFE id), or undefined. */
export function spiffeIdOf(cert: x509.X509Certificate | string | Uint8Array): string | undefined {
  const c =
    cert instanceof x509.X509Certificate
      ? cert
      : new x509.X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  const san = c.getExtension(x509.SubjectAlternativeNameExtension);
  return san?.names.items.find((n) => n.type === 'url')?.value;
}

export function certValidity(certPem: string): { notBefore: Date; notAfter: Date } {
  const c = new x509.X509Certificate(certPem);
  return { notBefore: c.notBefore, notAfter: c.notAfter };
}

/** Split a PEM bundle into its certificates. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

export function fromPem(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

export { x509 };
