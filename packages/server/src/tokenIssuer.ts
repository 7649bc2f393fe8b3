import { SignJWT, jwtVerify } from 'jose';

/** The tenant of tokens issued without one. */
export const DEFAULT_TENANT = 'default';

export interface TokenClaims {
  subject: string;
  tenant: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
}

export interface TokenIssuer {
  issue(subject: string, options?: { tenant?: string }): Promise<string>;
  /** The claims of a valid token, or null for a missing, expired, forged or malformed one. */
  verify(token: string): Promise<TokenClaims | null>;
}

/** Verified tokens remembered (a client sends the same token with every request until it expires). */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * HS256 JWTs with an expiry and a `tenant` claim. A token once verified is remembered until it
 * expires (its signature cannot change), which spares each request an HMAC through WebCrypto
 * (~0.5 ms of the server's ~13 ms per push of 1,000 mutations).
 */
export function createTokenIssuer(secret: string, ttlSeconds: number, now: () => number): TokenIssuer {
  const verified = new Map<string, TokenClaims>();
  // Imported once: jose would otherwise import the raw secret on every sign and verify.
  const key = globalThis.crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return {
    async issue(subject, options = {}) {
      const iat = Math.floor(now() / 1000);
      return new SignJWT({ tenant: options.tenant ?? DEFAULT_TENANT })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(subject)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .sign(await key);
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt > now()) return known;
        verified.delete(token);
        return null;
      }
      try {
        const { payload } = await jwtVerify(token, await key, { algorithms: ['HS256'], currentDate: new Date(now()), requiredClaims: ['exp', 'sub'] });
        if (typeof payload.tenant !== 'string' || payload.tenant.length === 0 || typeof payload.sub !== 'string') return null;
        const claims = { subject: payload.sub, tenant: payload.tenant, expiresAt: (payload.exp ?? 0) * 1000 };
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
        verified.set(token, claims);
        return claims;
      } catch {
        return null;
      }
    },
  };
}
