/** What the global setup hands to the Worker tests (vitest `provide`/`inject`). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Bindings that point the Worker under test at this run's gateways. */
    workerVars: Record<string, string>;
    /** Bindings for a second gateway pair behind cuttable TCP proxies (null on the embedded stand-ins). */
    faultWorkerVars: Record<string, string> | null;
    /** POST {url}/{database|redis}/{down|up} cuts or restores the fault stack's connections. */
    faultControlUrl: string | null;
    /** The round-trip counter endpoints of the main gateways. */
    gatewayCounters: { neon: string; upstash: string };
    services: string;
    /** The schema owner through the Neon gateway: fixtures that must bypass row-level security. */
    ownerDatabaseUrl: string;
    /**
     * The second database of the run (sharding tests: the Worker knows it as DATABASE_URLS' `dedicated-1`), as the
     * schema owner through the same Neon gateway, and its name (the gateway counts round trips per database);
     * null on embedded PGlite, which has one database.
     */
    dedicatedDatabase: { ownerUrl: string; name: string; mainName: string } | null;
    /** The local webhook receiver (tests/setup/webhook-receiver.ts): /hooks/<name>, /__control/<name>, /__requests/<name>. */
    webhookReceiverUrl: string;
    /** The issuer of the tests' OpenID Provider (oidc-provider; tests/setup/oidc-idp.ts). */
    oidcIssuer: string;
    /** Its stand-ins for the social providers (tests/setup/oidc-idp.ts `SocialIdp`). */
    socialIdp: SocialIdp;
    /** The fake Cloudflare API and DoH resolver (tests/setup/fake-cloudflare.ts): test controls under /__. */
    fakeCloudflareUrl: string;
    /** The fuzz suite's seed and cases per operation and principal (FUZZ_SEED, `random` for a fresh one; FUZZ_RUNS). */
    fuzz: { seed: number; runs: number };
    /** TEST_PASSWORD hashed once per run by the production `hashPassword` (fixtures store it for every member). */
    testPasswordHash: string;
  }
}

/**
 * Google's stand-in is the root provider. Microsoft Entra ID's is a second provider at `<origin>/ms/<tenant id>/v2.0`
 * (its ID tokens carry the account's `tid`) behind the multi-tenant discovery documents at
 * `<origin>/ms/{organizations,common}/v2.0`, which name the issuer template `<origin>/ms/{tenantid}/v2.0` as
 * Microsoft's do. LinkedIn's is a third at `<origin>/linkedin/oauth`, taking client_secret_post only.
 */
export interface SocialIdp {
  googleIssuer: string;
  microsoftTenantId: string;
  linkedinIssuer: string;
}

/** An account of the tests' OpenID Provider (POST /__accounts): the claims it signs in with. */
export interface IdpAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
  /** Entra ID's claims (the Microsoft stand-in): the account's tenant and whether it verified the email's domain. */
  tid?: string;
  xms_edov?: boolean;
}
