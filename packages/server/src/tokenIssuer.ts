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

/** HS256 JWTs with an expiry and a `tenant` claim. */
export function createTokenIssuer(secret: string, ttlSeconds: number, now: () => number): TokenIssuer {
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
      try {
        const { payload } = await jwtVerify(token, await key, { algorithms: ['HS256'], currentDate: new Date(now()), requiredClaims: ['exp', 'sub'] });
        if (typeof payload.tenant !== 'string' || payload.tenant.length === 0 || typeof payload.sub !== 'string') return null;
        return { subject: payload.sub, tenant: payload.tenant, expiresAt: (payload.exp ?? 0) * 1000 };
      } catch {
        return null;
      }
    },
  };
}
