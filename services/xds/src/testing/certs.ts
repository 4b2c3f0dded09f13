/**
 * A throwaway CA and SPIFFE certificates for tests and benchmarks (the CA service proper is
 * another issue). ECDSA P-256, PEM out, written to files on request for clients that read them.
 */
import { webcrypto } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// @peculiar/x509 types expect the DOM Crypto; node:crypto.webcrypto is that object.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface TestCa extends Pem {
  /** A certificate with these URI SANs (and DNS localhost / IP 127.0.0.1), client and server use. */
  issue(uris: readonly string[], opts?: { commonName?: string }): Promise<Pem>;
  /** Write a PEM pair (and this CA's certificate as ca.pem) to a new temp folder. */
  writeFiles(pem: Pem, dir?: string): { dir: string; ca: string; cert: string; key: string };
}

async function keyPem(k: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', k);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function createTestCa(name = 'Shoal test CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  const ca: TestCa = {
    cert: caCert.toString('pem'),
    key: await keyPem(keys.privateKey),
    async issue(uris, opts = {}) {
      const leaf = (await webcrypto.subtle.generateKey(ALG, true, [
        'sign',
        'verify',
      ])) as CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        subject: `CN=${opts.commonName ?? 'localhost'}`,
        issuer: caCert.subject,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        publicKey: leaf.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.SubjectAlternativeNameExtension([
            ...uris.map((value) => ({ type: 'url' as const, value })),
            { type: 'dns', value: 'localhost' },
            { type: 'ip', value: '127.0.0.1' },
          ]),
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            x509.ExtendedKeyUsage.clientAuth,
          ]),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ],
      });
      return { cert: cert.toString('pem'), key: await keyPem(leaf.privateKey) };
    },
    writeFiles(pem, dir = mkdtempSync(join(tmpdir(), 'shoal-certs-'))) {
      const files = {
        dir,
        ca: join(dir, 'ca.pem'),
        cert: join(dir, 'cert.pem'),
        key: join(dir, 'key.pem'),
      };
      writeFileSync(files.ca, ca.cert);
      writeFileSync(files.cert, pem.cert);
      writeFileSync(files.key, pem.key, { mode: 0o600 });
      return files;
    },
  };
  return ca;
}
