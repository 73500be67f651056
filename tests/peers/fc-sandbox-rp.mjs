// An independent relying party (panva's openid-client 6) that checks our FranceConnect sandbox
// speaks the protocol: discovery, authorization request, code exchange with client_secret_post,
// ID token validation (signature from the JWKS, iss, aud, exp, nonce), signed userinfo.
//
// Usage: node fc-sandbox-rp.mjs '<json>'   with json = { "step": "authorize" | "callback", "issuer",
//   "client_id", "client_secret", "redirect_uri", and for "callback": "callback_url", "state", "nonce" }
// It prints one JSON line: { "url", "state", "nonce" } or { "id_token_claims", "userinfo" }.
import * as client from 'openid-client-6';

const input = JSON.parse(process.argv[2]);

const config = await client.discovery(
  new URL(input.issuer),
  input.client_id,
  { id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: 'ES256' },
  client.ClientSecretPost(input.client_secret),
  { execute: [client.allowInsecureRequests] },
);

if (input.step === 'authorize') {
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: 'openid profile birth email',
    acr_values: 'eidas1',
    state,
    nonce,
  });
  process.stdout.write(`${JSON.stringify({ url: url.href, state, nonce })}\n`);
} else {
  const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
    expectedState: input.state,
    expectedNonce: input.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  process.stdout.write(`${JSON.stringify({ id_token_claims: claims, userinfo })}\n`);
}
