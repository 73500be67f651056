// An administrative service played by panva's openid-client (5.x or 6.x) against our identity provider.
// One step per invocation; state travels as JSON on argv and stdout:
//   node service_rp.mjs start    '{"version":5,"issuer":…,"client_id":…,"client_secret":…,"redirect_uri":…}'
//   node service_rp.mjs callback '{…same, "callback_url":…, "state":…, "nonce":…, "code_verifier":…}'
//   node service_rp.mjs logout   '{…same, "id_token":…, "post_logout_redirect_uri":…, "state":…}'
// Prints {"ok":true,…} or {"ok":false,"error":…,"name":…}; always exits 0 so the test reads the outcome.
import * as v5 from "openid-client";
import * as v6 from "openid-client-6";

const [step, raw] = process.argv.slice(2);
const opts = JSON.parse(raw);

function metadata() {
  const meta = {
    client_id: opts.client_id,
    redirect_uris: [opts.redirect_uri],
    response_types: ["code"],
    token_endpoint_auth_method: opts.auth_method || "client_secret_post",
    id_token_signed_response_alg: opts.id_token_alg || "ES256",
  };
  if (opts.client_secret) meta.client_secret = opts.client_secret;
  if (opts.userinfo_alg) meta.userinfo_signed_response_alg = opts.userinfo_alg;
  if (opts.post_logout_redirect_uri) meta.post_logout_redirect_uris = [opts.post_logout_redirect_uri];
  return meta;
}

function authParams(extra) {
  const params = { scope: opts.scope || "openid profile email birth", redirect_uri: opts.redirect_uri, ...extra };
  if (opts.claims) params.claims = JSON.stringify(opts.claims);
  if (opts.prompt) params.prompt = opts.prompt;
  if (opts.acr_values) params.acr_values = opts.acr_values;
  return params;
}

async function runV5() {
  const issuer = await v5.Issuer.discover(opts.issuer);
  const client = new issuer.Client(metadata());
  client[v5.custom.clock_tolerance] = 5;
  if (step === "start") {
    const state = v5.generators.state();
    const nonce = opts.omit_nonce ? undefined : v5.generators.nonce();
    const verifier = v5.generators.codeVerifier();
    const extra = { state, nonce };
    if (opts.pkce) Object.assign(extra, { code_challenge: v5.generators.codeChallenge(verifier), code_challenge_method: "S256" });
    return { url: client.authorizationUrl(authParams(extra)), state, nonce: nonce || null, code_verifier: verifier };
  }
  if (step === "callback") {
    const params = client.callbackParams(opts.callback_url);
    const checks = { state: opts.state, nonce: opts.nonce || undefined };
    if (opts.pkce) checks.code_verifier = opts.code_verifier;
    const tokens = await client.callback(opts.redirect_uri, params, checks);
    const userinfo = await client.userinfo(tokens);
    return { id_token: tokens.id_token, id_token_claims: tokens.claims(), access_token: tokens.access_token, userinfo };
  }
  if (step === "logout") {
    return { url: client.endSessionUrl({ id_token_hint: opts.id_token, post_logout_redirect_uri: opts.post_logout_redirect_uri, state: opts.state }) };
  }
  throw new Error(`unknown step ${step}`);
}

async function runV6() {
  const auth = opts.auth_method === "client_secret_basic" ? v6.ClientSecretBasic(opts.client_secret)
    : opts.auth_method === "none" ? v6.None() : v6.ClientSecretPost(opts.client_secret);
  const config = await v6.discovery(new URL(opts.issuer), opts.client_id, metadata(), auth, { execute: [v6.allowInsecureRequests] });
  if (step === "start") {
    const state = v6.randomState();
    const nonce = opts.omit_nonce ? undefined : v6.randomNonce();
    const verifier = v6.randomPKCECodeVerifier();
    const extra = { state };
    if (nonce) extra.nonce = nonce;
    if (opts.pkce) Object.assign(extra, { code_challenge: await v6.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" });
    return { url: v6.buildAuthorizationUrl(config, authParams(extra)).href, state, nonce: nonce || null, code_verifier: verifier };
  }
  if (step === "callback") {
    const checks = { expectedState: opts.state };
    if (opts.nonce) checks.expectedNonce = opts.nonce;
    if (opts.pkce) checks.pkceCodeVerifier = opts.code_verifier;
    const tokens = await v6.authorizationCodeGrant(config, new URL(opts.callback_url), checks);
    const claims = tokens.claims();
    const userinfo = await v6.fetchUserInfo(config, tokens.access_token, claims.sub);
    return { id_token: tokens.id_token, id_token_claims: claims, access_token: tokens.access_token, userinfo };
  }
  if (step === "logout") {
    return { url: v6.buildEndSessionUrl(config, { id_token_hint: opts.id_token, post_logout_redirect_uri: opts.post_logout_redirect_uri, state: opts.state }).href };
  }
  throw new Error(`unknown step ${step}`);
}

try {
  const result = await (String(opts.version) === "6" ? runV6() : runV5());
  process.stdout.write(JSON.stringify({ ok: true, ...result }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, name: error.name || "Error", error: String(error.message || error), code: error.code || null, oauth_error: error.error || null }));
}
