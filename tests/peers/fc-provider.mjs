// A FranceConnect stand-in for the tests: panva's oidc-provider configured like FranceConnect v2
// (ES256 ID tokens and signed userinfo, pairwise sub, client_secret_post, acr eidas1, 30 s codes,
// 60 s tokens), with test knobs to make it misbehave and a key rotation.
//
// Usage: node fc-provider.mjs < config.json   (or: node fc-provider.mjs '{"clients": …}')
// Config: { "host": "127.0.0.1", "port": 0, "issuer_path": "/api/v2",
//           "clients": [{ "client_id", "client_secret", "redirect_uris": [], "post_logout_redirect_uris": [] }],
//           "accounts": { "<id>": { "given_name": …, … } } }
// Once listening it prints one JSON line on stdout: { "issuer": …, "port": …, "kid": … }.
//
// Control endpoints (outside the issuer path, for the test fixtures only):
//   POST /__peer/knobs   JSON body replaces the knobs ({} resets them); see KNOBS below
//   POST /__peer/rotate  a new ES256 key signs from now on; the old one stays published
//   GET  /__peer/sub?account=…&sector=…  the pairwise sub this peer gives an account for a sector (host)
//   GET  /__peer/health
import { randomBytes, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import Provider from 'oidc-provider';

// What the knobs do (all optional):
//   account:        id of the account that logs in (default: the first one)
//   deny:           the person refuses: the callback gets error=access_denied
//   acr:            the acr of the login (default "eidas1")
//   id_token:       claims merged into the ID token, re-signed with the current key
//   id_token_alg:   "none" or "HS256" (with the client secret): the ID token is re-signed so
//   userinfo:       claims merged into the userinfo JWT, re-signed with the current key
//   tamper_userinfo: the userinfo JWT payload is altered after signing (signature no longer valid)
//   auth_iss:       the iss parameter of the authorization response is replaced by this value
let knobs = {};

const SCOPE_CLAIMS = {
  openid: ['sub'],
  given_name: ['given_name'],
  family_name: ['family_name'],
  birthdate: ['birthdate'],
  gender: ['gender'],
  birthplace: ['birthplace'],
  birthcountry: ['birthcountry'],
  email: ['email'],
  preferred_username: ['preferred_username'],
  profile: ['given_name', 'family_name', 'birthdate', 'gender', 'preferred_username'],
  birth: ['birthplace', 'birthcountry'],
};

function readConfig() {
  const text = process.argv[2] ?? readFileSync(0, 'utf8');
  return JSON.parse(text);
}

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  jwk.kid = await jose.calculateJwkThumbprint(jwk);
  jwk.alg = 'ES256';
  jwk.use = 'sig';
  return jwk;
}

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function resign(jwt, overrides, alg, secret) {
  const [header, payload] = jwt.split('.');
  const claims = { ...b64json(payload), ...overrides };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) delete claims[name];
  }
  if (alg === 'none') {
    const head = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    return `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  }
  if (alg === 'HS256') {
    const key = new TextEncoder().encode(secret);
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
  }
  const current = keys[0];
  const key = await jose.importJWK(current, 'ES256');
  return new jose.SignJWT(claims).setProtectedHeader({ ...b64json(header), kid: current.kid }).sign(key);
}

const config = readConfig();
const accounts = config.accounts ?? {};
const accountIds = Object.keys(accounts);
const issuerPath = config.issuer_path ?? '/api/v2';
const pairwiseSalt = randomBytes(16).toString('hex');
const cookieKeys = [randomBytes(32).toString('hex')];
const clientsById = Object.fromEntries((config.clients ?? []).map((c) => [c.client_id, c]));
let keys = [await newSigningKey()];
let provider;
let handler;
let issuer;

// FranceConnect's sub is pairwise: one per person and per service (sector), never the account id.
function pairwise(sector, accountId) {
  return createHash('sha256').update(`${sector}|${accountId}|${pairwiseSalt}`).digest('hex') + 'v1';
}

function buildProvider() {
  const instance = new Provider(issuer, {
    clients: (config.clients ?? []).map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',
      userinfo_signed_response_alg: 'ES256',
      subject_type: 'pairwise',
    })),
    jwks: { keys },
    cookies: { keys: cookieKeys },
    acrValues: ['eidas1', 'eidas2', 'eidas3'],
    claims: SCOPE_CLAIMS,
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: async (_ctx, accountId, client) => pairwise(client.sectorIdentifier, accountId),
    responseTypes: ['code'],
    routes: {
      authorization: '/authorize',
      token: '/token',
      userinfo: '/userinfo',
      jwks: '/jwks',
      end_session: '/session/end',
    },
    ttl: {
      AuthorizationCode: 30,
      AccessToken: 60,
      IdToken: 60,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: {
      url: async (_ctx, interaction) => `${issuerPath}/interaction/${interaction.uid}`,
    },
    findAccount: async (_ctx, id) => {
      if (!(id in accounts)) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, ...accounts[id] }),
      };
    },
    issueRefreshToken: async () => false,
  });
  instance.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error.stack}\n`));
  instance.use(misbehave);
  return instance;
}

async function misbehave(ctx, next) {
  await next();
  const route = ctx.oidc?.route;
  if (route === 'token' && ctx.status === 200 && ctx.body?.id_token) {
    if (knobs.id_token || knobs.id_token_alg) {
      const client = clientsById[ctx.oidc.client?.clientId];
      ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token, knobs.id_token ?? {}, knobs.id_token_alg, client?.client_secret) };
    }
  }
  if (route === 'userinfo' && ctx.status === 200 && typeof ctx.body === 'string') {
    let jwt = ctx.body;
    if (knobs.userinfo) jwt = await resign(jwt, knobs.userinfo);
    if (knobs.tamper_userinfo) {
      const [header, payload, signature] = jwt.split('.');
      const claims = { ...b64json(payload), given_name: 'Mallory' };
      jwt = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    }
    ctx.body = jwt;
  }
  if (knobs.auth_iss && (route === 'authorization' || route === 'resume')) {
    const location = ctx.response.get('location');
    if (location && location.includes('iss=')) {
      const url = new URL(location);
      url.searchParams.set('iss', knobs.auth_iss);
      ctx.redirect(url.href);
    }
  }
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (knobs.deny) {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'the end-user refused',
    }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = knobs.account ?? accountIds[0];
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId, acr: knobs.acr ?? 'eidas1' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function control(req, res, path) {
  if (path === '/__peer/health') return send(res, 200, { ok: true, kid: keys[0].kid });
  if (path === '/__peer/sub') {
    const params = new URL(req.url, 'http://peer').searchParams;
    return send(res, 200, { sub: pairwise(params.get('sector'), params.get('account')) });
  }
  if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
  if (path === '/__peer/knobs') {
    knobs = await readJson(req);
    return send(res, 200, { knobs });
  }
  if (path === '/__peer/rotate') {
    keys = [await newSigningKey(), ...keys];
    provider = buildProvider();
    handler = provider.callback();
    return send(res, 200, { kid: keys[0].kid, kids: keys.map((k) => k.kid) });
  }
  return send(res, 404, { error: 'unknown control endpoint' });
}

const server = createServer(async (req, res) => {
  try {
    const path = req.url.split('?')[0];
    if (path.startsWith('/__peer/')) return await control(req, res, path);
    if (!path.startsWith(issuerPath + '/') && path !== issuerPath) return send(res, 404, { error: 'not found' });
    // Mounted under the issuer's path, the way oidc-provider expects (it reads originalUrl).
    req.originalUrl = req.url;
    req.url = req.url.slice(issuerPath.length) || '/';
    if (req.url.split('?')[0].startsWith('/interaction/')) return await interaction(req, res);
    return handler(req, res);
  } catch (error) {
    process.stderr.write(`peer error: ${error.stack}\n`);
    if (!res.headersSent) send(res, 500, { error: String(error) });
    return undefined;
  }
});

server.listen(config.port ?? 0, config.host ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  issuer = `http://${address}:${port}${issuerPath}`;
  provider = buildProvider();
  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer, port, kid: keys[0].kid })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
