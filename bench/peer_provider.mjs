// The peer of bench/provider.py: panva's oidc-provider configured like our identity provider, so that the same
// client code can time the same flow against both (authorization with a signed-in session, token, userinfo).
//
// Usage: node bench/peer_provider.mjs '<config JSON>'   (started by `python -m bench.provider`, not by hand)
// Config: { "host": "127.0.0.1", "port": 0,
//           "client": { "client_id", "client_secret", "redirect_uri" },
//           "accounts": { "<id>": { "given_name": …, "family_name": …, … } } }
// Once listening it prints one JSON line on stdout: { "issuer": …, "port": … }.
//
// Configured alike: ES256 ID tokens, pairwise sub (HMAC-SHA-256 under a key of this run), 30 s codes, 60 s access
// and ID tokens, one confidential client with client_secret_post and no PKCE, the same scopes and claims, no
// refresh tokens. Not alike, and said in the bench's output: storage is oidc-provider's in-memory adapter in this
// one process (ours: PostgreSQL under two gunicorn workers), and nothing is journaled.
//
// Sign-in: the interaction page signs in the account named by login_hint and grants the requested scopes at once
// (the bench does this once per account); later authorizations with the session cookie need no interaction.
// Loopback only: the host must be 127.0.0.1.
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The version pinned for the tests (tests/peers/package.json, installed by `make test`).
const fromPeers = createRequire(new URL('../tests/peers/package.json', import.meta.url));
const { default: Provider } = await import(pathToFileURL(fromPeers.resolve('oidc-provider')).href);

const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['given_name', 'family_name', 'birthdate', 'gender', 'preferred_username'],
  birth: ['birthplace', 'birthcountry'],
  email: ['email'],
  given_name: ['given_name'],
  family_name: ['family_name'],
  birthdate: ['birthdate'],
  gender: ['gender'],
  birthplace: ['birthplace'],
  birthcountry: ['birthcountry'],
  preferred_username: ['preferred_username'],
};

const config = JSON.parse(process.argv[2] ?? '{}');
const host = config.host ?? '127.0.0.1';
if (host !== '127.0.0.1') throw new Error('the bench peer listens on 127.0.0.1 only');
const accounts = config.accounts ?? {};
const pairwiseKey = randomBytes(32);

function signingKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'ES256', use: 'sig' };
}

function buildProvider(issuer, key) {
  const { client } = config;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: [client.redirect_uri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',
      subject_type: 'pairwise',
    }],
    jwks: { keys: [key] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    acrValues: ['eidas1'],
    claims: SCOPE_CLAIMS,
    subjectTypes: ['pairwise'],
    pairwiseIdentifier: async (_ctx, accountId, found) => createHmac('sha256', pairwiseKey)
      .update(`${found.sectorIdentifier}|${accountId}`).digest('hex'),
    responseTypes: ['code'],
    routes: {
      authorization: '/authorize', token: '/token', userinfo: '/userinfo', jwks: '/jwks', end_session: '/session/end',
    },
    ttl: {
      AuthorizationCode: 30, AccessToken: 60, IdToken: 60, Interaction: 600, Session: 86400, Grant: 86400,
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, id) => (id in accounts
      ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) }
      : undefined),
    issueRefreshToken: async () => false,
  });
  provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error.stack}\n`));
  return provider;
}

let provider;
let handler;

// The sign-in done once per account: the account named by login_hint, the requested scopes granted.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = String(details.params.login_hint ?? '');
  if (!(accountId in accounts)) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('unknown login_hint');
    return;
  }
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId, acr: 'eidas1', amr: ['otp'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const server = createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/interaction/')) return await interaction(req, res);
    return handler(req, res);
  } catch (error) {
    process.stderr.write(`peer error: ${error.stack}\n`);
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('peer error');
    }
    return undefined;
  }
});

const key = signingKey();
server.listen(config.port ?? 0, host, () => {
  const { port } = server.address();
  const issuer = `http://${host}:${port}`;
  provider = buildProvider(issuer, key);
  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
