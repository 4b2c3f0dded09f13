import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaRootError, CsrInvalidError } from './errors.js';
import {
  EC_ALG,
  SIGN_ALG,
  generateKeyPair,
  importKeyPair,
  x509,
  type CryptoKeyPair,
} from './pki.js';

export interface IssuedCertificate {
  readonly spiffeId: string;
  /** Leaf first, then the issuing chain (without the root). */
  readonly certChainPem: readonly string[];
  readonly trustBundlePem: string;
  readonly notAfter: Date;
}

/** Tolerated clock skew between the CA and its peers. Kept small so second-long test certs work. */
const SKEW_MS = 1000;
const ROOT_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return b.toString('hex');
}

/**
 * The certificate authority core: a root key and certificate (ECDSA P-256), and signing of CSRs
 * into short-lived SPIFFE certificates. Who may get which identity is decided by the caller
 * (see policy.ts); this class only signs what it is told to.
 */
export class CertificateAuthority {
  private constructor(
    readonly trustDomain: string,
    private readonly root: x509.X509Certificate,
    private readonly keys: CryptoKeyPair,
  ) {}

  get rootPem(): string {
    return this.root.toString('pem') + '\n';
  }

  /** Load ca.crt/ca.key from `dir`, or create and store a new root there. */
  static async loadOrCreate(dir: string, trustDomain: string): Promise<CertificateAuthority> {
    const certPath = join(dir, 'ca.crt');
    const keyPath = join(dir, 'ca.key');
    if (existsSync(certPath) || existsSync(keyPath)) {
      try {
        const [certPem, keyPem] = await Promise.all([
          readFile(certPath, 'utf8'),
          readFile(keyPath, 'utf8'),
        ]);
        const root = new x509.X509Certificate(certPem);
        const keys = await importKeyPair(keyPem, certPem);
        const ca = new CertificateAuthority(trustDomain, root, keys);
        if (!(await ca.root.verify({ signatureOnly: true })))
          throw new Error('self-signature does not verify');
        return ca;
      } catch (err) {
        throw new CaRootError(dir, (err as Error).message, err);
      }
    }
    const { ca, keyPem } = await CertificateAuthority.create(trustDomain);
    await mkdir(dir, { recursive: true });
    // Write then rename, so a crash never leaves half a root behind.
    await writeFile(`${keyPath}.tmp`, keyPem, { mode: 0o600 });
    await writeFile(`${certPath}.tmp`, ca.rootPem);
    await rename(`${keyPath}.tmp`, keyPath);
    await rename(`${certPath}.tmp`, certPath);
    await chmod(keyPath, 0o600);
    return ca;
  }

  /** A new root, in memory only (tests, and the first start of loadOrCreate). */
  static async create(trustDomain: string): Promise<{ ca: CertificateAuthority; keyPem: string }> {
    const { keys, keyPem } = await generateKeyPair();
    const now = Date.now();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `O=shoal, CN=shoal root CA ${trustDomain}`,
      notBefore: new Date(now - SKEW_MS),
      notAfter: new Date(now + ROOT_TTL_MS),
      keys,
      signingAlgorithm: SIGN_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: `spiffe://${trustDomain}` },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { ca: new CertificateAuthority(trustDomain, root, keys), keyPem };
  }

  /**
   * Sign a CSR into a certificate for `spiffeId`, valid for `ttlMs`. The CSR proves possession of
   * the key; its requested names are ignored (the identity comes from the authorization).
   */
  async sign(
    csrPem: string,
    spiffeId: string,
    ttlMs: number,
    now = Date.now(),
  ): Promise<IssuedCertificate> {
    if (!spiffeId.startsWith(`spiffe://${this.trustDomain}/`)) {
      throw new CsrInvalidError(spiffeId, `not in trust domain ${this.trustDomain}`);
    }
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new CsrInvalidError(spiffeId, 'not a PEM PKCS#10 request', err);
    }
    if (!(await csr.verify())) throw new CsrInvalidError(spiffeId, 'CSR signature does not verify');
    const alg = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
      throw new CsrInvalidError(spiffeId, `key must be ECDSA P-256, got ${alg.name}`);
    }
    const notAfter = new Date(now + ttlMs);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: 'O=shoal',
      issuer: this.root.subject,
      notBefore: new Date(now - SKEW_MS),
      notAfter,
      publicKey: csr.publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: SIGN_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true),
        await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
      ],
    });
    return {
      spiffeId,
      certChainPem: [leaf.toString('pem') + '\n'],
      trustBundlePem: this.rootPem,
      notAfter,
    };
  }

  /**
   * Verify a peer certificate (DER, as TLS hands it over) was issued by this root and is valid
   * now; returns its SPIFFE id. Used where TLS accepted the handshake without verifying (the
   * join port, which also serves nodes that have no certificate yet).
   */
  async verifyPeer(der: Uint8Array, now = new Date()): Promise<string | undefined> {
    const cert = new x509.X509Certificate(Buffer.from(der));
    const ok = await cert.verify({
      publicKey: await this.root.publicKey.export(
        EC_ALG,
        ['verify'],
        webcrypto as unknown as webcrypto.Crypto,
      ),
      date: now,
    });
    if (!ok) return undefined;
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    return san?.names.items.find((n) => n.type === 'url')?.value;
  }
}
