import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TestPki {
  readonly caPem: string;
  /** A server certificate for loopback names (DNS localhost, IP 127.0.0.1 and ::1). */
  server(extraDns?: string[]): Promise<IssuedCert>;
  /** A client certificate whose URI SAN is `spiffeId`. */
  client(spiffeId: string): Promise<IssuedCert>;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, [
    'sign',
    'verify',
  ])) as unknown as webcrypto.CryptoKeyPair;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/**
 * A throwaway certificate authority for tests (ECDSA P-256, one hour). Production certificates
 * come from services/ca; this only spares each test from building its own.
 */
export async function createTestPki(name = 'shoal-test'): Promise<TestPki> {
  const caKeys = await keyPair();
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name} CA`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  let serial = 2;
  const issue = async (
    cn: string,
    sans: x509.JsonGeneralName[],
    usage: string,
  ): Promise<IssuedCert> => {
    const keys = await keyPair();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (serial++).toString(16).padStart(2, '0'),
      subject: `CN=${cn}`,
      issuer: ca.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        new x509.SubjectAlternativeNameExtension(sans),
      ],
    });
    return { certPem: cert.toString('pem'), keyPem: await pkcs8Pem(keys.privateKey) };
  };
  return {
    caPem: ca.toString('pem'),
    server: (extraDns = []) =>
      issue(
        'localhost',
        [
          { type: 'dns', value: 'localhost' },
          ...extraDns.map((value) => ({ type: 'dns' as const, value })),
          { type: 'ip', value: '127.0.0.1' },
          { type: 'ip', value: '::1' },
        ],
        x509.ExtendedKeyUsage.serverAuth,
      ),
    client: (spiffeId) =>
      issue(spiffeId, [{ type: 'url', value: spiffeId }], x509.ExtendedKeyUsage.clientAuth),
  };
}
