// A real OpenID Connect provider (panva/oidc-provider, OpenID certified) on loopback, for tests only.
// Usage: node provider.mjs PORT REDIRECT_URI   -> prints READY when listening.
// Accounts: alice (groups cc-supervisors), olaf (cc-operators), bob (visitors: no Oversight role).
// The development login form accepts any password: the test exercises the relying party, not this.
import Provider from "oidc-provider";

const [port, redirectUri] = [Number(process.argv[2]), process.argv[3]];
const ACCOUNTS = {
  alice: { preferred_username: "alice", name: "Alice Example", groups: ["staff", "cc-supervisors"] },
  olaf: { preferred_username: "olaf", name: "Olaf Example", groups: ["cc-operators"] },
  bob: { preferred_username: "bob", name: "Bob Example", groups: ["visitors"] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: "oversight",
    client_secret: "test-client-secret",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  scopes: ["openid", "profile", "groups"],
  claims: { openid: ["sub"], profile: ["preferred_username", "name"], groups: ["groups"] },
  conformIdTokenClaims: false, // put the requested claims in the ID token itself
  findAccount: async (ctx, id) => (ACCOUNTS[id] ? { accountId: id, claims: async () => ({ sub: id, ...ACCOUNTS[id] }) } : undefined),
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ["test-only-cookie-key"] },
});
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => console.log("READY"));
