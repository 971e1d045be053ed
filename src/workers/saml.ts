import { WorkerEntrypoint } from 'cloudflare:workers';
import { samlAuthnRequest, type SamlAuthnRequestInput } from '../services/sso/saml/authn-request.ts';
import type { SamlConnectionConfig, SamlServiceProvider } from '../services/sso/saml/config.ts';
import { outcomeOf } from '../lib/feature-workers.ts';
import { samlRefusal } from '../services/sso/saml/errors.ts';
import { parseIdpMetadata, samlServiceProviderMetadata } from '../services/sso/saml/metadata.ts';
import { verifySamlResponse, type VerifySamlResponseInput } from '../services/sso/saml/response.ts';

/**
 * The XML side of SAML sign-in, a Worker of its own (workers/saml/wrangler.toml) that the API Worker calls over the
 * service binding SAML_XML (RPC: same location, no network hop, no public route). node-saml, xml-crypto, xmldom,
 * xpath, xmlbuilder, xml2js and sax are about 420 KiB of minified code that only organizations with enterprise SSO
 * use, at sign-in and when configuring a connection; kept out of the API Worker, they are not compiled at every cold
 * start (issue #13, docs/PERFORMANCE.md). Pure functions: XML and a connection's configuration in, a verdict out; no
 * bindings, no I/O. The single-use checks (InResponseTo, assertion replay) stay in the API Worker, in Redis
 * (src/services/sso/saml/consume.ts). A refusal is answered as a value (Outcome with a SamlRefusal), since RPC would drop its code.
 */
export default class SamlXml extends WorkerEntrypoint {
  /** The verified identity of a SAMLResponse, or why it was refused (src/services/sso/saml/response.ts). */
  verifyResponse(input: VerifySamlResponseInput) {
    return outcomeOf(() => verifySamlResponse(input), samlRefusal);
  }

  /** A fresh AuthnRequest as an HTTP-Redirect URL, and its ID. */
  authnRequest(input: SamlAuthnRequestInput) {
    return outcomeOf(() => samlAuthnRequest(input), samlRefusal);
  }

  /** What IdP metadata tells a connection, or why it is refused. */
  parseIdpMetadata(xml: string, entityId?: string) {
    return outcomeOf(() => parseIdpMetadata(xml, entityId), samlRefusal);
  }

  /** The SP metadata an IdP administrator uploads. */
  serviceProviderMetadata(sp: SamlServiceProvider, config: Pick<SamlConnectionConfig, 'nameIdFormat'>) {
    return outcomeOf(() => samlServiceProviderMetadata(sp, config), samlRefusal);
  }

  /** No HTTP surface: the Worker has no route, and only RPC reaches it. */
  override fetch(): Response {
    return new Response(null, { status: 404 });
  }
}
