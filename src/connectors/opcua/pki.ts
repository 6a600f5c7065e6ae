/**
 * The gateway's OPC UA PKI folder (docs/field-problems.md #2): one persistent application certificate made on
 * first start, server certificates trusted only by a person (`linepilot pki trust` or moving the
 * file), never auto-accepted. Layout is node-opcua's: own/, trusted/certs, rejected/, issuers/.
 */
import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { exploreCertificate, makeSHA1Thumbprint, readCertificate } from "node-opcua-crypto";
import { LinepilotError } from "../../common/errors.js";
import type { LineConfig, OpcuaConnectionConfig } from "../../config/schema.js";

export interface CertificateInfo {
  file: string;
  thumbprint: string;
  subject: string;
  applicationUri: string | undefined;
  validFrom: string;
  validTo: string;
}

export function pkiDirOf(connection: OpcuaConnectionConfig, config: LineConfig): string {
  return connection.pkiDir ?? join(dirname(config.store.path), "pki");
}

/** The application URI in the gateway's certificate: stable per line, not per host or start. */
export function applicationUriOf(config: LineConfig): string {
  const l = config.line;
  return `urn:linepilot:${l.enterprise}:${l.site}:${l.area}:${l.name}`;
}

export class Pki {
  readonly dir: string;
  readonly manager: OPCUACertificateManager;

  constructor(dir: string) {
    this.dir = dir;
    this.manager = new OPCUACertificateManager({
      rootFolder: dir,
      automaticallyAcceptUnknownCertificate: false,
      name: "PKI",
    });
  }

  get ownCertificateFile(): string {
    return join(this.dir, "own", "certs", "client_certificate.pem");
  }

  get ownPrivateKeyFile(): string {
    return join(this.dir, "own", "private", "private_key.pem");
  }

  get trustedDir(): string {
    return join(this.dir, "trusted", "certs");
  }

  get rejectedDir(): string {
    return join(this.dir, "rejected");
  }

  /** Creates the folders and, the first time only, the gateway's own certificate. */
  async initialize(applicationUri: string, lineName: string): Promise<void> {
    await this.manager.initialize();
    if (!existsSync(this.ownCertificateFile)) {
      await this.manager.createSelfSignedCertificate({
        applicationUri,
        dns: [hostname()],
        outputFile: this.ownCertificateFile,
        subject: `/CN=linepilot ${lineName}/O=linepilot`,
        startDate: new Date(),
        validity: 365 * 5,
      });
    }
  }

  /** Re-reads the folders, so a certificate a technician moved is seen on the next connect. */
  async reload(): Promise<void> {
    await this.manager.reloadCertificates();
  }

  async dispose(): Promise<void> {
    await this.manager.dispose();
  }

  list(): { own: CertificateInfo | undefined; trusted: CertificateInfo[]; rejected: CertificateInfo[] } {
    return {
      own: existsSync(this.ownCertificateFile) ? describe(this.ownCertificateFile) : undefined,
      trusted: pemFiles(this.trustedDir).map(describe),
      rejected: pemFiles(this.rejectedDir).map(describe),
    };
  }

  /** The rejected certificate saved most recently: the one a refused connect just put there. */
  newestRejected(): CertificateInfo | undefined {
    const files = pemFiles(this.rejectedDir).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    return files[0] === undefined ? undefined : describe(files[0]);
  }

  /** Moves a rejected certificate (by file name or thumbprint prefix) to trusted/. */
  trust(which: string): CertificateInfo {
    const wanted = which.toLowerCase();
    const matches = pemFiles(this.rejectedDir)
      .map(describe)
      .filter((c) => basename(c.file) === which || c.file === which || c.thumbprint.startsWith(wanted));
    if (matches.length !== 1) {
      const known = pemFiles(this.rejectedDir).map((f) => basename(f));
      throw new LinepilotError(
        "LP_ERR_USAGE",
        matches.length === 0
          ? `no rejected certificate matches '${which}' in ${this.rejectedDir}` +
              (known.length > 0 ? `; rejected: ${known.join(", ")}` : " (it is empty)")
          : `'${which}' matches ${matches.length} certificates; give more of the thumbprint`,
      );
    }
    const cert = matches[0]!;
    const target = join(this.trustedDir, basename(cert.file));
    renameSync(cert.file, target);
    return { ...cert, file: target };
  }
}

function pemFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pem") || f.endsWith(".der"))
    .map((f) => join(dir, f));
}

const SHORT_NAMES: Record<string, string> = {
  commonName: "CN",
  organizationName: "O",
  organizationalUnitName: "OU",
  localityName: "L",
  stateOrProvinceName: "ST",
  countryName: "C",
  domainComponent: "DC",
};

/**
 * A certificate subject as an administrator reads it ("CN=plc1, O=acme"). node-opcua-crypto's
 * subject object also carries the raw `entries` list, which is not a name part.
 */
export function subjectText(subject: Record<string, unknown>): string {
  return Object.entries(subject)
    .filter(([, v]) => typeof v === "string" || typeof v === "number")
    .map(([k, v]) => `${SHORT_NAMES[k] ?? k}=${String(v)}`)
    .join(", ");
}

function describe(file: string): CertificateInfo {
  const der = readCertificate(file);
  const info = exploreCertificate(der);
  const subject = info.tbsCertificate.subject;
  const uri = info.tbsCertificate.extensions?.subjectAltName?.uniformResourceIdentifier?.[0];
  return {
    file,
    thumbprint: makeSHA1Thumbprint(der).toString("hex"),
    subject: subjectText(subject as unknown as Record<string, unknown>),
    applicationUri: uri,
    validFrom: info.tbsCertificate.validity.notBefore.toISOString(),
    validTo: info.tbsCertificate.validity.notAfter.toISOString(),
  };
}
