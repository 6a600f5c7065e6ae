/**
 * Model files at rest (docs/design.md §3): AES-256-GCM, authenticated. The layout is
 *   "LPMODEL1" | 12-byte nonce | 16-byte tag | ciphertext
 * and the header (magic and nonce) is bound into the tag as associated data, so any changed byte
 * (header, tag or body) fails authentication. A fresh random nonce per file: a key encrypts few
 * files (one per trained model), far below GCM's 2^32 random-nonce limit.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { LinepilotError } from "../common/errors.js";

const MAGIC = Buffer.from("LPMODEL1", "ascii");
const NONCE = 12;
const TAG = 16;

export const KEY_BYTES = 32;

export function isEncryptedModel(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && Buffer.from(bytes.subarray(0, MAGIC.length)).equals(MAGIC);
}

export function encryptModel(plain: Uint8Array, key: Buffer): Buffer {
  checkKey(key);
  const nonce = randomBytes(NONCE);
  const header = Buffer.concat([MAGIC, nonce]);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([header, cipher.getAuthTag(), body]);
}

/** Decrypts and authenticates; `what` names the file in the refusal. */
export function decryptModel(file: Uint8Array, key: Buffer, what: string): Buffer {
  checkKey(key);
  if (!isEncryptedModel(file) || file.length < MAGIC.length + NONCE + TAG)
    throw new LinepilotError("LP_ERR_MODEL", `${what} is not an encrypted linepilot model file: refused`);
  const header = file.subarray(0, MAGIC.length + NONCE);
  const tag = file.subarray(header.length, header.length + TAG);
  const decipher = createDecipheriv("aes-256-gcm", key, header.subarray(MAGIC.length));
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(file.subarray(header.length + TAG)), decipher.final()]);
  } catch {
    throw new LinepilotError(
      "LP_ERR_MODEL",
      `${what} failed authentication (AES-256-GCM): the file was altered or encrypted with another key; refused`,
    );
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES)
    throw new LinepilotError("LP_ERR_MODEL", `the model key must be ${KEY_BYTES} bytes, got ${key.length}`);
}

/** A key as it is stored in a file, a credential or Vault: 64 hex digits or base64 of 32 bytes. */
export function parseKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(t) && key.toString("base64") !== t))
    throw new LinepilotError(
      "LP_ERR_CONFIG",
      `the model key from ${source} is not 32 bytes as 64 hex digits or base64 (generate one with: openssl rand -hex 32)`,
    );
  return key;
}
